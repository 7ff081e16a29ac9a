"""The administration tab: user management and the audit trail (admins only)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QIntValidator, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.admin.dialogs import ROLE_LABELS, ROLES, EditUserDialog, NewUserDialog, error_text
from desktop.admin.models import (
    AUDIT_ACTIONS,
    AUDIT_TARGET_TYPES,
    AuditModel,
    ClientSource,
    UsersModel,
    as_source,
)
from desktop.api.client import ApiError, BankClient, SessionExpired
from desktop.models.paging import PagedTableModel
from desktop.widgets import named
from desktop.workers import run_task
from shared.errors import ErrorCode
from shared.schemas.users import UserPublic

SEARCH_DELAY_MS = 250
_DELETE_ADVICE = {
    ErrorCode.USER_HAS_OPEN_ACCOUNTS: "Withdraw or transfer the money, then delete the user.",
    ErrorCode.BALANCE_NOT_ZERO: "Withdraw or transfer the money, then delete the user.",
    ErrorCode.LAST_ADMIN: "Make another user an active administrator first.",
}


def table_view(name: str, model: PagedTableModel[Any], widths: dict[int, int]) -> QTableView:
    """Return a read-only, row-selecting, server-sorted view of a paged model."""
    view = named(QTableView(), name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for column, width in widths.items():
        view.setColumnWidth(column, width)
    # Show the model's own order first: enabling sorting sorts by the indicator at once.
    sort_column = next(
        (c for c, field in model.SORT_FIELDS.items() if field == model.sort_field), 0
    )
    order = (
        Qt.SortOrder.DescendingOrder if model.sort_order == "desc" else Qt.SortOrder.AscendingOrder
    )
    header.setSortIndicator(sort_column, order)
    view.setSortingEnabled(True)
    return view


def local_midnight(day: QDate) -> datetime:
    """Return the start of a calendar day in the machine's time zone, as an aware time."""
    return datetime.combine(date(day.year(), day.month(), day.day()), time()).astimezone()


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
        self.search = named(QLineEdit(), "userSearchEdit")
        self.search.setPlaceholderText("Search username, name or email…")
        self.search.setClearButtonEnabled(True)
        self.role_filter = named(QComboBox(), "roleFilter")
        self.role_filter.addItem("All roles", None)
        for role in ROLES:
            self.role_filter.addItem(ROLE_LABELS[role], role.value)
        self.new_button = named(QPushButton("New user…"), "newUserButton")
        self.edit_button = named(QPushButton("Edit…"), "editUserButton")
        self.unlock_button = named(QPushButton("Unlock"), "unlockUserButton")
        self.unlock_button.setToolTip("Clear the selected user's login lockout")
        self.delete_button = named(QPushButton("Delete…"), "deleteUserButton")
        self.refresh_button = named(QPushButton("Refresh"), "refreshUsersButton")
        self.table = table_view(
            "usersTable", self.model,
            {0: 56, 1: 120, 2: 160, 3: 200, 4: 70, 5: 55, 6: 75, 7: 200},
        )  # fmt: skip
        self.count = named(QLabel(""), "usersCount")

        row = QHBoxLayout()
        row.addWidget(self.search, 1)
        row.addWidget(self.role_filter)
        for button in (self.new_button, self.edit_button, self.unlock_button,
                       self.delete_button, self.refresh_button):  # fmt: skip
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count)

        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_query)
        self.search.textChanged.connect(lambda _t: self._timer.start())
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
        self.model.total_changed.connect(lambda total: self.count.setText(f"{total:,} users"))
        self._update()

    @property
    def client(self) -> BankClient:
        """Return the client requests go through now."""
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
            self.delete_button.setToolTip("You cannot delete yourself")
        else:
            self.delete_button.setToolTip("Delete the selected user (soft delete)")

    def open_new_dialog(self) -> NewUserDialog:
        """Open the dialog that creates a user with any role."""
        dialog = NewUserDialog(self._client, self)
        dialog.completed.connect(self._created)
        dialog.session_expired.connect(lambda: self.failed.emit(_expired()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _created(self, user: object) -> None:
        if isinstance(user, UserPublic):
            self.message.emit(f"Created {user.username} ({user.role.value})")
        self.model.refresh()
        self.users_changed.emit()

    def open_edit_dialog(self) -> EditUserDialog | None:
        """Open the edit dialog for the selected user."""
        user = self.selected_user()
        if user is None:
            return None
        dialog = EditUserDialog(self._client, UserPublic.model_validate(user.model_dump()), self)
        dialog.completed.connect(self._edited)
        dialog.unlocked.connect(self._unlocked)
        dialog.session_expired.connect(lambda: self.failed.emit(_expired()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _edited(self, user: object) -> None:
        if isinstance(user, UserPublic):
            self.message.emit(f"Saved {user.username}")
        self.refresh()
        self.users_changed.emit()

    def _unlocked(self, user_id: int) -> None:
        self.message.emit(f"Unlocked sign-in of user #{user_id}")

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
        box.setWindowTitle("Delete user")
        box.setText(f"Delete {user.username} ({user.full_name}, #{user.id})?")
        box.setInformativeText(
            "They can no longer sign in and their sessions end. Their zero-balance accounts "
            "are closed with them; history and audit events are kept, and the username stays "
            "taken. The server refuses while an account holds money or if they are the last "
            "administrator."
        )
        delete = named(box.addButton("Delete user", QMessageBox.ButtonRole.DestructiveRole),
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
                self.message.emit(f"Deleted {user.username}")
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
        box = named(QMessageBox(self), "deleteRefusedMessage")
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("Delete user")
        box.setText(f"{user.username} was not deleted: {error_text(error)}")
        advice = _DELETE_ADVICE.get(ErrorCode(error.code)) if error.code in set(ErrorCode) else None
        box.setInformativeText(f"Nothing was changed. {advice or ''}".strip())
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message.emit(f"Not deleted: {error_text(error)}")
        return box


def select_when_loaded(table: QTableView, model: PagedTableModel[Any], item_id: int) -> None:
    """Select an item's row once a reloading model shows it again (until the next reset)."""
    connected = True

    def select(*_args: object) -> None:
        row = model.row_of(item_id)
        if row is None:
            return
        stop()
        table.selectRow(row)

    def stop(*_args: object) -> None:
        nonlocal connected
        if connected:
            connected = False
            model.rowsInserted.disconnect(select)
            model.modelReset.disconnect(stop)

    model.rowsInserted.connect(select)
    model.modelReset.connect(stop)


def _expired() -> BaseException:
    return SessionExpired("the session ended; sign in again")


class AuditView(QWidget):
    """The audit trail, newest first, filtered by actor, action, target and dates."""

    failed = Signal(object)

    def __init__(self, client: ClientSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self.model = AuditModel(client, parent=self)
        self.actor = named(QLineEdit(), "actorIdEdit")
        self.actor.setPlaceholderText("actor id")
        self.actor.setValidator(QIntValidator(0, 2**31 - 1, self))
        self.actor.setMaximumWidth(90)
        self.action = named(QComboBox(), "actionFilter")
        self.action.addItem("All actions", None)
        for name in AUDIT_ACTIONS:
            self.action.addItem(name, name)
        self.target_type = named(QComboBox(), "targetTypeFilter")
        self.target_type.addItem("Any target", None)
        for kind in AUDIT_TARGET_TYPES:
            self.target_type.addItem(kind, kind)
        self.target_id = named(QLineEdit(), "targetIdEdit")
        self.target_id.setPlaceholderText("target id")
        self.target_id.setValidator(QIntValidator(0, 2**31 - 1, self))
        self.target_id.setMaximumWidth(90)
        today = QDate.currentDate()
        self.since_check = named(QCheckBox("From"), "sinceCheck")
        self.since = named(QDateEdit(today.addDays(-7)), "sinceDate")
        self.until_check = named(QCheckBox("to"), "untilCheck")
        self.until = named(QDateEdit(today), "untilDate")
        for day_edit in (self.since, self.until):
            day_edit.setCalendarPopup(True)
            day_edit.setDisplayFormat("yyyy-MM-dd")
            day_edit.setEnabled(False)
        self.until.setToolTip("Up to and including this day (your time zone)")
        self.since.setToolTip("From the start of this day (your time zone)")
        self.clear_button = named(QPushButton("Clear"), "clearAuditFiltersButton")
        self.refresh_button = named(QPushButton("Refresh"), "refreshAuditButton")
        self.table = table_view(
            "auditTable", self.model,
            {0: 60, 1: 145, 2: 60, 3: 135, 4: 180, 5: 100, 6: 100},
        )  # fmt: skip
        self.count = named(QLabel(""), "auditCount")

        row = QHBoxLayout()
        row.addWidget(QLabel("Actor"))
        row.addWidget(self.actor)
        row.addWidget(self.action)
        row.addWidget(self.target_type)
        row.addWidget(self.target_id)
        row.addWidget(self.since_check)
        row.addWidget(self.since)
        row.addWidget(self.until_check)
        row.addWidget(self.until)
        row.addStretch(1)
        row.addWidget(self.clear_button)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count)

        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_filters)
        for id_edit in (self.actor, self.target_id):
            id_edit.textChanged.connect(lambda _t: self._timer.start())
        for combo in (self.action, self.target_type):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filters())
        for check, date_edit in ((self.since_check, self.since), (self.until_check, self.until)):
            check.toggled.connect(date_edit.setEnabled)
            check.toggled.connect(lambda _on: self.apply_filters())
            date_edit.dateChanged.connect(
                lambda _d, on=check: self._timer.start() if on.isChecked() else None
            )
        self.clear_button.clicked.connect(self.clear_filters)
        self.refresh_button.clicked.connect(self.model.refresh)
        self.model.load_failed.connect(self.failed)
        self.model.total_changed.connect(lambda total: self.count.setText(f"{total:,} events"))

    def filters(self) -> dict[str, Any]:
        """Return the filters the widgets describe, as AuditModel.set_filters takes them."""
        actor, target = self.actor.text().strip(), self.target_id.text().strip()
        return {
            "actor_id": int(actor) if actor else None,
            "action": self.action.currentData(),
            "target_type": self.target_type.currentData(),
            "target_id": int(target) if target else None,
            "since": local_midnight(self.since.date()) if self.since_check.isChecked() else None,
            # The chosen day is included: the server's `until` is exclusive.
            "until": local_midnight(self.until.date()) + timedelta(days=1)
            if self.until_check.isChecked() else None,
        }  # fmt: skip

    def apply_filters(self) -> None:
        """Load the first page of the events matching the filters."""
        self._timer.stop()
        self.model.set_filters(**self.filters())

    def clear_filters(self) -> None:
        """Show every event again."""
        for widget in (self.actor, self.target_id, self.action, self.target_type,
                       self.since_check, self.until_check):  # fmt: skip
            widget.blockSignals(True)
        self.actor.clear()
        self.target_id.clear()
        self.action.setCurrentIndex(0)
        self.target_type.setCurrentIndex(0)
        self.since_check.setChecked(False)
        self.until_check.setChecked(False)
        self.since.setEnabled(False)
        self.until.setEnabled(False)
        for widget in (self.actor, self.target_id, self.action, self.target_type,
                       self.since_check, self.until_check):  # fmt: skip
            widget.blockSignals(False)
        self.apply_filters()


class AdminPanel(QWidget):
    """Users and the audit trail in two tabs; each loads when first shown."""

    failed = Signal(object)
    message = Signal(str)
    users_changed = Signal()

    def __init__(self, client: BankClient | ClientSource, me: UserPublic,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("adminPanel")
        source = as_source(client)
        self.users = UsersView(source, me)
        self.audit = AuditView(source)
        self.tabs = named(QTabWidget(), "adminTabs")
        self.tabs.addTab(self.users, "Users")
        self.tabs.addTab(self.audit, "Audit trail")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.users.failed.connect(self.failed)
        self.users.message.connect(self.message)
        self.users.users_changed.connect(self.users_changed)
        self.audit.failed.connect(self.failed)
        self.tabs.currentChanged.connect(lambda _i: self._load_current())

    @property
    def users_model(self) -> UsersModel:
        """Return the users table's model."""
        return self.users.model

    @property
    def audit_model(self) -> AuditModel:
        """Return the audit table's model."""
        return self.audit.model

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Load the visible list the first time the panel is shown."""
        super().showEvent(event)
        self._load_current()

    def _load_current(self) -> None:
        if self.tabs.currentWidget() is self.users and self.users_model.total is None \
                and not self.users_model.loading:  # fmt: skip
            self.users.apply_query()
        elif self.tabs.currentWidget() is self.audit and self.audit_model.total is None \
                and not self.audit_model.loading:  # fmt: skip
            self.audit.apply_filters()

    def refresh(self) -> None:
        """Reload the list in view."""
        if self.tabs.currentWidget() is self.users:
            self.users.refresh()
        else:
            self.audit.model.refresh()
