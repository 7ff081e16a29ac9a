"""`bank-desktop`: sign in, then the main window; optionally start the bundled server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog

from desktop import __version__
from desktop.api.client import BankClient
from desktop.dialogs.login import LoginDialog
from desktop.local_server import LocalServer
from desktop.main_window import MainWindow
from desktop.self_test import DEFAULT_TIMEOUT_SECONDS, run_self_test
from desktop.workers import run_task

ORGANIZATION = "BankSystem"
APPLICATION = "bank-desktop"
DEFAULT_IDLE_MINUTES = 10


class IdleWatcher(QObject):
    """Call `on_idle` after `minutes` without keyboard or mouse input."""

    def __init__(self, minutes: float, on_idle: Any) -> None:
        super().__init__()
        self.timer = QTimer(self, singleShot=True, interval=max(1, int(minutes * 60_000)))
        self.timer.timeout.connect(on_idle)
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress,
                            QEvent.Type.MouseMove, QEvent.Type.Wheel):  # fmt: skip
            self.timer.start()
        return False


@dataclass
class DesktopApp:
    """The running desktop: its settings, server, client and windows (tests drive these)."""

    settings: QSettings
    server_url: str
    local: LocalServer | None = None
    login: LoginDialog | None = None
    window: MainWindow | None = None
    client: BankClient | None = None
    idle: IdleWatcher | None = None
    extras: list[Any] = field(default_factory=list)

    def show_login(self, *, relock: bool = False) -> LoginDialog:
        """Show the sign-in dialog (again, with the server fixed, to unlock or re-authenticate)."""
        username = self.client.user.username if relock and self.client and self.client.user else ""
        dialog = LoginDialog(
            self.server_url,
            username=username or str(self.settings.value("login/username", "")),
            lock_server=relock or self.local is not None,
        )
        dialog.signed_in.connect(self._signed_in)
        self.login = dialog
        dialog.show()
        return dialog

    def _signed_in(self, client: BankClient) -> None:
        self.server_url = client.base_url
        self.settings.setValue("server/url", client.base_url)
        if client.user is not None:
            self.settings.setValue("login/username", client.user.username)
        if self.window is not None and self.client is not None and self.client.user is not None \
                and client.user is not None and client.user.id == self.client.user.id:  # fmt: skip
            # Re-authenticated after expiry or an idle lock: keep the window as it was.
            self.window.client = client
            for model in (self.window.accounts_model, self.window.transactions_model,
                          self.window.customers_model):  # fmt: skip
                if model is not None:
                    model.client = client
            self.client = client
            self.window.setEnabled(True)
            self.window.banner.hide()
            return
        if self.window is not None:
            self.window.close()
        assert client.user is not None
        self.client = client
        self.window = MainWindow(client, client.user, self.settings)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        self.window.session_expired.connect(self.lock)
        self.window.logged_out.connect(self._logged_out)
        self.window.show()

    def lock(self) -> None:
        """Hide the work behind the sign-in dialog until the user signs in again."""
        if self.window is not None:
            self.window.setEnabled(False)
        if self.login is None or not self.login.isVisible():
            self.show_login(relock=True)

    def _logged_out(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None
        self.client = None
        self.show_login()

    def shutdown(self) -> None:
        """Stop the bundled server, if this app started one."""
        if self.local is not None:
            self.local.stop()
            self.local = None


current: DesktopApp | None = None


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="bank-desktop", description="Bank System teller desktop")
    parser.add_argument("--server", help="server URL, e.g. http://bank.example:8000")
    parser.add_argument("--local", action="store_true", help="start the bundled server")
    parser.add_argument(
        "--idle-minutes",
        type=float,
        default=None,
        help=f"lock after this much idle time (default {DEFAULT_IDLE_MINUTES})",
    )
    parser.add_argument("--version", action="version", version=f"bank-desktop {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="offscreen: start the bundled server, sign in as a demo teller, load the "
        "accounts, print one line and exit 0 (1 on any failure)",
    )
    parser.add_argument(
        "--self-test-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up the self-test after this long (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop; reuse an existing QApplication (tests, tools) without blocking in it."""
    global current
    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    if args.self_test:
        return run_self_test(args.self_test_timeout)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    settings = QSettings(ORGANIZATION, APPLICATION)
    saved = str(settings.value("server/url", "") or "")
    use_local = args.local or (not args.server and not saved)
    desktop = DesktopApp(settings=settings, server_url=args.server or saved)
    current = desktop
    minutes = args.idle_minutes or float(
        str(settings.value("idleLockMinutes", DEFAULT_IDLE_MINUTES))
    )
    desktop.idle = IdleWatcher(minutes, desktop.lock)
    app.installEventFilter(desktop.idle)
    app.aboutToQuit.connect(desktop.shutdown)

    if use_local:
        desktop.local = LocalServer()
        progress = QProgressDialog("Starting the bundled bank server…", "", 0, 0)
        progress.setObjectName("localServerProgress")
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        progress.show()
        desktop.extras.append(progress)

        def started(url: str) -> None:
            progress.close()
            desktop.server_url = url
            desktop.show_login()

        def failed(error: BaseException) -> None:
            progress.close()
            QMessageBox.critical(None, "Bank System", f"The bundled server did not start: {error}")
            app.quit()

        run_task(desktop.local.start, on_done=started, on_error=failed)
    else:
        desktop.show_login()
    if existing is not None:
        return 0
    try:
        return int(app.exec())
    finally:
        desktop.shutdown()


if __name__ == "__main__":
    sys.exit(main())
