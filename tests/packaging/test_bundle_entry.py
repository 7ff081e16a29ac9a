"""The bundle's two faces: the command lines that start `bank-server`, and the entry dispatch.

`make package` proves the frozen bundle end to end (its `--self-test`); these pin the pieces
it relies on from source, in well under a second each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.launcher import RUN_SERVER_FLAG, server_command

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "packaging" / "bank_desktop_entry.py"


def test_from_source_the_server_runs_as_a_module_of_this_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert server_command("db", "--port", "0") == [
        sys.executable, "-m", "server.cli", "db", "--port", "0",
    ]  # fmt: skip


def test_frozen_the_bundle_executable_is_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/bank-desktop/bank-desktop")
    assert server_command("serve", "--demo") == [
        "/opt/bank-desktop/bank-desktop", RUN_SERVER_FLAG, "serve", "--demo",
    ]  # fmt: skip


def test_the_entry_point_hands_run_server_arguments_to_bank_server() -> None:
    result = subprocess.run(
        [sys.executable, str(ENTRY), RUN_SERVER_FLAG, "db", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bank-server db ")
    assert "--txn-lifetime" in result.stdout


def test_the_entry_point_runs_the_desktop_otherwise() -> None:
    result = subprocess.run(
        [sys.executable, str(ENTRY), "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bank-desktop ")
    assert "--self-test" in result.stdout
