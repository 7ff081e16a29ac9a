"""`make serve` and `make run` install the runtime dependencies only (issue 11).

A fresh clone's `make serve` must not pull pytest, ruff or the bench's tools onto a
server: asked with `make -n` (print, do not run) against a virtualenv path that does not
exist, each target's pip commands are read back, and the runtime list in pyproject.toml is
checked to hold no development tool.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_TOOLS = ("pytest", "hypothesis", "schemathesis", "ruff", "mypy", "openapi-python-client",
             "py-spy", "pypdfium2", "pyinstaller")  # fmt: skip


def pip_installs(target: str, venv: Path) -> list[str]:
    """Return the pip install commands `make TARGET` would run on a fresh clone."""
    shown = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout  # fmt: skip
    return [line for line in shown.splitlines() if "pip install" in line]


@pytest.mark.parametrize("target", ["serve", "run"])
def test_serve_and_run_install_the_project_without_extras(target: str, tmp_path: Path) -> None:
    installs = pip_installs(target, tmp_path / "venv")
    assert installs, f"make -n {target} shows no pip install on a fresh clone"
    projects = [line for line in installs if re.search(r"-e\s", line)]
    assert projects, installs
    for line in projects:
        assert "[" not in line, f"make {target} installs an extra: {line}"


def test_test_target_adds_its_extra(tmp_path: Path) -> None:
    """The check above can fail: the test target's extra shows as `.[test]`."""
    installs = pip_installs("test", tmp_path / "venv")
    assert any("[test]" in line for line in installs), installs


def test_runtime_dependencies_hold_no_development_tool() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[<>=\[; ]", spec, maxsplit=1)[0].lower()
             for spec in project["dependencies"]]  # fmt: skip
    assert names, project
    assert not [name for name in names if name in DEV_TOOLS], names
