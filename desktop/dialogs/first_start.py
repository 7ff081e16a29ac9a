"""The bundled bank's first start: ask for the bank's name and its first administrator.

The answer is passed to the bundled server as BANK_NAME, ADMIN_USERNAME and ADMIN_PASSWORD,
which creates that admin; the desktop then signs in as them. OK stays disabled, with the
reason shown, until every field follows the API's rules (a staff password: 12 characters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets import named
from shared.schemas.users import USERNAME_RE

BANK_NAME_MAX = 100
STAFF_PASSWORD_MIN = 12  # staff hold everyone's money: more than the API's 8 for customers
PASSWORD_MAX = 128  # the API's limit


@dataclass(frozen=True)
class FirstStart:
    """What the first start asked for: the bank's name and its first admin's credentials."""

    bank_name: str
    username: str
    password: str = field(repr=False)


class FirstStartDialog(QDialog):
    """Name the bank and create its first admin; `setup()` holds the answer after accept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstStartDialog")
        self.setWindowTitle(self.tr("Set up the bank — Bank System"))
        self.setMinimumWidth(460)

        title = QLabel(self.tr("<h2>Set up your bank</h2>"))
        intro = named(
            QLabel(
                self.tr(
                    "This is the first start of the bank on this computer. Give it a name "
                    "and create its first administrator; you are signed in as them, and they "
                    "can then add the tellers."
                )
            ),
            "firstStartIntro",
        )
        intro.setWordWrap(True)
        self.bank_name_edit = named(QLineEdit(), "bankNameEdit")
        self.bank_name_edit.setPlaceholderText(self.tr("e.g. Riverside Savings Bank"))
        self.bank_name_edit.setMaxLength(BANK_NAME_MAX + 20)  # long enough to say it is too long
        self.username_edit = named(QLineEdit(), "adminUsernameEdit")
        self.username_edit.setPlaceholderText(self.tr("e.g. admin"))
        self.password_edit = named(QLineEdit(), "adminPasswordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = named(QLineEdit(), "adminPasswordRepeatEdit")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        rules = named(
            QLabel(
                self.tr(
                    "Username: 3 to 32 of a-z, 0-9, '_', '.' and '-'. Password: at least "
                    "{minimum} characters, not the username."
                ).format(minimum=STAFF_PASSWORD_MIN)
            ),
            "firstStartRules",
        )
        rules.setWordWrap(True)
        rules.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.reason_label = named(QLabel(), "firstStartReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextFormat(Qt.TextFormat.PlainText)  # the bank's name as typed
        bold = self.reason_label.font()
        bold.setBold(True)
        self.reason_label.setFont(bold)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = named(
            self.buttons.button(QDialogButtonBox.StandardButton.Ok), "createBankButton"
        )
        self.ok_button.setText(self.tr("Create the bank"))
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        assert isinstance(cancel, QPushButton)
        named(cancel, "quitButton").setText(self.tr("Quit"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.tr("Bank name"), self.bank_name_edit)
        form.addRow(self.tr("Admin username"), self.username_edit)
        form.addRow(self.tr("Password"), self.password_edit)
        form.addRow(self.tr("Repeat password"), self.repeat_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(rules)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.buttons)

        for edit in (self.bank_name_edit, self.username_edit, self.password_edit,
                     self.repeat_edit):  # fmt: skip
            edit.textChanged.connect(self._update)
        self._update()
        self.bank_name_edit.setFocus()

    def reason(self) -> str:
        """Return why the answer cannot be used yet, or "" when it can."""
        name = self.bank_name_edit.text().strip()
        username = self._username()
        password = self.password_edit.text()
        if not name:
            return self.tr("Enter the bank's name.")
        if len(name) > BANK_NAME_MAX:
            return self.tr("The bank's name is at most {n} characters.").format(n=BANK_NAME_MAX)
        if not name.isprintable():
            return self.tr("The bank's name must be printable characters only.")
        if not username:
            return self.tr("Enter the administrator's username.")
        if not USERNAME_RE.fullmatch(username):
            return self.tr("The username is 3 to 32 of a-z, 0-9, '_', '.' and '-'.")
        if len(password) < STAFF_PASSWORD_MIN:
            return self.tr("The password needs at least {minimum} characters ({n} so far).").format(
                minimum=STAFF_PASSWORD_MIN, n=len(password)
            )
        if len(password) > PASSWORD_MAX:
            return self.tr("The password is at most {n} characters.").format(n=PASSWORD_MAX)
        if password.lower() == username:
            return self.tr("The password must not be the username.")
        if not self.repeat_edit.text():
            return self.tr("Type the password again.")
        if self.repeat_edit.text() != password:
            return self.tr("The two passwords differ.")
        return ""

    def _username(self) -> str:
        text = self.username_edit.text().strip()
        return text.lower() if text.isascii() else text  # the API folds ASCII names only

    def _update(self) -> None:
        reason = self.reason()
        ready = self.tr("Ready: {bank} with the administrator {user}.").format(
            bank=self.bank_name_edit.text().strip(), user=self._username()
        )
        self.reason_label.setText(reason or ready)
        self.ok_button.setEnabled(not reason)
        self.ok_button.setToolTip(reason)

    def accept(self) -> None:
        """Close with the answer, only when it can be used (Enter on a field comes here too)."""
        if not self.reason():
            super().accept()

    def setup(self) -> FirstStart:
        """Return the answer (valid once the dialog was accepted)."""
        return FirstStart(
            bank_name=self.bank_name_edit.text().strip(),
            username=self._username(),
            password=self.password_edit.text(),
        )

    def forget_password(self) -> None:
        """Clear both password fields once the answer has been taken."""
        self.password_edit.clear()
        self.repeat_edit.clear()
