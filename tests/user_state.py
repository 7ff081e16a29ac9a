"""Keep the test suite away from the real user's desktop settings and bank data.

`isolate()` points HOME and the XDG dirs at a temporary folder (subprocesses inherit them)
and QSettings at another, before any QApplication or QSettings exists; `snapshot()` and
`changes()` let the session prove that the real user's files were not touched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

ORGANIZATION = "BankSystem"  # desktop/app.py's QSettings names
APPLICATION = "bank-desktop"
DATA_DIR_NAMES = ("bank-system", "bank-system-demo")  # the server's and the desktop's
XDG_DIRS = {
    "XDG_CONFIG_HOME": "config",
    "XDG_DATA_HOME": "data",
    "XDG_CACHE_HOME": "cache",
    "XDG_STATE_HOME": "state",
    "XDG_RUNTIME_DIR": "runtime",
}

type Snapshot = dict[str, tuple[int, int, str] | None]


def user_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Return the real user's desktop settings file and the app's data dirs (as now set)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    settings = config / ORGANIZATION / f"{APPLICATION}.conf"
    return [settings, *(Path(platformdirs.user_data_dir(name)) for name in DATA_DIR_NAMES)]


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def snapshot(paths: list[Path]) -> Snapshot:
    """Record every file under the paths: size, modification time and content hash."""
    found: Snapshot = {}
    for root in paths:
        if root.is_file():
            stat = root.stat()
            found[str(root)] = (stat.st_size, stat.st_mtime_ns, _digest(root))
        elif root.is_dir():
            found[str(root)] = (0, 0, "dir")
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    stat = path.stat()
                    found[str(path)] = (stat.st_size, stat.st_mtime_ns, _digest(path))
        else:
            found[str(root)] = None
    return found


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """Name what was created, changed or removed between two snapshots."""
    said = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            said.append(f"created {path}")
        elif new is None:
            said.append(f"removed {path}")
        else:
            said.append(f"changed {path}")
    return said


def isolate(folder: Path) -> dict[str, str]:
    """Point HOME, the XDG dirs and QSettings at `folder`; return the variables set."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {"HOME": str(folder / "home")}
    values.update({name: str(folder / sub) for name, sub in XDG_DIRS.items()})
    for value in values.values():
        Path(value).mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.update(values)

    from PySide6.QtCore import QSettings, QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    point_settings(folder / "qsettings")
    # The system scope apart: QSettings falls back to it when reading a key the user lacks.
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(folder / "qsettings-system"))
    return values


def point_settings(folder: Path) -> None:
    """Make new QSettings objects of the user scope keep their files in `folder`.

    Both formats: the desktop's `QSettings(organization, application)` is NativeFormat, whose
    path on Linux is its own (setting IniFormat's alone leaves it at ~/.config).
    """
    from PySide6.QtCore import QSettings

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
