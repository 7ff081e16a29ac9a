"""Print the server's requirements: the project's dependencies without the desktop's GUI.

One distribution carries the server, the desktop and the shared schemas, so its dependencies
include PySide6 and pyqtgraph. The server image needs neither (the server never imports the
desktop), so the Dockerfile installs these requirements and then the project wheel with
`--no-deps`. Run from the repository root: `python packaging/server_requirements.py`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# Distributions only the desktop imports (numpy stays: the embedded database's vector index
# needs it too).
DESKTOP_ONLY = frozenset({"pyside6-essentials", "pyside6", "pyqtgraph"})


def requirement_name(requirement: str) -> str:
    """Return the normalised distribution name of a PEP 508 requirement."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def server_requirements(pyproject: Path) -> list[str]:
    """Return the project's dependencies that the server needs."""
    with pyproject.open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return [dep for dep in dependencies if requirement_name(dep) not in DESKTOP_ONLY]


def main() -> int:
    """Print one requirement a line."""
    root = Path(__file__).resolve().parent.parent
    print("\n".join(server_requirements(root / "pyproject.toml")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
