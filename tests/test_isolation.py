"""The suite runs in a home of its own and notices when the real user's files change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings

from tests import conftest, user_state
from tests.support import ROOT


def test_home_xdg_dirs_settings_and_data_dirs_are_the_suite_s_own() -> None:
    home = conftest.TEST_HOME
    assert Path(os.environ["HOME"]).is_relative_to(home)
    for name in user_state.XDG_DIRS:
        assert Path(os.environ[name]).is_relative_to(home), name
    assert Path(platformdirs.user_data_dir("bank-system")).is_relative_to(home)
    real = {str(path) for path in conftest.REAL_USER_PATHS}
    settings = QSettings(user_state.ORGANIZATION, user_state.APPLICATION).fileName()
    assert settings not in real
    for path in user_state.user_paths():
        assert path.is_relative_to(home), path
    # A subprocess inherits the suite's home, so what it saves lands there too.
    child = subprocess.run(
        [sys.executable, "-c", "import platformdirs; print(platformdirs.user_data_dir('x'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(child.stdout.strip()).is_relative_to(home)


def test_a_snapshot_notices_created_changed_and_removed_files(tmp_path: Path) -> None:
    settings = tmp_path / "config" / "bank-desktop.conf"
    data = tmp_path / "data"
    (data / "db").mkdir(parents=True)
    (data / "db" / "bank.sqlite").write_bytes(b"one")
    paths = [settings, data]
    before = user_state.snapshot(paths)
    assert user_state.changes(before, user_state.snapshot(paths)) == []

    settings.parent.mkdir()
    settings.write_text("[login]\nusername=teller17\n")
    (data / "db" / "bank.sqlite").write_bytes(b"two")
    (data / "secret_key").write_text("k")
    assert user_state.changes(before, user_state.snapshot(paths)) == [
        f"created {settings}",
        f"changed {data / 'db' / 'bank.sqlite'}",
        f"created {data / 'secret_key'}",
    ]
    later = user_state.snapshot(paths)
    settings.unlink()
    assert user_state.changes(later, user_state.snapshot(paths)) == [f"removed {settings}"]


def test_a_run_that_touches_the_user_s_settings_fails(tmp_path: Path) -> None:
    """Run pytest with this suite's conftest as a plugin, as a user whose settings a test
    writes; the run must fail and say which file changed (and a clean run must pass)."""
    home = tmp_path / "user"
    settings = home / ".config" / "BankSystem" / "bank-desktop.conf"
    settings.parent.mkdir(parents=True)
    settings.write_text("[login]\nusername=me\n")
    tests = tmp_path / "nested"
    tests.mkdir()
    (tests / "test_writes.py").write_text(
        "import os\n"
        "def test_writes():\n"
        "    with open(os.environ['VICTIM'], 'a') as handle:\n"
        "        handle.write('[server]\\nurl=http://127.0.0.1:1\\n')\n"
    )
    (tests / "test_clean.py").write_text("def test_clean():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), VICTIM=str(settings), PYTHONPATH=str(ROOT))

    def nested(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
             "--rootdir", str(tests), "-c", os.devnull, str(tests / name)],
            cwd=tests, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    clean = nested("test_clean.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    dirty = nested("test_writes.py")
    assert dirty.returncode == 1, dirty.stdout + dirty.stderr
    assert f"the tests touched the real user's files: changed {settings}" in dirty.stdout
