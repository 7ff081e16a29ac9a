"""The sign-in dialog: server address, username, password; the network call runs off-thread.

It signs in the app's one client (again: after a sign-out, an expiry or a lock), never a new one.
At a lock it is the only way back: Escape and closing do nothing; "Sign out" gives up instead.
"""

from __future__ import annotations

import html
from contextlib import suppress

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import messages
from desktop.api.client import (
    ApiError,
    BankClient,
    InsecureServer,
    NetworkError,
    SessionExpired,
)
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.users import UserPublic


def login_error_text(error: BaseException) -> str:
    """Say in plain words why signing in failed."""
    if isinstance(error, InsecureServer):
        return tr(
            "This address is not secure: use https:// (plain http:// only for this computer)."
        )
    if isinstance(error, NetworkError) and not error.timed_out:
        return tr("Cannot reach the bank's server at this address.")
    return messages.explain(error).text


def sign_in(client: BankClient, server_url: str, username: str, password: str) -> UserPublic:
    """Sign `client` in at `server_url`; first end the session of another user it still holds."""
    previous = client.user
    if client.signed_in and previous is not None and previous.username != username:
        # Another person at the lock screen: the first one's session must not outlive them.
        with suppress(ApiError, NetworkError, SessionExpired):
            client.logout()
    if server_url.rstrip("/") != client.base_url:
        client.set_server(server_url)
    return client.login(username, password)


class LoginDialog(QDialog):
    """Ask for the server and credentials and sign `client` in; `signed_in(user)` follows."""

    signed_in = Signal(object)
    sign_out = Signal()

    def __init__(
        self,
        client: BankClient,
        *,
        username: str = "",
        lock_server: bool = False,
        bank_name: str | None = None,
        locked: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        name = bank_name or "Bank System"
        self.setWindowTitle(f"Sign in — {name}")
        self.setMinimumWidth(380)
        self.client = client
        self.locked = locked

        title = QLabel(f"<h2>{html.escape(name)}</h2><p>Sign in to continue.</p>")
        self.server_edit = named(QLineEdit(client.base_url), "serverUrlEdit")
        self.server_edit.setReadOnly(lock_server)
        self.username_edit = named(QLineEdit(username), "usernameEdit")
        self.username_edit.setPlaceholderText("username")
        self.password_edit = named(QLineEdit(), "passwordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("password")
        self.error_label = ToneLabel("loginError")
        self.error_label.show_text("", Tone.ERROR)
        self.login_button = named(QPushButton("Sign in"), "loginButton")
        self.login_button.setDefault(True)
        self.login_button.clicked.connect(self.submit)
        for edit in (self.server_edit, self.username_edit, self.password_edit):
            edit.textChanged.connect(self._update_button)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Server", self.server_edit)
        form.addRow("Username", self.username_edit)
        form.addRow("Password", self.password_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        buttons = QHBoxLayout()
        if locked:
            self.sign_out_button = named(QPushButton(tr("Sign out")), "signOutButton")
            self.sign_out_button.setAutoDefault(False)
            self.sign_out_button.clicked.connect(self._sign_out)
            buttons.addWidget(self.sign_out_button)
        buttons.addStretch(1)
        buttons.addWidget(self.login_button)
        layout.addLayout(buttons)
        self._update_button()
        (self.password_edit if username else self.username_edit).setFocus()

    def reject(self) -> None:
        """Close (Escape, the title bar's X), except at a lock: there only sign in or out."""
        if not self.locked:
            super().reject()

    def _sign_out(self) -> None:
        self.locked = False
        self.sign_out.emit()
        super().reject()

    def _update_button(self) -> None:
        ready = all(e.text().strip() for e in (self.server_edit, self.username_edit))
        self.login_button.setEnabled(ready and bool(self.password_edit.text()))

    def _busy(self, busy: bool) -> None:
        for widget in (self.server_edit, self.username_edit, self.password_edit):
            widget.setEnabled(not busy)
        self.login_button.setEnabled(not busy)
        if self.locked:
            self.sign_out_button.setEnabled(not busy)
        self.login_button.setText("Signing in…" if busy else "Sign in")

    def submit(self) -> None:
        """Sign in on a worker thread."""
        if not self.login_button.isEnabled():
            return
        self.error_label.hide()
        self._busy(True)
        run_task(
            sign_in,
            self.client,
            self.server_edit.text().strip(),
            self.username_edit.text().strip(),
            self.password_edit.text(),
            on_done=self._succeeded,
            on_error=self._failed,
        )

    def _succeeded(self, user: UserPublic) -> None:
        self._busy(False)
        self.signed_in.emit(user)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._busy(False)
        self._update_button()
        self.error_label.show_text(login_error_text(error), Tone.ERROR)
        self.password_edit.selectAll()
        self.password_edit.setFocus()
