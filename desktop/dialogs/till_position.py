"""The branch's cash position for supervisors and admins: the vault, every till, who holds it."""

from __future__ import annotations

from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Qt, Signal
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

from desktop.api.client import ApiError, ApprovalRequired, BankClient, NetworkError
from desktop.dialogs.till_cash import TillCashDialog
from desktop.dialogs.till_words import waiting
from desktop.text import QT_TRANSLATE_NOOP, money, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.workers import run_task
from shared.schemas.ledger import JournalPublic
from shared.schemas.tills import CashPosition, TillStatus

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
HEADERS = (
    QT_TRANSLATE_NOOP("bank", "Currency"), QT_TRANSLATE_NOOP("bank", "Where"),
    QT_TRANSLATE_NOOP("bank", "Cash"), QT_TRANSLATE_NOOP("bank", "Session"),
    QT_TRANSLATE_NOOP("bank", "Held by"),
)  # fmt: skip


@dataclass(frozen=True)
class Position:
    """The cash position with the names of the tellers who hold the tills."""

    cash: CashPosition
    tellers: dict[int, str]
    tills: list[tuple[int, str]]  # every active till, for moving cash into


def teller_name(client: BankClient, teller_id: int) -> str:
    """Name a till's teller: an admin reads the user; a supervisor, who may read only
    customers, finds the username in the audit trail of the sessions they opened."""
    try:
        user = client.get_user(teller_id)
        return f"{user.full_name} ({user.username})"
    except (ApiError, NetworkError):
        pass
    try:
        events = client.audit(actor_id=teller_id, action="session.opened", include="names",
                              limit=1).items  # fmt: skip
    except (ApiError, NetworkError):
        events = []
    if events and events[0].actor_name:
        return events[0].actor_name
    return tr("user {id}").format(id=teller_id)


def load_position(client: BankClient) -> Position:
    """Fetch the cash position and name its tellers (worker thread)."""
    cash = client.cash_position()
    ids = {t.teller_id for c in cash.values() for t in c.tills if t.teller_id is not None}
    tellers = {teller_id: teller_name(client, teller_id) for teller_id in sorted(ids)}
    tills = [(t.id, t.name) for t in client.tills(limit=200, sort="id").items
             if t.status is TillStatus.ACTIVE]  # fmt: skip
    return Position(cash, tellers, tills)


class CashPositionPanel(QWidget):
    """A table of the vault and every till per currency, and the way to move cash between."""

    failed = Signal(object)
    message = Signal(str)

    def __init__(self, client: BankClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cashPositionPanel")
        self.client = client
        self.position: Position | None = None
        self.table = named(QTableWidget(0, len(HEADERS)), "cashPositionTable")
        for column, title in enumerate(HEADERS):
            item = QTableWidgetItem(tr(title))
            if column == 2:
                item.setTextAlignment(RIGHT)
            self.table.setHorizontalHeaderItem(column, item)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshPositionButton")
        self.move_button = named(QPushButton(tr("Move cash…")), "moveCashButton")
        self.move_button.setToolTip(tr("Move cash between the vault and a till"))
        self.note = ToneLabel("positionNote", hint=True)
        tools = QHBoxLayout()
        tools.addWidget(self.note, 1)
        tools.addWidget(self.refresh_button)
        tools.addWidget(self.move_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(tools)
        self.refresh_button.clicked.connect(self.refresh)
        self.move_button.clicked.connect(lambda: self.move_cash())
        self._loading = False

    def refresh(self) -> None:
        """Load the cash position off the GUI thread."""
        if self._loading:
            return
        self._loading = True
        self.note.show_text(tr("Loading the cash position…"), Tone.MUTED)
        run_task(load_position, self.client, on_done=self._loaded, on_error=self._failed)

    def _failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self._loading = False
            self.note.show_text("")
            self.failed.emit(error)

    def _loaded(self, position: Position) -> None:
        if not shiboken6.isValid(self):
            return
        self._loading = False
        self.position = position
        rows: list[tuple[str, ...]] = []
        for currency, cash in sorted(position.cash.items()):
            rows.append((currency, tr("Vault"), money(cash.vault), "", ""))
            for till in cash.tills:
                held = position.tellers.get(till.teller_id, "") if till.teller_id else ""
                rows.append((
                    currency, till.name,
                    money(till.cash) if till.cash is not None else tr("hidden (your till)"),
                    str(till.session_id) if till.session_id is not None else tr("none"),
                    held or tr("nobody"),
                ))  # fmt: skip
            total = money(cash.total) if cash.total is not None else tr("not shown")
            rows.append((currency, tr("Total"), total, "", ""))
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(value)
                if c == 2:
                    item.setTextAlignment(RIGHT)
                if row[1] in (tr("Vault"), tr("Total")):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self.note.show_text(tr("Cash in the vault and in every till, per currency."), Tone.MUTED)

    def tills(self) -> list[tuple[int, str]]:
        """Return the active tills, as (id, name)."""
        return list(self.position.tills) if self.position else []

    def move_cash(self, tills: list[tuple[int, str]] | None = None) -> TillCashDialog:
        """Open the form that moves cash between the vault and a till."""
        dialog = TillCashDialog(self.client, tills or self.tills(), parent=self)
        dialog.completed.connect(self._moved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _moved(self, result: JournalPublic | ApprovalRequired) -> None:
        if isinstance(result, JournalPublic):
            self.message.emit(tr("Cash moved (journal entry no. {id}).").format(id=result.id))
        else:
            self.message.emit(waiting(result))
        self.refresh()
