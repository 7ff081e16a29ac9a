"""The one search (staff): a box that finds customers and their accounts by name (any accents
or case), username, email, phone, document or account number and date of birth, and a list
of the results under it; Down or Enter moves into the list, Enter opens what is chosen."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import messages, text, theme
from desktop.api.client import BankClient
from desktop.text import money, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import Page
from shared.schemas.search import CustomerMatch
from shared.schemas.users import UserPublic

SEARCH_DELAY_MS = 300  # wait for a pause in typing before asking the server
RESULTS = 20
USER_ROLE = int(Qt.ItemDataRole.UserRole)
POPUP_WIDTH = 560
POPUP_HEIGHT = 340


class SearchResults(QFrame):
    """The results under the search box: customers, each with their accounts below."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("globalSearchPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.tree = named(QTreeWidget(), "globalSearchResults")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.status = ToneLabel("globalSearchStatus", hint=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)
        self.hide()


class GlobalSearch(QLineEdit):
    """The search box; `customer_chosen(user)` or `account_chosen(account)` on Enter."""

    customer_chosen = Signal(object)  # UserPublic
    account_chosen = Signal(object)  # AccountPublic
    failed = Signal(object)

    def __init__(self, client: BankClient, window: QWidget) -> None:
        super().__init__()
        self.setObjectName("globalSearchEdit")
        self.setClearButtonEnabled(True)
        self.setPlaceholderText(tr("Find a customer or account: name, number, ID, phone…"))
        self.setToolTip(tr("Names, usernames, emails, phone, document and account numbers, "
                           "dates of birth (YYYY-MM-DD)"))  # fmt: skip
        self.setMinimumWidth(320)
        self.client = client
        self.window_ = window
        self.matches: list[CustomerMatch] = []
        self.results = SearchResults(window)
        self.tree = self.results.tree
        self._generation = 0
        self.busy = False  # a search is out
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search_now)
        self.textChanged.connect(lambda _t: self._timer.start())
        self.tree.itemActivated.connect(lambda item, _c: self._open(item))
        self.tree.installEventFilter(self)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_moved)

    # -- searching ---------------------------------------------------------------------

    def search_now(self) -> None:
        """Ask the server for what the box holds now (empty: hide the results)."""
        self._timer.stop()
        self._generation += 1
        q = self.text().strip()
        if not q:
            self.matches = []
            self.tree.clear()
            self.results.hide()
            return
        generation = self._generation
        self.busy = True
        self._show_popup()
        self.results.status.show_text(tr("Searching…"), Tone.MUTED)

        def found(page: Page[CustomerMatch]) -> None:
            if shiboken6.isValid(self) and generation == self._generation:
                self.busy = False
                self._fill(page)

        def refused(error: BaseException) -> None:
            if shiboken6.isValid(self) and generation == self._generation:
                self.busy = False
                self.results.status.show_text(messages.explain(error).text, Tone.ERROR)
                self.failed.emit(error)

        run_task(self.client.search_customers, q, limit=RESULTS, on_done=found, on_error=refused)

    @property
    def searching(self) -> bool:
        """Tell whether the box's text has not been answered yet."""
        return self._timer.isActive() or self.busy

    def _fill(self, page: Page[CustomerMatch]) -> None:
        self.matches = list(page.items)
        self.tree.clear()
        for match in self.matches:
            self.tree.addTopLevelItem(self._customer_item(match))
        self.tree.expandAll()
        if not self.matches:
            self.results.status.show_text(tr("Nothing found."), Tone.MUTED)
        elif page.total > len(self.matches):
            self.results.status.show_text(tr("The first {shown} of {total}: type more to narrow "
                                             "them down.").format(shown=len(self.matches),
                                                                  total=page.total),
                                          Tone.MUTED)  # fmt: skip
        else:
            self.results.status.show_text("")
        self._show_popup()

    def _customer_item(self, match: CustomerMatch) -> QTreeWidgetItem:
        user = match.user
        kyc = f" · {text.kyc_status(user.kyc_status)}" if user.kyc_status else ""
        words = tr("{name} ({username}){kyc} — found by {kind}").format(
            name=user.full_name, username=user.username, kyc=kyc,
            kind=text.match_kind(match.matched))  # fmt: skip
        item = QTreeWidgetItem([words])
        item.setData(0, USER_ROLE, user)
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        item.setToolTip(0, user.email)
        for account in match.accounts:
            line = tr("{number} · {kind} · {balance} (available {available}) · {status}").format(
                number=account.number, kind=text.account_type(account.account_type),
                balance=money(account.balance, account.currency),
                available=money(account.available, account.currency),
                status=text.account_status(account.status),
            )  # fmt: skip
            child = QTreeWidgetItem([line])
            child.setData(0, USER_ROLE, account)
            if account.available < 0:
                child.setForeground(0, theme.colors().negative)
            item.addChild(child)
        return item

    def _show_popup(self) -> None:
        origin = self.mapTo(self.window_, QPoint(0, self.height()))
        width = max(self.width(), POPUP_WIDTH)
        x = min(origin.x(), max(0, self.window_.width() - width))
        rows = sum(1 + len(match.accounts) for match in self.matches)
        row_height = max(self.tree.sizeHintForRow(0), self.fontMetrics().height() + 4)
        status = self.results.status.sizeHint().height() if self.results.status.text() else 0
        # As tall as the results (a few rows at least), never taller than POPUP_HEIGHT.
        height = min(POPUP_HEIGHT, max(3, rows + 1) * row_height + status + 16)
        self.results.setGeometry(x, origin.y() + 2, width, height)
        self.results.show()
        self.results.raise_()

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        # Clicking elsewhere puts the results away; into the box or the results keeps them.
        if not shiboken6.isValid(self) or not shiboken6.isValid(self.results):
            return
        if new is not None and new is not self and not self.results.isAncestorOf(new):
            self.results.hide()

    def hide_results(self) -> None:
        """Hide the results (the search stays in the box)."""
        self.results.hide()

    # -- the keyboard ------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Down or Enter: into the results (searching first if typing has not paused)."""
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self._timer.isActive():
                self.search_now()
            if self.tree.topLevelItemCount() > 0:
                self._show_popup()
                first = self.tree.topLevelItem(0)
                if self.tree.currentItem() is None and first is not None:
                    self.tree.setCurrentItem(first)
                self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)
                event.accept()
                return
        if key == Qt.Key.Key_Escape and self.results.isVisible():
            self.results.hide()
            event.accept()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """In the results: Escape goes back to the box, Up on the first row too."""
        if watched is self.tree and isinstance(event, QKeyEvent) and \
                event.type() == QEvent.Type.KeyPress:  # fmt: skip
            first = self.tree.topLevelItem(0)
            if event.key() == Qt.Key.Key_Escape or (
                event.key() == Qt.Key.Key_Up and self.tree.currentItem() is first
            ):
                self.setFocus(Qt.FocusReason.ShortcutFocusReason)
                if event.key() == Qt.Key.Key_Escape:
                    self.results.hide()
                return True
        return False

    def _open(self, item: QTreeWidgetItem) -> None:
        found = item.data(0, USER_ROLE)
        self.results.hide()
        if isinstance(found, AccountPublic):
            self.account_chosen.emit(found)
        elif isinstance(found, UserPublic):
            self.customer_chosen.emit(found)
