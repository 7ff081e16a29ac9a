"""The desktop's two figures, measured in their own process (Qt offscreen):

- `desktop_table_10k_ms`: the real main window's accounts table over a synthetic bank of
  10,000 accounts (an `httpx.MockTransport` answering pages as the API does, from
  tests/desktop/test_models.py): from `set_query()` until all 10,000 rows are in the model
  (page after page, as a view scrolling down asks for them) and the view, scrolled to the
  bottom, has painted.
- `gui_max_stall_ms`: the longest gap of a 5 ms GUI-thread timer while signing in through the
  real login dialog and loading the main window (accounts, then the first account's
  history) against a real server, every request delayed by 100 ms on the worker thread (as
  in tests/desktop/test_app.py).

`python -m bench.desktop_figures --server URL --username U --password P` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import httpx
from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QModelIndex,
    QObject,
    QSettings,
    QTimer,
)
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QTableView

from desktop.api.client import BankClient
from desktop.dialogs.login import LoginDialog
from desktop.main_window import MainWindow
from tests.desktop.test_models import SyntheticBank, synthetic_client

ROWS = 10_000
_ROOT = QModelIndex()


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Turn the event loop until a condition holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the desktop did not get there in time")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


class PreparedBank(SyntheticBank):
    """The synthetic bank with its pages encoded in advance, so the clock runs on the desktop.

    (A server builds its pages in another process; here they would share the desktop's
    interpreter.) It also answers the lists the window asks for besides accounts, empty.
    """

    def __init__(self, n: int) -> None:
        super().__init__(n=n)
        self._encoded: dict[tuple[tuple[str, str], ...], bytes] = {}

    def prepare(self, page_size: int) -> None:
        """Encode every page a model of `page_size` rows will ask for."""
        for skip in range(0, self.n, page_size):
            params = httpx.QueryParams({"skip": skip, "limit": page_size, "sort": "id",
                                        "order": "asc"})  # fmt: skip
            self._encoded[self._key(params)] = json.dumps(self.page(params)).encode()

    @staticmethod
    def _key(params: httpx.QueryParams) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, v) for k, v in params.items() if k != "q" and v))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if path not in ("/login", "/me", "/accounts"):
            return httpx.Response(200, json={"items": [], "total": 0, "skip": 0, "limit": 50})
        encoded = self._encoded.get(self._key(request.url.params))
        if path == "/accounts" and encoded is not None:
            self.requests.append(dict(request.url.params))
            return httpx.Response(200, content=encoded,
                                  headers={"content-type": "application/json"})  # fmt: skip
        return super().__call__(request)


def table_10k_ms() -> float:
    """Fill the main window's accounts table with 10,000 accounts and paint it; return ms."""
    bank = PreparedBank(n=ROWS)
    client = synthetic_client(bank)
    assert client.user is not None
    window = MainWindow(client, client.user)
    window.show()
    model, view = window.accounts_model, window.accounts_table
    bank.prepare(model.page_size)
    wait_until(lambda: model.rowCount() > 0 and not model.loading)
    loop = QEventLoop()

    def more(*_: object) -> None:
        # What the view does as it is scrolled down: ask for the next page.
        if model.rowCount() >= ROWS:
            loop.quit()
        elif model.canFetchMore(_ROOT):
            QTimer.singleShot(0, lambda: model.fetchMore(_ROOT))

    model.rowsInserted.connect(more)
    model.load_failed.connect(loop.quit)
    QTimer.singleShot(120_000, loop.quit)
    started = time.perf_counter()
    model.set_query()
    loop.exec()  # the event loop sleeps between pages, as the application's does
    if model.rowCount() < ROWS:
        raise TimeoutError(f"only {model.rowCount()} rows: {model.error!r}")
    view.scrollToBottom()
    view.viewport().repaint()
    QCoreApplication.processEvents()
    elapsed = (time.perf_counter() - started) * 1000
    assert model.rowCount() == ROWS
    assert view.rowAt(view.viewport().height() - 1) > ROWS - 100
    window.close()
    client.close()
    return elapsed


def child[W: QObject](parent: QObject, kind: type[W], name: str) -> W:
    """Return a named child widget, which must exist."""
    found = parent.findChild(kind, name)
    assert found is not None, name
    return found


class SlowTransport(httpx.HTTPTransport):
    """A real transport that adds 100 ms of latency to every request (on the worker thread)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(0.1)
        return super().handle_request(request)


def gui_max_stall_ms(server: str, username: str, password: str) -> float:
    """Sign in and load over a 100 ms link; return the longest GUI-thread stall (ms)."""
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=5)
    timer.timeout.connect(tick)
    timer.start()
    dialog = LoginDialog(
        server, client_factory=lambda url: BankClient(url, transport=SlowTransport())
    )
    dialog.show()
    child(dialog, QLineEdit, "usernameEdit").setText(username)
    child(dialog, QLineEdit, "passwordEdit").setText(password)
    child(dialog, QPushButton, "loginButton").click()
    wait_until(lambda: dialog.client is not None)
    client = dialog.client
    assert client is not None
    assert client.user is not None
    window = MainWindow(client, client.user)
    window.show()
    table = child(window, QTableView, "accountsTable")
    wait_until(lambda: table.model().rowCount() > 0)
    table.selectRow(0)
    history = child(window, QTableView, "transactionsTable")
    wait_until(lambda: history.model().rowCount() > 0)
    timer.stop()
    window.close()
    dialog.close()
    return (max(gaps[2:]) - 0.005) * 1000


def main(argv: list[str] | None = None) -> int:
    """Measure both figures; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    figures: dict[str, Any] = {
        "gui_max_stall_ms": round(gui_max_stall_ms(args.server, args.username, args.password), 1),
        "desktop_table_10k_ms": round(table_10k_ms(), 1),
    }
    print("DESKTOP_JSON " + json.dumps(figures), flush=True)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
