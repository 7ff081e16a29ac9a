"""The Till tab (staff): open a session on a free till, follow its journal, ask for cash from
the vault, and close it with a blind count; supervisors and admins also see the cash position."""

from __future__ import annotations

from typing import Any, ClassVar

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop import text, theme
from desktop.api.client import ApprovalRequired, BankClient
from desktop.dialogs.till_cash import TO_TILL, TillCashDialog
from desktop.dialogs.till_close import CloseSessionDialog
from desktop.dialogs.till_open import OpenSessionDialog, TillState, load_state
from desktop.dialogs.till_position import CashPositionPanel
from desktop.dialogs.till_words import (
    HIDDEN,
    journal_kind,
    money_map,
    session_line,
    session_result,
    waiting,
)
from desktop.models.paging import FOREGROUND, TOOLTIP, PagedTableModel
from desktop.text import QT_TRANSLATE_NOOP, plural, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.widgets.tables import PagedTable
from desktop.workers import run_task
from shared.schemas.common import Page
from shared.schemas.ledger import JournalPublic
from shared.schemas.tills import SessionLine, SessionPublic, SessionStatus


def _description(item: SessionLine) -> str:
    if item.description:
        return item.description
    if item.transaction_id is not None:
        return tr("Transaction no. {id}").format(id=item.transaction_id)
    return ""


class SessionJournalModel(PagedTableModel[SessionLine]):
    """The till's legs in one session, oldest first, with the till's balance after each."""

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP("bank", "Time"), QT_TRANSLATE_NOOP("bank", "Kind"),
        QT_TRANSLATE_NOOP("bank", "Description"), QT_TRANSLATE_NOOP("bank", "Currency"),
        QT_TRANSLATE_NOOP("bank", "Cash in"), QT_TRANSLATE_NOOP("bank", "Cash out"),
        QT_TRANSLATE_NOOP("bank", "Till balance"),
    )  # fmt: skip
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({4, 5, 6})
    PRIORITY: ClassVar[tuple[int, ...]] = (0, 1, 4, 5, 6, 3, 2)
    STRETCH: ClassVar[int] = 2

    def __init__(self, client: BankClient, parent: Any = None) -> None:
        super().__init__(client, 100, parent)
        self.session_id: int | None = None

    def set_session(self, session_id: int | None) -> None:
        """Show a session's journal (None empties the table)."""
        if session_id != self.session_id or session_id is not None:
            self.session_id = session_id
            self._reload()

    def currencies(self) -> list[str]:
        """Return the currencies the loaded lines move."""
        return sorted({line.currency for line in self._rows})

    def _ready(self) -> bool:
        return self.session_id is not None

    def _query_params(self) -> dict[str, Any]:
        return {"session_id": self.session_id}

    @staticmethod
    def _id(item: Any) -> int:
        # A leg has no id of its own: one journal entry's till leg per currency and side.
        return hash((item.journal_id, item.currency, item.side, item.amount))

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[SessionLine]:
        rest = dict(params)
        return client.session_journal(rest.pop("session_id"), **rest)

    @staticmethod
    def _describe(item: SessionLine) -> tuple[str, ...]:
        cash_in = item.side == "debit"  # a debit on the till is cash coming into it
        after = item.till_balance_after
        return (
            text.time_text(item.created_at), journal_kind(item.kind), _description(item),
            item.currency, text.money(item.amount) if cash_in else "",
            "" if cash_in else text.money(item.amount),
            text.money(after) if after is not None else tr("hidden"),
        )  # fmt: skip

    def _role_data(self, item: SessionLine, column: int, role: int) -> Any:
        if role == FOREGROUND and column in (4, 5):
            colors = theme.colors()
            return colors.positive if column == 4 else colors.negative
        if role == TOOLTIP and column == 6 and item.till_balance_after is None:
            return tr("The till's balance is {hidden} (blind balancing).").format(
                hidden=tr(HIDDEN))  # fmt: skip
        if role == TOOLTIP and column == 1:
            return tr("Journal entry no. {id}").format(id=item.journal_id)
        return None


class TillTab(QWidget):
    """The caller's teller session and its journal; the cash position for supervisors."""

    status_changed = Signal(str)  # "Till 1 · session 12 open", or "" without a session
    failed = Signal(object)
    message = Signal(str)

    def __init__(self, client: BankClient, manages: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tillTab")
        self.client = client
        self.state = TillState(None, None)
        self._loading = False
        self.model = SessionJournalModel(client, parent=self)
        self.table = PagedTable("sessionJournalTable", self.model, sortable=False)
        self.state_label = ToneLabel("tillState", panel=True)
        self.open_button = named(QPushButton(tr("Open a session…")), "openSessionButton")
        self.cash_button = named(QPushButton(tr("Cash from or to the vault…")), "tillCashButton")
        self.cash_button.setToolTip(tr("Ask for cash from the vault, or send cash back to it"))
        self.close_button = named(QPushButton(tr("Close session…")), "closeSessionButton")
        self.close_button.setToolTip(tr("Count the till and close the session"))
        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshTillButton")
        self.count_label = named(QLabel(), "journalCount")
        heading = named(QLabel(tr("Your till session")), "tillHeading")
        theme.emphasize(heading, 1.15)
        tools = QHBoxLayout()
        for button in (self.open_button, self.cash_button, self.close_button):
            tools.addWidget(button)
        tools.addStretch(1)
        tools.addWidget(self.refresh_button)
        mine = QWidget()
        layout = QVBoxLayout(mine)
        layout.addWidget(heading)
        layout.addWidget(self.state_label)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        self.position: CashPositionPanel | None = None
        outer = QVBoxLayout(self)
        if manages:
            self.position = CashPositionPanel(client)
            box = named(QGroupBox(tr("Cash position")), "cashPositionBox")
            QVBoxLayout(box).addWidget(self.position)
            split = QSplitter(Qt.Orientation.Vertical)
            split.addWidget(mine)
            split.addWidget(box)
            split.setSizes([320, 420])  # the position matters most to those who manage cash
            outer.addWidget(split)
            self.position.failed.connect(self.failed)
            self.position.message.connect(self.message)
        else:
            outer.addWidget(mine)
        self.open_button.clicked.connect(lambda: self.open_session())
        self.cash_button.clicked.connect(lambda: self.request_cash())
        self.close_button.clicked.connect(lambda: self.close_session())
        self.refresh_button.clicked.connect(self.refresh)
        self.model.load_failed.connect(self.failed)
        self.model.total_changed.connect(lambda total: self.count_label.setText(
            plural(total, tr("%n cash movement"), tr("%n cash movements"))))  # fmt: skip
        self._show()

    # -- state -------------------------------------------------------------------------

    @property
    def session(self) -> SessionPublic | None:
        """Return the session shown (not closed, or the one just closed)."""
        return self.state.session

    @property
    def open_session_shown(self) -> SessionPublic | None:
        """Return the caller's session if it is open for cash."""
        session = self.state.session
        return session if session is not None and session.status is SessionStatus.OPEN else None

    def status_text(self) -> str:
        """Return the status bar's words for the session (empty without one not closed)."""
        session = self.state.session
        if session is None or session.status is SessionStatus.CLOSED:
            return ""
        return session_line(session, self.state.till_name)

    def refresh(self) -> None:
        """Reload the session, its journal and (for supervisors) the cash position."""
        if self.position is not None:
            self.position.refresh()
        if self._loading:
            return
        self._loading = True
        last = self.state.session.id if self.state.session is not None else None
        run_task(load_state, self.client, last, on_done=self._loaded, on_error=self._failed)

    def _failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self._loading = False
            self.failed.emit(error)

    def _loaded(self, state: TillState) -> None:
        if not shiboken6.isValid(self):
            return
        self._loading = False
        self.state = state
        self.model.set_session(state.session.id if state.session is not None else None)
        self._show()
        self.status_changed.emit(self.status_text())

    def _show(self) -> None:
        session, name = self.state.session, self.state.till_name
        if session is None:
            self.state_label.show_text(tr("You have no open till session. Open one on a free "
                                          "till before handling cash."), Tone.WARNING)  # fmt: skip
        elif session.status is SessionStatus.OPEN:
            over = "\n" + tr("The till holds more than its cash limit.") if session.over_limit \
                else ""  # fmt: skip
            self.state_label.show_text(tr("{line}, opened {when}. Opening cash: {opening}.")
                                       .format(line=session_line(session, name),
                                               when=text.time_text(session.opened_at),
                                               opening=money_map(session.opening))
                                       + over, Tone.OK)  # fmt: skip
        else:
            self.state_label.show_text(session_line(session, name) + "\n" +
                                       session_result(session),
                                       Tone.WARNING if session.status is SessionStatus.CLOSING
                                       else Tone.NORMAL)  # fmt: skip
        free = session is None or session.status is SessionStatus.CLOSED
        self.open_button.setEnabled(free)
        self.cash_button.setEnabled(self.open_session_shown is not None)
        self.close_button.setEnabled(self.open_session_shown is not None)

    # -- actions -----------------------------------------------------------------------

    def open_session(self) -> OpenSessionDialog:
        """Choose a free till and open a session on it."""
        dialog = OpenSessionDialog(self.client, self)
        dialog.completed.connect(self._opened)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _opened(self, result: SessionPublic | ApprovalRequired) -> None:
        if isinstance(result, SessionPublic):
            self.message.emit(tr("Session {id} is open.").format(id=result.id))
        else:
            self.message.emit(waiting(result))
        self.refresh()

    def request_cash(self, direction: str = TO_TILL) -> TillCashDialog | None:
        """Ask for cash from the vault into the session's till, or send some back."""
        session = self.open_session_shown
        if session is None:
            return None
        name = self.state.till_name or tr("Till {id}").format(id=session.till_id)
        currency = next(iter(sorted(session.opening)), "USD")
        dialog = TillCashDialog(self.client, [(session.till_id, name)], direction=direction,
                                currency=currency, parent=self)  # fmt: skip
        dialog.completed.connect(self._cash_moved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _cash_moved(self, result: JournalPublic | ApprovalRequired) -> None:
        if isinstance(result, JournalPublic):
            self.message.emit(tr("Cash moved (journal entry no. {id}).").format(id=result.id))
        else:
            self.message.emit(waiting(result))
        self.refresh()

    def close_session(self) -> CloseSessionDialog | None:
        """Count the till and close the session (blind: the expected cash shows after)."""
        session = self.open_session_shown
        if session is None:
            return None
        dialog = CloseSessionDialog(self.client, session, self.state.till_name,
                                    self.model.currencies(), self)  # fmt: skip
        dialog.completed.connect(lambda _result: self.refresh())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog
