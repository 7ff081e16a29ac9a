"""The administration tab (admins): user management and the audit trail, in two tabs."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from desktop.admin.audit_model import AuditModel
from desktop.admin.audit_view import AuditView
from desktop.admin.models import ClientSource, UsersModel, as_source
from desktop.admin.policies import PoliciesView
from desktop.admin.users_view import UsersView
from desktop.api.client import BankClient
from desktop.text import tr
from desktop.widgets import named
from shared.schemas.users import UserPublic


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
        self.tabs.addTab(self.users, tr("Users"))
        self.tabs.addTab(self.audit, tr("Audit trail"))
        self.policies = PoliciesView(source)
        self.tabs.addTab(self.policies, tr("Approval policies"))
        self.policies.failed.connect(self.failed)
        self.policies.message.connect(self.message)
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

    def search_field(self) -> QWidget:
        """Return the search box of the list in view (Ctrl+F puts the cursor there)."""
        return self.users.search if self.tabs.currentWidget() is self.users else self.audit.actor

    def refresh(self) -> None:
        """Reload the list in view."""
        if self.tabs.currentWidget() is self.users:
            self.users.refresh()
        elif self.tabs.currentWidget() is self.policies:
            self.policies.refresh()
        else:
            self.audit.model.refresh()
