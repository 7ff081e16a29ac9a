"""`bank-desktop`: sign in, then the main window; optionally start the bundled server.

The bundled bank (`--local`) is a real bank: its first start asks for the bank's name and its
first admin (desktop/dialogs/first_start.py), starts the server with them and signs in as
that admin; later starts sign in normally. `--local --demo` starts a demo bank instead.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog
from shiboken6 import isValid

from desktop import __version__
from desktop.api.client import BankClient
from desktop.dialogs.first_start import FirstStart, FirstStartDialog
from desktop.dialogs.login import LoginDialog, login_error_text
from desktop.local_server import (
    LOG_FILE,
    LocalServer,
    LocalServerError,
    default_data_dir,
    is_initialised,
    read_bank_name,
    write_bank_name,
)
from desktop.main_window import MainWindow
from desktop.platform_check import display_problem
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

    def stop(self) -> None:
        """Stop watching: no more input resets, no idle call."""
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

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
    bank_name: str | None = None
    first_start: FirstStartDialog | None = None
    progress: QProgressDialog | None = None
    failure: QMessageBox | None = None
    # What ends the app when the bundled bank cannot run (app.quit; nothing inside tests).
    on_quit: Callable[[], None] = lambda: None

    def show_login(self, *, relock: bool = False, error: str = "") -> LoginDialog:
        """Show the sign-in dialog (again, with the server fixed, to unlock or re-authenticate)."""
        username = self.client.user.username if relock and self.client and self.client.user else ""
        dialog = LoginDialog(
            self.server_url,
            username=username or str(self.settings.value("login/username", "")),
            lock_server=relock or self.local is not None,
            bank_name=self.bank_name,
        )
        dialog.signed_in.connect(self._signed_in)
        if error:
            dialog.error_label.setText(error)
            dialog.error_label.show()
        self.login = dialog
        dialog.show()
        return dialog

    # -- the bundled bank ----------------------------------------------------------------

    def start_local(self, data_dir: Path, *, demo: bool = False) -> None:
        """Start the bundled bank in `data_dir`; on its first start, ask how to set it up."""
        if demo or is_initialised(data_dir):
            self.bank_name = read_bank_name(data_dir)
            self._start_server(data_dir, demo=demo, setup=None)
            return
        dialog = FirstStartDialog()
        self.first_start = dialog
        dialog.accepted.connect(lambda: self._set_up(dialog, data_dir))
        dialog.rejected.connect(lambda: self.on_quit())
        dialog.show()

    def _set_up(self, dialog: FirstStartDialog, data_dir: Path) -> None:
        setup = dialog.setup()
        dialog.forget_password()
        self.bank_name = setup.bank_name
        self._start_server(data_dir, demo=False, setup=setup)

    def _start_server(self, data_dir: Path, *, demo: bool, setup: FirstStart | None) -> None:
        env = {"BANK_NAME": self.bank_name} if self.bank_name else {}
        if setup is not None:
            env |= {"ADMIN_USERNAME": setup.username, "ADMIN_PASSWORD": setup.password}
        self.local = LocalServer(data_dir, demo=demo, log_file=data_dir / LOG_FILE, env=env)
        progress = QProgressDialog("Starting the bundled bank server…", "", 0, 0)
        progress.setObjectName("localServerProgress")
        progress.setWindowTitle(self.bank_name or "Bank System")
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        progress.show()
        self.progress = progress

        def started(url: str) -> None:
            progress.close()
            self.server_url = url
            if setup is None:
                self.show_login()
                return
            write_bank_name(data_dir, setup.bank_name)
            self._sign_in_first_admin(url, setup)

        def failed(error: BaseException) -> None:
            progress.close()
            self.local = None
            if isinstance(error, LocalServerError):  # ends with the server's own last line
                text = str(error)
                self.fail(text[:1].upper() + text[1:])
            else:
                self.fail(f"The bundled server did not start: {error}")

        run_task(self.local.start, on_done=started, on_error=failed)

    def _sign_in_first_admin(self, url: str, setup: FirstStart) -> None:
        """Sign in as the admin the first start just created, without asking again."""
        client = BankClient(url)

        def refused(error: BaseException) -> None:
            client.close()
            self.show_login(error=login_error_text(error))

        run_task(client.login, setup.username, setup.password,
                 on_done=lambda _user: self._signed_in(client), on_error=refused)  # fmt: skip

    def fail(self, text: str) -> QMessageBox:
        """Say why the bundled bank cannot run; closing the message ends the app."""
        box = QMessageBox(QMessageBox.Icon.Critical, self.bank_name or "Bank System", text)
        box.setObjectName("localServerError")
        box.finished.connect(lambda _code: self.on_quit())
        self.failure = box
        box.show()
        return box

    def _signed_in(self, client: BankClient) -> None:
        self.server_url = client.base_url
        if self.local is None:  # the bundled server's port changes with every start
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
        self.window = MainWindow(client, client.user, self.settings, bank_name=self.bank_name)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        self.window.session_expired.connect(self.lock)
        self.window.logged_out.connect(self._logged_out)
        self.window.show()

    def lock(self) -> None:
        """Hide the work behind the sign-in dialog until the user signs in again."""
        if self.window is None or not isValid(self.window):
            return  # nothing signed in to hide (the first start, a starting server)
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


def quit_on_signals(app: QApplication) -> None:
    """Quit cleanly on SIGTERM and SIGINT (Ctrl+C), so the bundled server is stopped too."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: app.quit())
    # Python runs signal handlers between bytecodes; a timer lets it in while Qt waits.
    ticker = QTimer(app, interval=250)
    ticker.timeout.connect(lambda: None)
    ticker.start()


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="bank-desktop", description="Bank System teller desktop")
    parser.add_argument("--server", help="server URL, e.g. http://bank.example:8000")
    parser.add_argument(
        "--local",
        action="store_true",
        help="start the bundled bank server; its first start sets up the bank and its admin",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="with --local: a demo bank with well-known passwords (admin/admin123, "
        "teller/teller123), kept apart from the real one",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="with --local: where the bundled bank keeps its data (default: "
        f"{default_data_dir()}; with --demo: {default_data_dir(demo=True)})",
    )
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
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    if (args.demo or args.data_dir) and not args.local:
        parser.error("--demo and --data-dir go with --local")
    if args.self_test:
        return run_self_test(args.self_test_timeout)
    existing = QApplication.instance()
    if existing is None and (problem := display_problem()):
        print(f"bank-desktop: {problem}", file=sys.stderr)
        return 1
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    settings = QSettings(ORGANIZATION, APPLICATION)
    saved = str(settings.value("server/url", "") or "")
    use_local = args.local or (not args.server and not saved)
    desktop = DesktopApp(settings=settings, server_url=args.server or saved)
    if existing is None:
        desktop.on_quit = app.quit
        quit_on_signals(app)
    current = desktop
    minutes = args.idle_minutes or float(
        str(settings.value("idleLockMinutes", DEFAULT_IDLE_MINUTES))
    )
    desktop.idle = IdleWatcher(minutes, desktop.lock)
    app.installEventFilter(desktop.idle)
    app.aboutToQuit.connect(desktop.shutdown)

    if use_local:
        data_dir = Path(args.data_dir).expanduser() if args.data_dir else None
        desktop.start_local(data_dir or default_data_dir(demo=args.demo), demo=args.demo)
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
