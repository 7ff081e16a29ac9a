"""The yardstick of the read benchmark: a bare FastAPI app whose one route returns a constant.

`python -m bench.bare_app --port N` serves it with the arguments `bank-server serve` gives
`uvicorn.run` (server/cli.py), so the two differ only in the application.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    """Build the app: `GET /const` answers a small constant JSON object."""
    app = FastAPI()

    @app.get("/const")
    async def const() -> dict[str, Any]:
        return {"id": 1, "status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    """Serve the app on 127.0.0.1."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=5.0,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
