"""Entry point of the frozen `bank-desktop` bundle: the desktop, or `bank-server` itself.

A PyInstaller bundle has no Python interpreter and no `bank-server` script, so the bundle's
executable plays both parts: `bank-desktop --run-server serve ...` (the bundled server that
`--local` and `--self-test` start) and `bank-desktop --run-server db ...` (the embedded
database the server starts) run `server.cli`; anything else runs the desktop. The command
lines come from `shared.launcher.server_command`.
"""

from __future__ import annotations

import multiprocessing
import sys

from shared.launcher import RUN_SERVER_FLAG


def main() -> int:
    """Dispatch on the first argument."""
    multiprocessing.freeze_support()
    if len(sys.argv) > 1 and sys.argv[1] == RUN_SERVER_FLAG:
        from server.cli import main as server_main

        sys.argv = ["bank-server", *sys.argv[2:]]
        return server_main(sys.argv[1:])
    from desktop.cli import main as desktop_main

    return desktop_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
