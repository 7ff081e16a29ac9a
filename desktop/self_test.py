"""`bank-desktop --self-test`: prove that an installed desktop (or its bundle) works end to end.

Offscreen, with a throw-away data dir: start the bundled server with demo data, sign in as a
demo teller through the real sign-in dialog and client, open the main window, wait until the
accounts table holds every account the server reports, stop the server. One line of output
either way; exit 0 on success and 1 on any failure, also when the whole run outlasts its
timeout.

The desktop it drives is built by the caller's composition root (desktop/cli.py passes its
`compose`), so this module and desktop/app.py do not import each other.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from desktop import __version__

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

    from desktop.api.client import BankClient
    from desktop.dialogs.login import LoginDialog
    from desktop.main_window import MainWindow

DEFAULT_TIMEOUT_SECONDS = 120.0
DEMO_USERNAME = "teller"
DEMO_PASSWORD = "teller123"  # the documented demo teller (README, bank-server serve --demo)
# Settings that could turn the throw-away demo server into something else: a production
# configuration refuses --demo, and shared Redis or Sentry are not the test's to touch.
_CLEARED_ENV = ("MONGODB_URL", "REDIS_URL", "SENTRY_DSN", "BACKUP_INTERVAL_MINUTES")


class SelfTestFailed(RuntimeError):
    """A step of the self-test did not do what it should; the message names it."""


class Desktop(Protocol):
    """What the self-test drives of the running desktop (desktop.app.DesktopApp)."""

    client: BankClient
    window: MainWindow | None

    def show_login(self) -> LoginDialog:
        """Show the sign-in dialog."""
        ...

    def shutdown(self) -> None:
        """Close the client (and stop a server the desktop started)."""
        ...


# Build the desktop around its one client, talking to the server at the URL given.
Compose = Callable[["QSettings", str], Desktop]


def _wait(what: str, done: Callable[[], bool], deadline: float) -> None:
    """Run the Qt event loop until `done()` holds; fail with `what` at the deadline."""
    from PySide6.QtWidgets import QApplication

    while not done():
        if time.monotonic() > deadline:
            raise SelfTestFailed(f"timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.01)


def _run(
    data_dir: Path,
    deadline: float,
    started: float,
    stop_later: list[Callable[[], None]],
    compose: Compose,
) -> str:
    """Do every step; return the summary line."""
    from PySide6.QtCore import QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    from desktop.local_server import LocalServer, LocalServerError

    log_file = data_dir / "server.log"
    local = LocalServer(data_dir / "server", demo=True, log_file=log_file)
    stop_later.append(local.stop)
    try:
        url = local.start(timeout=max(1.0, deadline - time.monotonic()))
    except LocalServerError as exc:  # its message ends with the server's own last line
        raise SelfTestFailed(str(exc)) from exc

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["bank-desktop"])
    settings = QSettings(str(data_dir / "desktop.ini"), QSettings.Format.IniFormat)
    desktop = compose(settings, url)
    stop_later.append(desktop.shutdown)
    login = desktop.show_login()
    login.username_edit.setText(DEMO_USERNAME)
    login.password_edit.setText(DEMO_PASSWORD)
    login.login_button.click()
    _wait(
        "sign-in",
        lambda: desktop.window is not None or login.error_label.isVisible(),
        deadline,
    )
    if desktop.window is None or not desktop.client.signed_in:
        raise SelfTestFailed(f"sign-in as {DEMO_USERNAME} failed: {login.error_label.text()}")
    window, client = desktop.window, desktop.client
    model = window.accounts_model
    _wait(
        "the accounts table",
        lambda: (
            model.error is not None
            or (model.total is not None and not model.loading and model.rowCount() >= model.total)
        ),
        deadline,
    )
    if model.error is not None:
        raise SelfTestFailed(f"loading the accounts failed: {model.error}")
    expected = client.accounts(limit=1).total
    if model.total != expected or model.rowCount() != expected or expected == 0:
        raise SelfTestFailed(
            f"the accounts table shows {model.rowCount()} of {model.total}; the server has "
            f"{expected}"
        )
    health = client.health()
    if health.get("status") != "ok":
        raise SelfTestFailed(f"the server's health is {health}")
    role = client.user.role.value if client.user is not None else "?"
    window.close()
    client.logout()
    desktop.shutdown()
    QThreadPool.globalInstance().waitForDone(5_000)
    app.processEvents()
    return (
        f"bank-desktop {__version__} self-test OK: bundled server {health.get('version')} at "
        f"{url}, database {health.get('database')}, signed in as {DEMO_USERNAME} ({role}), "
        f"{expected} accounts loaded, {time.monotonic() - started:.1f} s"
    )


def run_self_test(compose: Compose, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """Run the self-test; print one line; return the exit status (0 passed, 1 failed)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["BANK_ENV"] = "development"
    for name in _CLEARED_ENV:
        os.environ.pop(name, None)
    started = time.monotonic()
    deadline = started + timeout
    stop_later: list[Callable[[], None]] = []
    finished = threading.Event()

    def watchdog() -> None:
        # The last resort when a step hangs where no deadline reaches (a blocked Qt call).
        if finished.wait(timeout + 15):
            return
        print(f"bank-desktop self-test FAILED: no result within {timeout:g} s", flush=True)
        for stop in stop_later:
            stop()
        os._exit(1)

    threading.Thread(target=watchdog, daemon=True, name="self-test-watchdog").start()
    try:
        with tempfile.TemporaryDirectory(prefix="bank-self-test-") as tmp:
            try:
                summary = _run(Path(tmp), deadline, started, stop_later, compose)
            finally:
                for stop in stop_later:
                    stop()
    except Exception as exc:
        print(f"bank-desktop self-test FAILED: {exc}", flush=True)
        return 1
    finally:
        finished.set()
    print(summary, flush=True)
    return 0
