"""Committed movements per second and latency of the bank workload, one vs two servers.

Same workload as the tests (`tests/workload.py`): 16 clients, random deposits, withdrawals
and transfers with Idempotency-Keys, against the embedded database. Prints a table and
writes bench/results/workload.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.procs import BENCH_ENV
from server.db import EmbeddedDatabase
from tests.support import ADMIN_PASSWORD, Api, ServerProcess
from tests.workload import check_invariants, open_workload_accounts, run_workload

CLIENTS = int(os.environ.get("WORKLOAD_CLIENTS", "16"))
SECONDS = float(os.environ.get("WORKLOAD_SECONDS", "20"))


def measure(server_count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        database = EmbeddedDatabase(Path(tmp) / "db")
        url = database.start()
        servers = [
            ServerProcess(
                mongodb_url=url,
                database_name="bench",
                data_dir=Path(tmp) / f"s{n}",
                env=dict(BENCH_ENV),
            )
            for n in range(server_count)
        ]
        client: MongoClient[Any] = MongoClient(url)
        try:
            for server in servers:
                server.start()
            admin = Api(servers[0].url).login("admin", ADMIN_PASSWORD)
            accounts = open_workload_accounts(admin, 8)
            db = client["bench"]
            opening = sum((d["balance"].to_decimal() for d in db.accounts.find()), Decimal(0))
            assert admin.token is not None
            result = asyncio.run(
                run_workload(
                    [s.url for s in servers],
                    admin.token,
                    accounts,
                    clients=CLIENTS,
                    seconds=SECONDS,
                )
            )
            check_invariants(db, result, opening)
            return {"servers": server_count, **result.summary()}
        finally:
            client.close()
            for server in servers:
                server.stop()
            database.stop()


def main() -> int:
    rows = [measure(1), measure(2)]
    print(f"{'servers':>8} {'committed/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'committed':>10}")
    for row in rows:
        print(
            f"{row['servers']:>8} {row['committed_per_s']:>12} {row['p50_ms']:>8} "
            f"{row['p99_ms']:>8} {row['committed']:>10}"
        )
    out = Path(__file__).parent / "results" / "workload.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
