"""User management (admins): search, filter, sort and page the users; create, edit, delete."""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)

from desktop import messages, text
from desktop.admin.dialogs import EditUserDialog
from desktop.admin.models import ClientSource, UsersModel
from desktop.api.client import ApiError, BankClient, SessionExpired
from desktop.dialogs.form import FormDialog
from desktop.dialogs.user_form import NewUserDialog, staff_roles
from desktop.text import plural, tr
from desktop.widgets import named
from desktop.widgets.search import SearchField, choice_box, list_layout
from desktop.widgets.tables import PagedTable, select_when_loaded
from desktop.workers import run_task
from shared.schemas.users import UserPublic


def expired() -> BaseException:
    """Return the error a dialog reports when the session ended under it."""
    return SessionExpired("the session ended; sign in again")


class UsersView(QWidget):
    """Search, filter, sort and page the users; create, edit, unlock and delete them."""

    failed = Signal(object)
    message = Signal(str)
    users_changed = Signal()

    def __init__(self, client: ClientSource, me: UserPublic, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("usersView")
        self._client = client
        self.me = me
        self.model = UsersModel(client, parent=self)
        self.table = PagedTable("usersTable", self.model)
        self.search = SearchField("userSearchEdit", self.table)
        self.search.setPlaceholderText(tr("Search username, name or email…"))
        self.role_filter = choice_box(
            "roleFilter", tr("All roles"), ((text.role(r), r.value) for r in staff_roles())
        )
        self.new_button = named(QPushButton(tr("New user…")), "newUserButton")
        self.edit_button = named(QPushButton(tr("Edit…")), "editUserButton")
        self.unlock_button = named(QPushButton(tr("Unlock")), "unlockUserButton")
        self.unlock_button.setToolTip(tr("Clear the selected user's login lockout"))
        self.delete_button = named(QPushButton(tr("Delete…")), "deleteUserButton")
        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshUsersButton")
        self.count = named(QLabel(""), "usersCount")

        tools = (self.role_filter, self.new_button, self.edit_button, self.unlock_button,
                 self.delete_button, self.refresh_button)  # fmt: skip
        list_layout(self, self.search, tools, self.table, self.count)
        self.search.settled.connect(lambda _text: self.apply_query())
        self.role_filter.currentIndexChanged.connect(lambda _i: self.apply_query())
        self.new_button.clicked.connect(self.open_new_dialog)
        self.edit_button.clicked.connect(self.open_edit_dialog)
        self.unlock_button.clicked.connect(self.unlock_selected)
        self.delete_button.clicked.connect(self.confirm_delete)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.doubleClicked.connect(lambda _index: self.open_edit_dialog())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update())
        self.model.modelReset.connect(self._update)
        self.model.load_failed.connect(self.failed)
        self.model.total_changed.connect(
            lambda total: self.count.setText(plural(total, tr("%n user"), tr("%n users")))
        )
        self._update()

    @property
    def client(self) -> BankClient:
        """Return the client requests go through."""
        return self._client()

    def apply_query(self) -> None:
        """Load the first page for the search box and the role filter."""
        self.model.set_query(self.search.text().strip(), self.role_filter.currentData())

    def refresh(self) -> None:
        """Reload the list, keeping the selected user selected when it comes back."""
        selected = self.selected_user()
        self.model.refresh()
        if selected is not None:
            select_when_loaded(self.table, self.model, selected.id)

    def selected_user(self) -> UserPublic | None:
        """Return the selected user, or None."""
        index = self.table.currentIndex()
        return self.model.user_at(index.row()) if index.isValid() else None

    def _update(self) -> None:
        user = self.selected_user()
        for button in (self.edit_button, self.unlock_button, self.delete_button):
            button.setEnabled(user is not None)
        self.delete_button.setEnabled(user is not None and user.id != self.me.id)
        if user is not None and user.id == self.me.id:
            self.delete_button.setToolTip(tr("You cannot delete yourself"))
        else:
            self.delete_button.setToolTip(tr("Delete the selected user (soft delete)"))

    def _open[D: FormDialog](self, dialog: D, done: Callable[[object], None]) -> D:
        dialog.completed.connect(done)
        dialog.session_expired.connect(lambda: self.failed.emit(expired()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_new_dialog(self) -> NewUserDialog:
        """Open the dialog that creates a user with any role."""
        dialog = NewUserDialog(self.client, staff_roles(), offer_account=False, parent=self)
        return self._open(dialog, self._created)

    def _created(self, user: object) -> None:
        if isinstance(user, UserPublic):
            self.message.emit(tr("Created {username} ({role})").format(
                username=user.username, role=text.role(user.role).lower()))  # fmt: skip
        self.model.refresh()
        self.users_changed.emit()

    def open_edit_dialog(self) -> EditUserDialog | None:
        """Open the edit dialog for the selected user."""
        user = self.selected_user()
        if user is None:
            return None
        dialog = EditUserDialog(self.client, UserPublic.model_validate(user.model_dump()), self)
        dialog.unlocked.connect(self._unlocked)
        return self._open(dialog, self._edited)

    def _edited(self, user: object) -> None:
        if isinstance(user, UserPublic):
            self.message.emit(tr("Saved {username}").format(username=user.username))
        self.refresh()
        self.users_changed.emit()

    def _unlocked(self, user_id: int) -> None:
        user = self.model.item_at(self.model.row_of(user_id) or -1)
        name = user.username if user is not None else tr("user no. {id}").format(id=user_id)
        self.message.emit(tr("Unlocked sign-in of {name}").format(name=name))

    def unlock_selected(self) -> None:
        """Clear the selected user's login lockout."""
        user = self.selected_user()
        if user is None:
            return
        self.unlock_button.setEnabled(False)

        def done(_result: object) -> None:
            if shiboken6.isValid(self):
                self._update()
                self._unlocked(user.id)

        def failed(error: BaseException) -> None:
            if shiboken6.isValid(self):
                self._update()
                self.failed.emit(error)

        run_task(self.client.unlock_user, user.id, on_done=done, on_error=failed)

    def confirm_delete(self) -> QMessageBox | None:
        """Ask, naming the user, whether to delete the selected user; delete on Yes."""
        user = self.selected_user()
        if user is None or user.id == self.me.id:
            return None
        box = named(QMessageBox(self), "deleteUserConfirm")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(tr("Delete user"))
        box.setTextFormat(Qt.TextFormat.PlainText)  # names are data, never markup
        box.setText(tr("Delete {username} ({name})?").format(
            username=user.username, name=user.full_name))  # fmt: skip
        box.setInformativeText(tr(
            "They can no longer sign in and their sessions end. Their zero-balance accounts "
            "are closed with them; history and audit events are kept, and the username stays "
            "taken. The server refuses while an account holds money or if they are the last "
            "administrator."
        ))  # fmt: skip
        delete = named(box.addButton(tr("Delete user"), QMessageBox.ButtonRole.DestructiveRole),
                       "confirmDeleteButton")  # fmt: skip
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(button: QAbstractButton) -> None:
            if button is delete:
                self._delete(user)

        box.buttonClicked.connect(clicked)
        box.open()
        return box

    def _delete(self, user: UserPublic) -> None:
        self.delete_button.setEnabled(False)

        def done(_result: object) -> None:
            if shiboken6.isValid(self):
                self.message.emit(tr("Deleted {username}").format(username=user.username))
                self.model.refresh()
                self._update()
                self.users_changed.emit()

        def failed(error: BaseException) -> None:
            if not shiboken6.isValid(self):
                return
            self._update()
            if isinstance(error, ApiError) and error.status == 409:
                self._refused(user, error)
            else:
                self.failed.emit(error)

        run_task(self.client.delete_user, user.id, on_done=done, on_error=failed)

    def _refused(self, user: UserPublic, error: ApiError) -> QMessageBox:
        reason = messages.explain(error).text
        box = named(QMessageBox(self), "deleteRefusedMessage")
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(tr("Delete user"))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(tr("{username} was not deleted: {reason}").format(
            username=user.username, reason=reason))  # fmt: skip
        box.setInformativeText(tr("Nothing was changed."))
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message.emit(tr("Not deleted: {reason}").format(reason=reason))
        return box
