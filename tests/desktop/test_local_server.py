"""`bank-desktop --local`: the bundled server starts, answers, and stops with the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QLineEdit

from desktop.api.client import BankClient
from desktop.cli import launch
from desktop.local_server import LocalServer, LocalServerError


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bundled server keeps its data in the user data dir: point that at the test's folder.
    monkeypatch.setenv("BANK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MONGODB_URL", raising=False)


def test_bundled_server_starts_with_demo_data_and_stops(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "bundled", demo=True)
    url = server.start()
    process = server.process
    assert process is not None
    try:
        client = BankClient(url)
        user = client.login("teller", "teller123")
        assert user.role.value == "teller"
        assert client.accounts().total == 6
        client.close()
    finally:
        server.stop()
    assert process.poll() is not None
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)


def test_local_demo_flag_starts_the_bundled_demo_bank_before_sign_in(
    qtbot: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "demo-bank"
    desktop = launch(["--local", "--demo", "--data-dir", str(data_dir), "--idle-minutes", "60"])
    try:
        assert desktop.first_start is None  # a demo bank needs no set-up
        qtbot.waitUntil(lambda: desktop.login is not None, timeout=90_000)
        assert desktop.local is not None
        url_edit = desktop.login.findChild(QLineEdit, "serverUrlEdit")
        assert url_edit.text() == desktop.local.url
        assert url_edit.isReadOnly()
        assert httpx.get(f"{desktop.local.url}/health", timeout=5).status_code == 200
        assert (data_dir / "db" / "bank.sqlite").exists()
        client = BankClient(desktop.local.url)
        assert client.login("teller", "teller123").role.value == "teller"
        client.close()
    finally:
        if desktop.login is not None:
            desktop.login.close()
        local = desktop.local
        desktop.shutdown()
        assert local is None or local.process is None


def test_the_server_s_last_line_says_why_it_did_not_start(tmp_path: Path) -> None:
    holder = LocalServer(tmp_path / "bank", demo=True)
    holder.start()
    try:
        second = LocalServer(tmp_path / "bank")
        with pytest.raises(LocalServerError) as failed:
            second.start()
        message = str(failed.value)
        assert message.startswith("the bundled server stopped while starting: bank-server: ")
        assert "already served by pid" in message
        assert message.endswith("stop that server or use another --data-dir")
        assert second.process is None or second.process.poll() is not None
    finally:
        holder.stop()
