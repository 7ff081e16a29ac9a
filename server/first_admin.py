"""Where a generated first admin password goes: the operator's terminal, or a private file.

Never a log: under a service manager stdout is the journal, which others read and keep.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PASSWORD_FILE = "first-admin-password"


def reveal(data_dir: Path, username: str, password: str) -> str:
    """Show a generated password on a terminal, else write it to a 0600 file and say where.

    Return what was printed (the password only when stdout is a terminal).
    """
    if sys.stdout.isatty():
        message = (
            f"Created admin {username!r} with password: {password}\n"
            "It is shown once; change it after the first sign-in."
        )
    else:
        path = data_dir / PASSWORD_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an older file of looser mode is tightened too
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        message = (
            f"Created admin {username!r}; its generated password is in {path} (readable by "
            "this user only): sign in, change it, then delete the file."
        )
    print(message, flush=True)
    return message
