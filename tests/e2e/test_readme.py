"""The README's API walkthrough runs top to bottom, as written, against a fresh demo bank.

The shell blocks under "## The API by example" are run by bash against a fresh
`bank-server serve --demo`; `curl` is wrapped so every call's HTTP status is recorded, and
the statuses must be the ones the README's comments promise, in order (`# 201`, ...).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import serving
from tests.support import ROOT

README = ROOT / "README.md"
SECTION = "## The API by example"
README_URL = "http://localhost:8000"
STATUS = re.compile(r"\s#\s*(\d{3})\b")
CURL = re.compile(r"(?<![\w-])curl\s")
# Records each call's status line (from the dumped headers) and keeps curl's own output as is.
WRAPPER = r"""
set -euo pipefail
curl() {
    local headers rc=0
    headers=$(mktemp)
    command curl -D "$headers" "$@" || rc=$?
    awk 'NR==1 {print $2}' "$headers" >> "$STATUS_LOG"
    rm -f "$headers"
    return $rc
}
"""


def walkthrough_blocks(text: str) -> list[str]:
    """Return the ```bash blocks of the walkthrough section."""
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


def expected_statuses(block: str) -> list[int]:
    """Return the promised status of every curl call, in order; each call must promise one."""
    commands = re.sub(r"\\\n", " ", block).splitlines()  # continued lines as one command
    statuses: list[int] = []
    for command in commands:
        calls = len(CURL.findall(command.split(" # ", 1)[0] if " # " in command else command))
        promised = [int(code) for code in STATUS.findall(command)]
        assert calls == len(promised), f"say each curl's status in a comment: {command!r}"
        statuses += promised
    return statuses


def test_the_walkthrough_is_found_and_every_call_promises_a_status() -> None:
    blocks = walkthrough_blocks(README.read_text())
    assert blocks, f"no ```bash block under {SECTION!r}"
    statuses = [status for block in blocks for status in expected_statuses(block)]
    assert len(statuses) >= 30
    assert set(statuses) >= {200, 201, 204}
    text = "\n".join(blocks)
    for name in re.findall(r"\$\{?([A-Z_]+)", text):  # every variable used is set first
        assert re.search(rf"^\s*{name}=", text, flags=re.MULTILINE), name


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples use curl")
def test_the_walkthrough_runs_top_to_bottom_against_a_fresh_demo_bank(tmp_path: Path) -> None:
    blocks = walkthrough_blocks(README.read_text())
    expected = [status for block in blocks for status in expected_statuses(block)]
    status_log = tmp_path / "statuses"
    work = tmp_path / "work"
    work.mkdir()
    with serving("--demo", "--data-dir", str(tmp_path / "bank")) as (url, _process):
        script = WRAPPER + "\n".join(blocks).replace(README_URL, url)
        result = subprocess.run(
            ["/bin/bash", "-c", script],
            cwd=work,
            env={"PATH": "/usr/bin:/bin", "STATUS_LOG": str(status_log), "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    got = [int(line) for line in status_log.read_text().split()] if status_log.exists() else []
    assert result.returncode == 0, result.stderr[-3000:]
    assert got == expected, result.stdout[-3000:]
    assert (work / "statement.pdf").read_bytes().startswith(b"%PDF")
    assert "0000000195" in (work / "statement.csv").read_text()
