"""An account's holds: what is held and available, the history of its holds, and the buttons
that place a hold and release the chosen one (staff)."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import messages, text, theme
from desktop.api.client import BankClient
from desktop.dialogs.hold import PlaceHoldDialog, ReleaseHoldDialog
from desktop.text import money, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.widgets.search import choice_box
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic
from shared.schemas.common import AccountStatus, Page, Role
from shared.schemas.holds import HoldPublic, HoldStatus

MAX_HOLDS = 200  # the contract's largest page: an account's holds fit in one
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
HEADERS = ("Placed", "Reason", "Amount", "Reference", "Expires", "Status", "Released")


class HoldsPanel(QWidget):
    """The holds of the shown account; `changed` after one was placed or released."""

    changed = Signal(object)  # the account whose holds changed
    failed = Signal(object)  # an error reading the holds

    def __init__(self, client: BankClient, role: Role, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("holdsPanel")
        self.client = client
        self.role = role
        self.staff = role is not Role.USER
        self.account: AccountPublic | None = None
        self.holds: list[HoldPublic] = []
        self._generation = 0
        self._said = ""  # what the last placement or release did, shown after the reload
        self.summary = plain_label("holdsSummary")
        theme.emphasize(self.summary, 1.05)
        self.status_filter = choice_box(
            "holdStatusFilter", tr("All holds"),
            ((text.hold_status(status), status.value) for status in HoldStatus),
        )  # fmt: skip
        self.place_button = named(QPushButton(tr("Place hold…")), "placeHoldButton")
        self.release_button = named(QPushButton(tr("Release…")), "releaseHoldButton")
        self.table = named(QTableWidget(0, len(HEADERS)), "holdsTable")
        self.table.setHorizontalHeaderLabels([tr(h) for h in HEADERS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.message = ToneLabel("holdsMessage", hint=True)
        tools = QHBoxLayout()
        tools.addWidget(self.summary, 1)
        tools.addWidget(self.status_filter)
        for button in (self.place_button, self.release_button):
            button.setVisible(self.staff)
            tools.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self.status_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.table.itemSelectionChanged.connect(self._update)
        self.table.doubleClicked.connect(lambda _index: self.open_release())
        self.place_button.clicked.connect(self.open_place)
        self.release_button.clicked.connect(self.open_release)
        self.show_account(None)

    # -- state -------------------------------------------------------------------------

    def selected_hold(self) -> HoldPublic | None:
        """Return the hold chosen in the table."""
        row = self.table.currentRow()
        return self.holds[row] if 0 <= row < len(self.holds) and self.table.selectedItems() \
            else None  # fmt: skip

    def show_account(self, account: AccountPublic | None) -> None:
        """Show an account's held and available amounts and load its holds."""
        same = account is not None and self.account is not None and account.id == self.account.id
        self.account = account
        if not same:
            self.holds = []
            self.table.setRowCount(0)
        self._show_summary()
        self.reload()

    def _show_summary(self) -> None:
        account = self.account
        if account is None:
            self.summary.setText(tr("Choose an account to see its holds."))
            return
        self.summary.setText(tr("Held {held} · Available {available}").format(
            held=money(account.held, account.currency),
            available=money(account.available, account.currency)))  # fmt: skip

    def reload(self) -> None:
        """Load the shown account's holds (oldest first), off the GUI thread."""
        self._generation += 1
        self._update()
        if self.account is None:
            return
        generation, account_id = self._generation, self.account.id
        status = self.status_filter.currentData()
        self.message.show_text(tr("Loading the holds…"), Tone.MUTED)

        def loaded(page: Page[HoldPublic]) -> None:
            if shiboken6.isValid(self) and generation == self._generation:
                self._fill(page.items)

        def refused(error: BaseException) -> None:
            if shiboken6.isValid(self) and generation == self._generation:
                self.message.show_text(messages.explain(error).text, Tone.ERROR)
                self.failed.emit(error)

        run_task(self.client.holds, account_id, status=status, limit=MAX_HOLDS,
                 on_done=loaded, on_error=refused)  # fmt: skip

    def _fill(self, holds: list[HoldPublic]) -> None:
        account = self.account
        assert account is not None
        self.holds = list(holds)
        self.table.setRowCount(len(self.holds))
        muted = QBrush(theme.colors().muted)
        for row, hold in enumerate(self.holds):
            released = text.time_text(hold.released_at) if hold.released_at else ""
            cells = (
                text.time_text(hold.created_at), text.hold_reason(hold.reason_code),
                money(hold.amount, account.currency), hold.reference or "",
                text.time_text(hold.expires_at) if hold.expires_at else tr("never"),
                text.hold_status(hold.status), released,
            )  # fmt: skip
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if column == 2:
                    item.setTextAlignment(RIGHT)
                if hold.status is not HoldStatus.ACTIVE:
                    item.setForeground(muted)  # history, not money held now
                self.table.setItem(row, column, item)
        if self._said:
            self.message.show_text(self._said, Tone.OK)
            self._said = ""
        elif self.holds:
            self.message.show_text("")
        else:
            self.message.show_text(tr("No holds on this account."), Tone.MUTED)
        self._update()

    def _update(self) -> None:
        account = self.account
        usable = account is not None and account.status is not AccountStatus.CLOSED
        self.place_button.setEnabled(self.staff and usable)
        hold = self.selected_hold()
        self.release_button.setEnabled(
            self.staff and hold is not None and hold.status is HoldStatus.ACTIVE
        )

    # -- actions -----------------------------------------------------------------------

    def open_place(self) -> PlaceHoldDialog | None:
        """Ask for a hold's reason, amount, reference and expiry, and place it."""
        if self.account is None or not self.place_button.isEnabled():
            return None
        dialog = PlaceHoldDialog(self.client, self.account, self.role, self)
        dialog.completed.connect(lambda _hold: self._changed(tr("Hold placed.")))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_release(self) -> ReleaseHoldDialog | None:
        """Release the chosen active hold (after a note; legal and fraud: approval)."""
        hold = self.selected_hold()
        if self.account is None or hold is None or not self.release_button.isEnabled():
            return None
        dialog = ReleaseHoldDialog(self.client, self.account, hold, self)
        dialog.completed.connect(lambda result: self._changed(
            tr("Hold released.") if isinstance(result, HoldPublic)
            else tr("The release waits for approval.")))  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _changed(self, words: str) -> None:
        self._said = words
        self.reload()
        if self.account is not None:
            self.changed.emit(self.account)
