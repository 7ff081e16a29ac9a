"""Before Qt picks its platform plugin: say in one line what this machine lacks for a window.

Qt's X11 plugin (`libqxcb.so`) links libraries that a Debian desktop does not always have
(libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0, ...). Without them Qt prints a screenful
and aborts; `bank-desktop` checks first, and `make run` installs what is missing
(`python -m desktop.platform_check --debian-packages` prints the packages to install).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Sonames whose Debian package is not the usual "libNAME" + soname version.
_PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def xcb_plugin_files() -> list[Path]:
    """Return Qt's X11 platform plugin and the Qt library behind it, where they exist."""
    from PySide6.QtCore import QLibraryInfo  # QtCore only: no platform plugin is loaded

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    libraries = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.LibrariesPath))
    candidates = [plugins / "platforms" / "libqxcb.so", *libraries.glob("libQt6XcbQpa.so*")]
    return [path for path in candidates if path.is_file()][:2]


def missing_libraries(files: Sequence[Path] | None = None) -> list[str]:
    """Return the sonames the dynamic linker cannot find for Qt's X11 plugin (ldd)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []  # not a glibc system: nothing to say here, Qt will say it
    missing: list[str] = []
    for path in xcb_plugin_files() if files is None else files:
        result = subprocess.run(  # noqa: S603 - ldd on Qt's own plugin
            [ldd, str(path)], capture_output=True, text=True, check=False
        )
        for name in _NOT_FOUND.findall(result.stdout):
            if name not in missing:
                missing.append(name)
    return missing


def debian_package(soname: str) -> str:
    """Return the Debian package that ships a library (libxcb-icccm.so.4 -> libxcb-icccm4)."""
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    name, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    name = name.lower()
    # Debian policy: a name that ends in a digit gets a dash before the soname version.
    return f"{name}-{version}" if name[-1:].isdigit() else f"{name}{version}"


def uses_x11(environ: Mapping[str, str] | None = None) -> bool:
    """Tell whether Qt will try its X11 plugin in this environment."""
    env = os.environ if environ is None else environ
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def display_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Say in one line why no window can open here, or None when Qt may go ahead."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None  # macOS and Windows always have their own platform plugin
    if not any(env.get(name) for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")):
        return (
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set; run it in a desktop "
            "session (or QT_QPA_PLATFORM=offscreen bank-desktop --self-test to check it)"
        )
    if not uses_x11(env):
        return None
    missing = missing_libraries()
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(name) for name in missing))
    return (
        f"Qt's X11 plugin needs {', '.join(missing)}; install them "
        f"(Debian/Ubuntu: sudo apt-get install {packages}) and start again"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the Debian packages Qt's X11 plugin lacks (nothing when none), for `make run`."""
    parser = argparse.ArgumentParser(prog="python -m desktop.platform_check")
    parser.add_argument("--debian-packages", action="store_true", help="print package names")
    args = parser.parse_args(argv)
    missing = missing_libraries()
    if args.debian_packages:
        print(" ".join(dict.fromkeys(debian_package(name) for name in missing)))
    else:
        print(" ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
