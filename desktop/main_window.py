"""The main window: accounts, customers, statistics and administration in tabs, every action
in a menu with a shortcut, and a lock that hides everything until the password is given."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop import messages, roles, text
from desktop.admin import AdminPanel, StatsPanel
from desktop.api.client import BankClient, NetworkError, SessionExpired
from desktop.dialogs.about import AboutDialog, Places
from desktop.dialogs.account_admin import AccountAdmin
from desktop.dialogs.forms import AccountDialog, EditCustomerDialog
from desktop.dialogs.movement import Kind, MovementDialog, movement_dialog
from desktop.dialogs.reverse import ReverseDialog
from desktop.dialogs.user_form import NewUserDialog
from desktop.statement import StatementExporter
from desktop.tabs.accounts import AccountsTab
from desktop.tabs.approvals import ApprovalsTab, badge_title
from desktop.tabs.customers import CustomersTab
from desktop.tabs.end_of_day import EndOfDayTab
from desktop.tabs.till import TillTab
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.banner import Banner
from desktop.widgets.day_banner import DayBanner
from desktop.widgets.files import FileChooser
from desktop.widgets.global_search import GlobalSearch
from desktop.widgets.lock import WindowLock
from desktop.widgets.menus import place_actions
from desktop.widgets.tables import select_when_loaded
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountStatus, Role
from shared.schemas.transactions import TransactionPublic, TransferPublic
from shared.schemas.users import UserPublic

TOKEN_CHECK_MS = 20_000
REFRESH_WHEN_LEFT_S = 120.0
CUSTOMERS_TAB = 1


class MainWindow(QMainWindow):
    """Everything a teller (or an admin) does in a day, driven from one window."""

    session_expired = Signal()
    logged_out = Signal()
    statement_saved = Signal(str)

    def __init__(
        self,
        client: BankClient,
        user: UserPublic,
        settings: QSettings | None = None,
        places: Places | None = None,
        *,
        bank_name: str | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.client = client
        self.user = user
        self.settings = settings
        self.places = places or Places(settings.fileName() if settings else "")
        self.is_staff = roles.is_staff(user.role)
        self.administers = roles.administers_accounts(user.role)
        title = tr("{bank} — {name} ({role})")
        bank = bank_name or tr("Bank System")
        self.setWindowTitle(title.format(bank=bank, name=user.full_name, role=text.role(user.role)))
        self.resize(1200, 760)
        self.files = FileChooser(settings)
        # Owned by the window: a page that arrives after the window is gone is dropped.
        self.accounts_tab = AccountsTab(client, administers=self.administers, role=user.role)
        self.customers_tab = CustomersTab(client) if self.is_staff else None
        self.approvals_tab = ApprovalsTab(client, user) if self.is_staff else None
        self.account_admin = AccountAdmin(client, self)
        self.statements = StatementExporter(client, self.files, self)
        # The parts tests and tools reach for, by the names they always had.
        tab, customers = self.accounts_tab, self.customers_tab
        self.accounts_model, self.transactions_model = tab.accounts_model, tab.transactions_model
        self.accounts_table, self.search_edit, self.chart = tab.table, tab.search, tab.chart
        self.customers_model = customers.model if customers else None
        self.customers_table = customers.table if customers else None
        self.customer_search = customers.search if customers else None
        self.global_search = GlobalSearch(client, self) if self.is_staff else None
        self._build_actions()
        self._build_ui()
        self._wire()
        self._token_timer = QTimer(self, interval=TOKEN_CHECK_MS)
        self._token_timer.timeout.connect(self._keep_token_fresh)
        self._token_timer.start()
        self.accounts_model.set_query()
        if self.customers_model is not None:
            self.customers_model.set_query()
        self._update_actions()

    # -- construction ------------------------------------------------------------------

    def _action(self, name: str, label: str, shortcut: str, slot: Callable[[], object]) -> QAction:
        action = named(QAction(label, self), name)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{label} ({QKeySequence(shortcut).toString()})")
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.deposit_action = a("depositAction", tr("Deposit"), "Ctrl+D",
                                lambda: self.open_movement("deposit"))  # fmt: skip
        self.withdraw_action = a("withdrawAction", tr("Withdraw"), "Ctrl+Shift+W",
                                 lambda: self.open_movement("withdraw"))  # fmt: skip
        self.transfer_action = a("transferAction", tr("Transfer"), "Ctrl+T",
                                 lambda: self.open_movement("transfer"))  # fmt: skip
        self.new_account_action = a("newAccountAction", tr("Open account"), "Ctrl+N",
                                    self.open_account_dialog)  # fmt: skip
        self.new_customer_action = a("newCustomerAction", tr("New customer"), "Ctrl+Shift+N",
                                     self.open_customer_dialog)  # fmt: skip
        self.edit_customer_action = a("editCustomerAction", tr("Edit customer"),
                                      "Ctrl+Shift+E", self.open_edit_customer_dialog)  # fmt: skip
        self.refresh_action = a("refreshAction", tr("Refresh"), "F5", self.refresh)
        self.export_action = a("exportStatementAction", tr("Export statement"), "Ctrl+E",
                               self.export_statement)  # fmt: skip
        self.find_action = a("findAction", tr("Find"), "Ctrl+F", self.focus_search)
        self.freeze_action = a("freezeAction", tr("Freeze account"), "Ctrl+Shift+F",
                               lambda: self._administer(self.account_admin.freeze))  # fmt: skip
        self.unfreeze_action = a("unfreezeAction", tr("Unfreeze account"), "Ctrl+Shift+U",
                                 lambda: self._administer(self.account_admin.unfreeze))  # fmt: skip
        self.limits_action = a(
            "limitsAction", tr("Change limits…"), "Ctrl+Shift+L",
            lambda: self._administer(self.account_admin.change_limits),
        )  # fmt: skip
        self.close_account_action = a(
            "closeAccountAction", tr("Close account…"), "Ctrl+Shift+Del",
            lambda: self._administer(self.account_admin.close_account),
        )  # fmt: skip
        self.about_action = a("aboutAction", tr("About Bank System"), "F1", self.open_about)
        self.logout_action = a("logoutAction", tr("Sign out"), "Ctrl+Shift+Q", self.logout)
        self.admin_actions = (self.freeze_action, self.unfreeze_action, self.limits_action,
                              self.close_account_action)  # fmt: skip
        self.end_of_day_action = a("endOfDayAction", tr("End of day…"), "Ctrl+Shift+D",
                                   self.open_end_of_day)  # fmt: skip
        self.toolbar = place_actions(self)
        if self.administers:  # supervisors and admins close the business day
            help_menu = self.menuBar().actions()[-1]  # the Day menu comes before Help
            day_menu = QMenu(tr("&Day"), self)
            day_menu.addAction(self.end_of_day_action)
            self.menuBar().insertMenu(help_menu, day_menu)
        else:
            self.end_of_day_action.setVisible(False)
            self.end_of_day_action.setEnabled(False)
        self.accounts_tab.reverse_action.setVisible(self.is_staff)
        if self.global_search is not None:  # the one search, at the toolbar's end
            spacer = QWidget()
            spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            self.toolbar.addWidget(spacer)
            self.toolbar.addWidget(self.global_search)
        hidden = [] if self.is_staff else [self.new_customer_action, self.edit_customer_action,
                                            self.new_account_action]  # fmt: skip
        if not self.administers:
            hidden += list(self.admin_actions)
        for action in hidden:
            action.setVisible(False)
            action.setEnabled(False)
        self.accounts_tab.menu_actions = [
            self.deposit_action, self.withdraw_action, self.transfer_action, None,
            self.export_action, None, *self.admin_actions,
        ]  # fmt: skip

    def _build_ui(self) -> None:
        self.banner = Banner()
        self.tabs = named(QTabWidget(), "mainTabs")
        self.tabs.addTab(self.accounts_tab, tr("Accounts"))
        if self.customers_tab is not None:
            self.tabs.addTab(self.customers_tab, tr("Customers"))
        # Statistics for staff, user management and the audit trail for admins; the others
        # never get these widgets.
        self.stats_panel: StatsPanel | None = None
        self.admin_panel: AdminPanel | None = None
        self.till_tab = TillTab(self.client, self.administers) if self.is_staff else None
        if self.till_tab is not None:
            self.tabs.addTab(self.till_tab, tr("Till"))
        if self.is_staff:
            self.stats_panel = StatsPanel(self.client)
            self.tabs.addTab(self.stats_panel, tr("Statistics"))
        if self.approvals_tab is not None:
            self.tabs.addTab(self.approvals_tab, badge_title(None))
        self.end_of_day: EndOfDayTab | None = None
        if self.administers:
            self.end_of_day = EndOfDayTab(self.client, self.files)
            self.tabs.addTab(self.end_of_day, tr("End of day"))
        if roles.is_admin(self.user.role):
            self.admin_panel = AdminPanel(self.client, self.user)
            self.tabs.addTab(self.admin_panel, tr("Administration"))
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.day_banner = DayBanner(self.client) if self.is_staff else None
        if self.day_banner is not None:
            layout.addWidget(self.day_banner)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.lock = WindowLock(self, content)
        self.busy_label = named(QLabel(""), "busyLabel")
        self.statusBar().addPermanentWidget(self.busy_label)
        self.till_status = named(QLabel(""), "tillStatusLabel")  # "Till 1 · session 12 open"
        self.statusBar().addPermanentWidget(self.till_status)
        self.statusBar().showMessage(tr("Signed in as {username} ({role}) at {url}").format(
            username=self.user.username, role=text.role(self.user.role).lower(),
            url=self.client.base_url))  # fmt: skip

    def _wire(self) -> None:
        tab = self.accounts_tab
        tab.account_changed.connect(lambda _a: self._update_actions())
        self.accounts_model.modelReset.connect(self._update_actions)
        for model in (self.accounts_model, self.transactions_model, self.customers_model):
            if model is not None:
                model.load_failed.connect(self._handle_error)
                model.loading_changed.connect(self._loading)
        for panel in (self.stats_panel, self.admin_panel):
            if panel is not None:
                panel.failed.connect(self._handle_error)
        if self.admin_panel is not None:
            self.admin_panel.message.connect(self.show_status)
            self.admin_panel.users_changed.connect(self.refresh_lists)
        tab.panel.freeze_requested.connect(self.account_admin.freeze)
        tab.panel.unfreeze_requested.connect(self.account_admin.unfreeze)
        tab.panel.limits_requested.connect(self.account_admin.change_limits)
        tab.panel.close_requested.connect(self.account_admin.close_account)
        self.account_admin.message.connect(self.show_status)
        self.account_admin.failed.connect(self._handle_error)
        self.account_admin.changed.connect(lambda _a: self.refresh())
        self.statements.message.connect(self.show_status)
        self.statements.saved.connect(self.statement_saved)
        self.statements.failed.connect(self._handle_error)
        self.banner.retry.connect(self.refresh)
        tab.reverse_requested.connect(self.open_reverse)
        if self.day_banner is not None:
            self.day_banner.failed.connect(self._handle_error)
        if self.end_of_day is not None:
            self.end_of_day.failed.connect(self._handle_error)
            self.end_of_day.day_closed.connect(lambda _report: self._day_changed())
        if (approvals := self.approvals_tab) is not None:
            approvals.pending_changed.connect(lambda n: self.tabs.setTabText(
                self.tabs.indexOf(approvals), badge_title(n)))  # fmt: skip
            approvals.message.connect(self.show_status)
            approvals.failed.connect(self._handle_error)
        tab.holds.changed.connect(lambda _a: self.refresh_lists())  # held and available
        tab.holds.failed.connect(self._handle_error)
        if self.global_search is not None:
            self.global_search.customer_chosen.connect(self.open_customer)
            self.global_search.account_chosen.connect(self.open_found_account)
            self.global_search.failed.connect(self._handle_error)
        if self.till_tab is not None:
            self.till_tab.status_changed.connect(self.till_status.setText)
            self.till_tab.failed.connect(self._handle_error)
            self.till_tab.message.connect(self.show_status)
            self.till_tab.refresh()
        if self.customers_tab is not None:
            customers = self.customers_tab
            customers.new_requested.connect(self.open_customer_dialog)
            customers.edit_requested.connect(self.open_edit_customer_dialog)
            customers.open_account_requested.connect(self.open_account_dialog)
            customers.selection_changed.connect(self._update_actions)
            self.tabs.currentChanged.connect(lambda _i: self._update_actions())

    # -- state -------------------------------------------------------------------------

    def selected_account(self) -> AccountPublic | None:
        """Return the account selected in the accounts table."""
        return self.accounts_tab.selected_account()

    def selected_customer(self) -> UserPublic | None:
        """Return the customer selected in the Customers tab (staff only)."""
        return self.customers_tab.selected_customer() if self.customers_tab else None

    def _update_actions(self) -> None:
        if self.locked:
            return
        account = self.selected_account()
        status = account.status if account is not None else None
        for action in (self.deposit_action, self.withdraw_action, self.transfer_action):
            action.setEnabled(status is AccountStatus.ACTIVE)
        self.export_action.setEnabled(account is not None)
        if self.administers:
            self.freeze_action.setEnabled(status is AccountStatus.ACTIVE)
            self.unfreeze_action.setEnabled(status is AccountStatus.FROZEN)
            for action in (self.limits_action, self.close_account_action):
                action.setEnabled(account is not None and status is not AccountStatus.CLOSED)
        if self.customers_tab is not None:
            # The shortcut edits only the customer the teller is looking at.
            self.edit_customer_action.setEnabled(
                self.selected_customer() is not None and self.tabs.currentIndex() == CUSTOMERS_TAB
            )

    def show_status(self, message: str) -> None:
        """Say something in the status bar for a while."""
        self.statusBar().showMessage(message, 8000)

    def _loading(self, busy: bool) -> None:
        self.busy_label.setText(tr("Loading…") if busy else "")

    def _handle_error(self, error: BaseException) -> None:
        if isinstance(error, SessionExpired):
            self.session_expired.emit()
            return
        words = messages.explain(error).text
        if isinstance(error, NetworkError):
            self.banner.show_message(tr("Connection lost: {reason} Your work is kept.").format(
                reason=words))  # fmt: skip
            return
        self.show_status(words)

    def focus_search(self) -> None:
        """Put the cursor in the one search (staff), else the tab's search box (Ctrl+F)."""
        current = self.tabs.currentWidget()
        if self.global_search is not None:
            field: QWidget = self.global_search
        elif current is self.accounts_tab:
            field = self.accounts_tab.search
        elif current is self.customers_tab and self.customers_tab is not None:
            field = self.customers_tab.search
        elif current is self.admin_panel and self.admin_panel is not None:
            field = self.admin_panel.search_field()
        else:
            return
        field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if hasattr(field, "selectAll"):
            field.selectAll()

    # -- locking -----------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        """Tell whether the window hides its content behind the locked page."""
        return self.lock.locked

    def set_locked(self, locked: bool) -> None:
        """Hide everything (dialogs too) behind a locked page, or show it all again."""
        self.lock.set_locked(locked)
        if not locked:
            self.banner.hide()
            self._update_actions()

    # -- actions -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload everything from the server, keeping the selected account and customer."""
        self.banner.hide()
        for panel in (self.stats_panel, self.admin_panel, self.approvals_tab, self.end_of_day):
            if panel is not None and self.tabs.currentWidget() is panel:
                panel.refresh()
        if self.day_banner is not None:
            self.day_banner.refresh()
        self.refresh_lists()
        if self.till_tab is not None:
            self.till_tab.refresh()

    def refresh_lists(self) -> None:
        """Reload the accounts and customers (holder names, balances) keeping the selection."""
        self.accounts_tab.refresh()
        if self.customers_tab is not None:
            self.customers_tab.refresh()

    def _keep_token_fresh(self) -> None:
        if self.client.signed_in and self.client.seconds_left() < REFRESH_WHEN_LEFT_S:
            run_task(self.client.refresh, on_error=self._handle_error)

    def _administer(self, act: Callable[[AccountPublic], object]) -> None:
        account = self.selected_account() or self.accounts_tab.shown_account()
        if account is not None and self.administers:
            act(account)

    def open_movement(
        self, kind: Kind, account: AccountPublic | None = None
    ) -> MovementDialog | None:
        """Open the deposit, withdraw or transfer dialog for an account (the selected one)."""
        account = account or self.selected_account()
        if account is None:
            return None
        dialog = movement_dialog(self.client, kind, account,
                                 accounts=self.accounts_model.items(), files=self.files,
                                 parent=self)  # fmt: skip
        dialog.completed.connect(lambda _result: self.refresh())
        if self.is_staff:  # the receipt view offers Reverse…
            dialog.can_reverse = True
            dialog.reverse_requested.connect(self.open_reverse)
        if self.approvals_tab is not None:  # a movement may have joined or left the queue
            dialog.finished.connect(lambda _code, tab=self.approvals_tab: tab.refresh())
        # An unknown outcome may still have moved money: show the server's balances after.
        dialog.finished.connect(lambda _code: self.refresh() if dialog.outcome_unknown else None)
        dialog.session_expired.connect(self.session_expired)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_reverse(
        self, movement: TransactionPublic | TransferPublic, account: AccountPublic | None = None
    ) -> ReverseDialog | None:
        """Reverse a movement of an account (the one shown) after a confirmation of its legs."""
        account = account or self.accounts_tab.shown_account()
        if account is None or not self.is_staff:
            return None
        dialog = ReverseDialog(self.client, account, movement, self, files=self.files)
        dialog.completed.connect(lambda _reversal: self.refresh())
        dialog.approval_requested.connect(lambda approval: self.show_status(
            tr("Reversal waits for approval no. {id}").format(id=approval.get("id"))))  # fmt: skip
        dialog.session_expired.connect(self.session_expired)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_end_of_day(self) -> EndOfDayTab | None:
        """Show the End of day screen (supervisors and admins) with a fresh checklist."""
        if self.end_of_day is None:
            return None
        self.tabs.setCurrentWidget(self.end_of_day)
        self.end_of_day.refresh()
        return self.end_of_day

    def _day_changed(self) -> None:
        if self.day_banner is not None:
            self.day_banner.refresh()
        self.refresh_lists()

    def open_customer_dialog(self) -> NewUserDialog:
        """Register a new customer; then offer to open their first account."""
        dialog = NewUserDialog(self.client, (Role.USER,), parent=self)
        dialog.completed.connect(lambda _user: self.refresh_lists())
        dialog.open_account_requested.connect(
            lambda user: self.open_account_dialog((user.id, user.full_name))
        )
        dialog.session_expired.connect(self.session_expired)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_edit_customer_dialog(self) -> EditCustomerDialog | None:
        """Edit the selected customer's full name, email or access."""
        customer = self.selected_customer()
        if customer is None:
            return None
        return self._edit_customer(customer)

    def _edit_customer(self, customer: UserPublic) -> EditCustomerDialog:
        dialog = EditCustomerDialog(self.client, customer, self)
        dialog.completed.connect(self._customer_edited)
        dialog.documents.user_changed.connect(lambda _user: self.refresh_lists())  # KYC
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_customer(self, user: UserPublic) -> EditCustomerDialog | None:
        """Show a customer the one search found in the Customers tab, and open their form."""
        if self.customers_tab is None:
            return None
        self.tabs.setCurrentWidget(self.customers_tab)
        search = self.customers_tab.search
        search.setText(user.username)
        search.settle_now()
        self.customers_model.set_query(user.username)  # type: ignore[union-attr]
        select_when_loaded(self.customers_table, self.customers_model, user.id)  # type: ignore[arg-type]
        return self._edit_customer(user)

    def open_found_account(self, account: AccountPublic) -> None:
        """Show an account the one search found in the Accounts tab, chosen."""
        self.tabs.setCurrentWidget(self.accounts_tab)
        self.accounts_tab.search.setText(account.number)
        self.accounts_tab.apply_search()
        self.accounts_tab.select(account.id)

    def _customer_edited(self, user: UserPublic) -> None:
        self.show_status(tr("Saved {username} ({name})").format(
            username=user.username, name=user.full_name))  # fmt: skip
        self.refresh_lists()  # the customers list, and the accounts' holder names

    def open_account_dialog(self, owner: tuple[int, str] | None = None) -> AccountDialog | None:
        """Open an account for a customer (the selected one, or the account's owner)."""
        if owner is None and self.customers_tab is not None and \
                self.tabs.currentWidget() is self.customers_tab:  # fmt: skip
            customer = self.selected_customer()
            if customer is not None:
                owner = (customer.id, customer.full_name)
        if owner is None and (account := self.selected_account()) is not None:
            owner = (account.owner_id, account.owner_name)
        if owner is None:
            QMessageBox.information(self, tr("Open account"),
                                    tr("Choose a customer or an account first."))  # fmt: skip
            return None
        dialog = AccountDialog(self.client, owner[0], owner[1], self)
        dialog.completed.connect(self._account_opened)
        dialog.deposit_requested.connect(lambda account: self.open_movement("deposit", account))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _account_opened(self, account: AccountPublic) -> None:
        self.show_status(tr("Opened {number} for {holder}").format(
            number=account.number, holder=account.owner_name))  # fmt: skip
        self.refresh_lists()
        self.accounts_tab.select(account.id)

    def export_statement(
        self, path: str | None = None, fmt: str | None = None
    ) -> QFileDialog | None:
        """Save the selected account's statement (CSV or PDF); without a path, ask where."""
        account = self.selected_account()
        if account is None:
            return None
        return self.statements.export(account, path, fmt)

    def open_about(self) -> AboutDialog:
        """Show the versions of the desktop and the server, and where things are kept."""
        dialog = AboutDialog(self.client, self.places, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def logout(self) -> None:
        """End the session on the server and return to the sign-in dialog."""

        def signed_out(_result: object = None) -> None:
            if isValid(self):
                self.logged_out.emit()

        run_task(self.client.logout, on_done=signed_out, on_error=signed_out)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Remember the window geometry."""
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
        super().closeEvent(event)
