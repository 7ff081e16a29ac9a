"""The command line that starts `bank-server` as a child process, from source or a bundle.

Both sides start the server as a process (the desktop its bundled server, the server its
embedded database), so the command is built here, in the one package both may import. In a
frozen PyInstaller bundle there is no Python interpreter and no `bank-server` script: the
bundle's own executable acts as `bank-server` when its first argument is `RUN_SERVER_FLAG`
(see `packaging/bank_desktop_entry.py`).
"""

from __future__ import annotations

import sys

RUN_SERVER_FLAG = "--run-server"


def is_frozen() -> bool:
    """Tell whether this process runs from a frozen (PyInstaller) bundle."""
    return bool(getattr(sys, "frozen", False))


def server_command(*args: str) -> list[str]:
    """Return the argv that runs `bank-server ARGS...` with this process's own Python."""
    if is_frozen():
        return [sys.executable, RUN_SERVER_FLAG, *args]
    return [sys.executable, "-m", "server.cli", *args]
