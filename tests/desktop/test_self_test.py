"""`bank-desktop --version` and `--self-test`, run as the user runs them: a separate process.

The bundle built by `make package` runs the same code frozen; these pin the behaviour from
source. Every run gets its own TMPDIR so the test can see that the self-test cleans up and
leaves no server or database process behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from desktop import __version__

ROOT = Path(__file__).resolve().parents[2]


def run_desktop(
    tmp_path: Path, *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m desktop ARGS` with no display and a private TMPDIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(extra_env or {})
    # A platform that cannot start here: the app must choose offscreen itself, or not need Qt.
    env["QT_QPA_PLATFORM"] = "xcb"
    env["TMPDIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def processes_mentioning(text: str) -> list[str]:
    """Return the command lines of live processes that mention `text` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def wait_gone(text: str, seconds: float = 10) -> list[str]:
    """Wait until no process mentions `text`; return any that are left."""
    deadline = time.monotonic() + seconds
    while (left := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_version_prints_the_distribution_version_without_a_window(tmp_path: Path) -> None:
    result = run_desktop(tmp_path, "--version", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"bank-desktop {__version__}"
    assert __version__ != "0.0.0"  # the installed distribution's version, not the fallback


def test_self_test_starts_the_server_signs_in_loads_accounts_and_cleans_up(
    tmp_path: Path,
) -> None:
    result = run_desktop(tmp_path, "--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    line = lines[0]
    assert line.startswith(f"bank-desktop {__version__} self-test OK:"), line
    assert "signed in as teller (teller)" in line
    assert "database ok" in line
    assert "6 accounts loaded" in line  # the demo bank's accounts, all in the table
    url = line.split(" at ", 1)[1].split(",", 1)[0]
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)
    assert wait_gone(str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []  # the throw-away data dir is gone


def test_self_test_reports_a_server_that_cannot_start_in_one_line(tmp_path: Path) -> None:
    # Below the setting's minimum: the server refuses to run.
    result = run_desktop(tmp_path, "--self-test", timeout=60, extra_env={"MAX_BODY_BYTES": "1"})
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("bank-desktop self-test FAILED: the bundled server stopped")
    assert "invalid settings: MAX_BODY_BYTES" in lines[0]  # the server's own line, passed on
    assert "Traceback" not in result.stdout
    assert wait_gone(str(tmp_path)) == []


def test_self_test_fails_when_its_time_is_up(tmp_path: Path) -> None:
    result = run_desktop(tmp_path, "--self-test", "--self-test-timeout", "0.01", timeout=60)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("bank-desktop self-test FAILED:")
    assert "time" in lines[0]  # "timed out waiting for ..." or "... not healthy in time"
    assert wait_gone(str(tmp_path)) == []
