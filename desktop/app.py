"""The running desktop around its one client: sign in, the main window, the bundled server.

The bundled bank (`--local`) is a real bank: its first start asks for the bank's name and its
first admin (desktop/dialogs/first_start.py), starts the server with them and signs in as
that admin; later starts sign in normally. `--local --demo` starts a demo bank instead.

One `BankClient` serves the app's whole life (desktop/cli.py builds it): every sign-in, also
as another user, re-authenticates it in place, so windows, models and dialogs never swap it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog
from shiboken6 import isValid

from desktop.api.client import BankClient
from desktop.dialogs.first_start import FirstStart, FirstStartDialog
from desktop.dialogs.login import LoginDialog, login_error_text
from desktop.local_server import (
    LOG_FILE,
    LocalServer,
    LocalServerError,
    is_initialised,
    read_bank_name,
    write_bank_name,
)
from desktop.main_window import MainWindow
from desktop.workers import run_task
from shared.schemas.users import UserPublic

# Settings group of remembered-device tokens (X-Device-Token), one key per username.
DEVICES_GROUP = "devices"


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
    """The running desktop: its settings, its one client, server and windows (tests drive these).

    The client is given, not made: whoever builds the app (desktop/cli.py) owns its making,
    and `shutdown` closes it.
    """

    settings: QSettings
    client: BankClient
    local: LocalServer | None = None
    login: LoginDialog | None = None
    window: MainWindow | None = None
    idle: IdleWatcher | None = None
    extras: list[Any] = field(default_factory=list)
    bank_name: str | None = None
    first_start: FirstStartDialog | None = None
    progress: QProgressDialog | None = None
    failure: QMessageBox | None = None
    # What ends the app when the bundled bank cannot run (app.quit; nothing inside tests).
    on_quit: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        # The device tokens the server gave on earlier sign-ins, sent again on the next ones.
        self.settings.beginGroup(DEVICES_GROUP)
        try:
            for name in self.settings.childKeys():
                self.client.device_tokens[name] = str(self.settings.value(name))
        finally:
            self.settings.endGroup()

    @property
    def server_url(self) -> str:
        """Return the address of the server the client talks to."""
        return self.client.base_url

    def watch_idle(self, minutes: float, app: QApplication) -> IdleWatcher:
        """Lock after `minutes` without keyboard or mouse input anywhere in `app`."""
        self.idle = IdleWatcher(minutes, self.lock)
        app.installEventFilter(self.idle)
        return self.idle

    def show_login(self, *, relock: bool = False, error: str = "") -> LoginDialog:
        """Show the sign-in dialog (again, with the server fixed, to unlock or re-authenticate)."""
        user = self.client.user
        username = user.username if relock and user is not None else ""
        dialog = LoginDialog(
            self.client,
            username=username or str(self.settings.value("login/username", "")),
            lock_server=relock or self.local is not None,
            bank_name=self.bank_name,
            locked=relock,
        )
        dialog.signed_in.connect(self._signed_in)
        dialog.sign_out.connect(self._sign_out_at_lock)
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
            self.client.set_server(url)
            if setup is None:
                self.show_login()
                return
            write_bank_name(data_dir, setup.bank_name)
            self._sign_in_first_admin(setup)

        def failed(error: BaseException) -> None:
            progress.close()
            self.local = None
            if isinstance(error, LocalServerError):  # ends with the server's own last line
                text = str(error)
                self.fail(text[:1].upper() + text[1:])
            else:
                self.fail(f"The bundled server did not start: {error}")

        run_task(self.local.start, on_done=started, on_error=failed)

    def _sign_in_first_admin(self, setup: FirstStart) -> None:
        """Sign in as the admin the first start just created, without asking again."""

        def refused(error: BaseException) -> None:
            self.show_login(error=login_error_text(error))

        run_task(self.client.login, setup.username, setup.password,
                 on_done=self._signed_in, on_error=refused)  # fmt: skip

    def fail(self, text: str) -> QMessageBox:
        """Say why the bundled bank cannot run; closing the message ends the app."""
        box = QMessageBox(QMessageBox.Icon.Critical, self.bank_name or "Bank System", text)
        box.setObjectName("localServerError")
        box.finished.connect(lambda _code: self.on_quit())
        self.failure = box
        box.show()
        return box

    def _signed_in(self, user: UserPublic) -> None:
        """Unlock the window the same user left, or open one for a new user on the same client."""
        if self.local is None:  # the bundled server's port changes with every start
            self.settings.setValue("server/url", self.client.base_url)
        self.settings.setValue("login/username", user.username)
        device = self.client.device_tokens.get(user.username)
        if device:  # sent on this username's next sign-ins: slowed down, never locked out
            self.settings.setValue(f"{DEVICES_GROUP}/{user.username}", device)
        old = self.window if self.window is not None and isValid(self.window) else None
        if old is not None and old.user.id == user.id:
            # Re-authenticated after expiry or an idle lock: keep the window as it was.
            old.setEnabled(True)
            old.set_locked(False)
            old.banner.hide()
            return
        self.window = MainWindow(self.client, user, self.settings, bank_name=self.bank_name)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        self.window.session_expired.connect(self.lock)
        self.window.logged_out.connect(self._logged_out)
        self.window.show()
        if old is not None:  # another user signed in on the lock: the first one's window goes
            self._retire(old)

    def _retire(self, window: MainWindow) -> None:
        """Close a window for good: it no longer locks the app, and Qt deletes it and its timers.

        Its models and timers would otherwise go on using the shared client for a user who
        has gone (a token check that fails would lock the next user's window).
        """
        window.session_expired.disconnect(self.lock)
        window.logged_out.disconnect(self._logged_out)
        window.close()
        window.deleteLater()

    def lock(self) -> None:
        """Hide the work behind the sign-in dialog until the user signs in again."""
        if self.window is None or not isValid(self.window):
            return  # nothing signed in to hide (the first start, a starting server)
        self.window.set_locked(True)  # names and balances must not stay readable behind it
        self.window.setEnabled(False)
        if self.login is None or not self.login.isVisible():
            self.show_login(relock=True)

    def _sign_out_at_lock(self) -> None:
        """End the locked window's session; the normal sign-in follows (`_logged_out`)."""
        if self.window is not None and isValid(self.window):
            self.window.logout()
        else:
            self.show_login()

    def _logged_out(self) -> None:
        # The sign-in dialog first: with no window left on screen, Qt would end the app.
        self.show_login()
        window, self.window = self.window, None
        if window is not None and isValid(window):
            self._retire(window)

    def shutdown(self) -> None:
        """Close the client and stop the bundled server, if this app started one."""
        self.client.close()
        if self.local is not None:
            self.local.stop()
            self.local = None
