"""`bank-desktop --local` on a real X server puts a visible window on the screen.

`make run` once showed nothing on an ordinary desktop (the Makefile forced Qt offscreen, and
Qt's X11 plugin lacked libraries). Here the desktop runs as the user runs it: a process of
its own on Xvfb with no window manager, its own data dir and settings, Qt's default platform
(xcb). xwininfo must see a mapped top-level window; then SIGTERM ends it, and with it the
bundled server. `make test` installs Xvfb and x11-utils (BANK_TEST_XVFB=required: a missing
one fails instead of skipping).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.launcher import stop_process
from tests.desktop.test_self_test import processes_mentioning, wait_gone

XVFB = shutil.which("Xvfb")
XWININFO = shutil.which("xwininfo")
REQUIRED = os.environ.get("BANK_TEST_XVFB") == "required"
WINDOW = re.compile(r'^\s+(0x[0-9a-f]+) "(.*)": \((.*)\)\s+(\d+)x(\d+)\+', re.MULTILINE)


@pytest.fixture(scope="module")
def display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Xvfb of our own on a display number it picks itself (-displayfd)."""
    if XVFB is None or XWININFO is None:
        message = "Xvfb and xwininfo are needed (Debian: xvfb, x11-utils; make test installs them)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    log = tmp_path_factory.mktemp("xvfb") / "xvfb.log"
    read_end, write_end = os.pipe()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [XVFB, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten",
             "tcp", "-noreset"],
            pass_fds=(write_end,), stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        number = os.read(read_end, 16).decode().strip() if ready else ""
        assert number.isdigit(), f"Xvfb did not start: {log.read_text(errors='replace')}"
        yield f":{number}"
    finally:
        os.close(read_end)
        stop_process(server, grace=5)


def top_level_windows(display: str) -> list[dict[str, object]]:
    """Return the root window's children: id, name, size and whether each is mapped."""
    assert XWININFO is not None
    env = {**os.environ, "DISPLAY": display}
    tree = subprocess.run([XWININFO, "-root", "-children"], env=env, capture_output=True,
                          text=True, check=False, timeout=10).stdout  # fmt: skip
    windows = []
    for window_id, name, _class, width, height in WINDOW.findall(tree):
        info = subprocess.run([XWININFO, "-id", window_id], env=env, capture_output=True,
                              text=True, check=False, timeout=10).stdout  # fmt: skip
        windows.append({
            "id": window_id, "name": name, "size": (int(width), int(height)),
            "mapped": "Map State: IsViewable" in info,
        })  # fmt: skip
    return windows


def desktop_command() -> list[str]:
    script = Path(sys.executable).with_name("bank-desktop")  # the installed entry point
    return [str(script)] if script.exists() else [sys.executable, "-m", "desktop"]


def run_on(display: str, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `bank-desktop ARGS` on the display with its own home, settings and data."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "BANK_DATA_DIR", "MONGODB_URL")
    }
    home = tmp_path / "home"
    env.update(DISPLAY=display, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"))  # fmt: skip
    log = (tmp_path / "desktop.log").open("wb")
    try:
        return subprocess.Popen([*desktop_command(), *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
    finally:
        log.close()


def wait_for_window(display: str, process: subprocess.Popen[bytes], title: str,
                    log: Path, seconds: float = 120) -> dict[str, object]:  # fmt: skip
    """Wait for a mapped top-level window whose name holds `title`; return it."""
    deadline = time.monotonic() + seconds
    seen: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the desktop exited: {log.read_text(errors='replace')}"
        seen = top_level_windows(display)
        for window in seen:
            if window["mapped"] and title in str(window["name"]):
                return window
        time.sleep(0.3)
    raise AssertionError(f"no mapped window named {title!r}: {seen}; {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> int:
    """End the desktop as a session logout does (SIGTERM); return its exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    finally:
        stop_process(process, grace=1)


def test_local_first_start_shows_a_mapped_window_on_a_bare_x_server(
    display: str, tmp_path: Path
) -> None:
    process = run_on(display, tmp_path, "--local", "--data-dir", str(tmp_path / "bank"))
    window = wait_for_window(display, process, "Set up the bank", tmp_path / "desktop.log")
    width, height = window["size"]  # type: ignore[misc]
    assert width >= 300, window
    assert height >= 200, window
    assert stop(process) == 0
    assert not (tmp_path / "bank").exists()  # nothing was set up: no server ran


def test_local_demo_signs_in_window_then_sigterm_stops_the_bundled_server(
    display: str, tmp_path: Path
) -> None:
    data = tmp_path / "demo-bank"
    process = run_on(display, tmp_path, "--local", "--demo", "--data-dir", str(data))
    wait_for_window(display, process, "Sign in", tmp_path / "desktop.log")
    serve = [line for line in processes_mentioning(str(data)) if " serve " in line]
    assert len(serve) == 1, serve
    url = "http://127.0.0.1:" + serve[0].split("--port ", 1)[1].split()[0]
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    assert stop(process) == 0
    assert wait_gone(str(data), seconds=30) == []  # the server and its database stopped
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)
