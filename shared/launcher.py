"""Child processes: the command line that starts `bank-server` (from source or a bundle),
a free loopback port for one, and stopping one.

Both sides start the server as a process (the desktop its bundled server, the server its
embedded database), so the command is built here, in the one package both may import. In a
frozen PyInstaller bundle there is no Python interpreter and no `bank-server` script: the
bundle's own executable acts as `bank-server` when its first argument is `RUN_SERVER_FLAG`
(see `packaging/bank_desktop_entry.py`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import suppress
from typing import Any

RUN_SERVER_FLAG = "--run-server"


def is_frozen() -> bool:
    """Tell whether this process runs from a frozen (PyInstaller) bundle."""
    return bool(getattr(sys, "frozen", False))


def server_command(*args: str) -> list[str]:
    """Return the argv that runs `bank-server ARGS...` with this process's own Python."""
    if is_frozen():
        return [sys.executable, RUN_SERVER_FLAG, *args]
    return [sys.executable, "-m", "server.cli", *args]


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any] | None, grace: float = 15.0) -> None:
    """Stop a child: SIGTERM, up to `grace` seconds to exit, then SIGKILL (no-op if gone)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        with suppress(subprocess.TimeoutExpired):
            process.wait(5)
