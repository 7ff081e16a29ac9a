"""`bank-desktop` says in one line why no window can open, instead of Qt's abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.platform_check import debian_package, display_problem, uses_x11

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_a_missing_library_is_named_by_its_debian_package(soname: str, package: str) -> None:
    assert debian_package(soname) == package


def test_which_platform_qt_will_try() -> None:
    assert uses_x11({"DISPLAY": ":0"})
    assert not uses_x11({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert uses_x11({"QT_QPA_PLATFORM": "xcb"})
    assert not uses_x11({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def fake_ldd(tmp_path: Path) -> dict[str, str]:
    """An environment whose `ldd` reports Qt's X11 plugin missing two libraries."""
    tools = tmp_path / "bin"
    tools.mkdir()
    ldd = tools / "ldd"
    ldd.write_text(
        "#!/bin/sh\n"
        "echo '\tlibxcb-icccm.so.4 => not found'\n"
        "echo '\tlibxcb-keysyms.so.1 => not found'\n"
        "echo '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)'\n"
    )
    ldd.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["PATH"] = f"{tools}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def test_missing_x11_libraries_are_one_line_naming_the_packages(tmp_path: Path) -> None:
    env = fake_ldd(tmp_path)
    env["DISPLAY"] = ":4242"  # Qt would try X11 here
    result = run(env, "-m", "desktop", "--local", "--data-dir", str(tmp_path / "bank"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "bank-desktop: Qt's X11 plugin needs libxcb-icccm.so.4, libxcb-keysyms.so.1; install "
        "them (Debian/Ubuntu: sudo apt-get install libxcb-icccm4 libxcb-keysyms1) and start again"
    ]
    assert not (tmp_path / "bank").exists()
    # What `make run` installs from.
    packages = run(env, "-m", "desktop.platform_check", "--debian-packages")
    assert packages.stdout.strip() == "libxcb-icccm4 libxcb-keysyms1"


def test_no_display_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}  # fmt: skip
    result = run(env, "-m", "desktop", "--local", "--data-dir", str(tmp_path / "bank"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bank-desktop: no display: neither DISPLAY nor WAYLAND_DISPLAY")
