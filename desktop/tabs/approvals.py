"""The Approvals tab: the queue of requests that wait for a second person, and their outcomes.

Supervisors and admins approve or reject (with a reason) what others asked; every maker
sees their own requests and may cancel them while they wait. A count of what waits for
the signed-in user is polled on a timer off the GUI thread (the window shows it on the tab's
title), and a maker is told when one of their requests is decided.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, ClassVar

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop import messages, roles, text, theme
from desktop.api.client import ApiError, BankClient, SessionExpired
from desktop.dialogs.approval import outcome_text
from desktop.dialogs.approval_reject import RejectDialog
from desktop.models.paging import FOREGROUND, TOOLTIP, PagedTableModel
from desktop.text import QT_TRANSLATE_NOOP, plural, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.widgets.tables import PagedTable
from desktop.workers import run_task
from shared.account_number import account_number
from shared.schemas.approvals import ApprovalPublic, ApprovalStatus
from shared.schemas.common import Page
from shared.schemas.users import UserPublic

BADGE_MS = 30_000

# Makers' usernames by (server, user id), looked up on the worker; None: not visible to us.
_NAMES: dict[tuple[str, int], str | None] = {}
_NAMES_LOCK = threading.Lock()


def _maker_name(client: BankClient, user_id: int) -> str | None:
    """Return a maker's username, asking the server once (worker thread)."""
    me = client.user
    if me is not None and me.id == user_id:
        return tr("{username} (you)").format(username=me.username)
    key = (client.base_url, user_id)
    with _NAMES_LOCK:
        if key in _NAMES:
            return _NAMES[key]
    try:
        name: str | None = client.get_user(user_id).username
    except ApiError:
        name = None  # a teller or supervisor may not read staff users: show the number
    with _NAMES_LOCK:
        _NAMES[key] = name
    return name


def age_text(created: datetime, now: datetime | None = None) -> str:
    """Return how long ago a request was made: "3 min", "2 h", "1 d"."""
    seconds = max(0, int(((now or datetime.now(UTC)) - created).total_seconds()))
    if seconds < 60:
        return tr("just now")
    if seconds < 3600:
        return tr("{n} min").format(n=seconds // 60)
    if seconds < 86400:
        return tr("{n} h").format(n=seconds // 3600)
    return tr("{n} d").format(n=seconds // 86400)


class ApprovalRow(ApprovalPublic):
    """An approval with its maker's username, when the signed-in user may read it."""

    maker_name: str | None = None


class ApprovalsModel(PagedTableModel[ApprovalRow]):
    """Approvals of one status (or all), newest first; the Approval under UserRole."""

    HEADERS: ClassVar[tuple[str, ...]] = (
        QT_TRANSLATE_NOOP("bank", "No."), QT_TRANSLATE_NOOP("bank", "Action"),
        QT_TRANSLATE_NOOP("bank", "Summary"), QT_TRANSLATE_NOOP("bank", "Maker"),
        QT_TRANSLATE_NOOP("bank", "Amount"), QT_TRANSLATE_NOOP("bank", "Account"),
        QT_TRANSLATE_NOOP("bank", "Age"), QT_TRANSLATE_NOOP("bank", "Status"),
    )  # fmt: skip
    SORT_FIELDS: ClassVar[dict[int, str]] = {0: "id", 6: "created_at"}
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset({0, 4})
    DEFAULT_SORT: ClassVar[tuple[str, str]] = ("id", "desc")
    PRIORITY: ClassVar[tuple[int, ...]] = (2, 4, 3, 1, 7, 6, 5, 0)
    STRETCH: ClassVar[int] = 2

    def __init__(self, client: BankClient, parent: Any = None) -> None:
        super().__init__(client, 50, parent)
        self._status: str | None = ApprovalStatus.PENDING.value

    def set_status(self, status: str | None) -> None:
        """Show the approvals of one status (None: every status)."""
        self._status = status
        self._reload()

    def _query_params(self) -> dict[str, Any]:
        return {"status": self._status}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[ApprovalRow]:
        page = client.approvals(**params)
        rows = [ApprovalRow.model_validate({**item.model_dump(),
                                            "maker_name": _maker_name(client, item.maker_id)})
                for item in page.items]  # fmt: skip
        return Page[ApprovalRow](items=rows, total=page.total, skip=page.skip, limit=page.limit)

    @staticmethod
    def _describe(item: ApprovalRow) -> tuple[str, ...]:
        maker = item.maker_name or tr("user no. {id}").format(id=item.maker_id)
        amount = text.money(item.amount, item.currency) if item.amount is not None else ""
        account = account_number(item.account_id) if item.account_id is not None else ""
        return (
            str(item.id), text.approval_action(item.action), item.summary, maker, amount,
            account, age_text(item.created_at), text.approval_status(item.status),
        )  # fmt: skip

    def _role_data(self, item: ApprovalRow, column: int, role: int) -> Any:
        if role == TOOLTIP:
            if column == 2:
                return item.summary
            if column == 6:
                return text.time_text(item.created_at)
        if role == FOREGROUND and item.status in (ApprovalStatus.FAILED, ApprovalStatus.REJECTED):
            return theme.colors().negative
        return None


_STATUSES = (
    (QT_TRANSLATE_NOOP("bank", "Waiting"), ApprovalStatus.PENDING.value),
    (QT_TRANSLATE_NOOP("bank", "Approved and done"), ApprovalStatus.EXECUTED.value),
    (QT_TRANSLATE_NOOP("bank", "Approved, refused when done"), ApprovalStatus.FAILED.value),
    (QT_TRANSLATE_NOOP("bank", "Rejected"), ApprovalStatus.REJECTED.value),
    (QT_TRANSLATE_NOOP("bank", "Cancelled"), ApprovalStatus.CANCELLED.value),
    (QT_TRANSLATE_NOOP("bank", "Expired"), ApprovalStatus.EXPIRED.value),
    (QT_TRANSLATE_NOOP("bank", "All"), None),
)


class ApprovalsTab(QWidget):
    """The queue: approve, reject with a reason, cancel one's own; decided ones with results."""

    pending_changed = Signal(int)  # how many wait for the signed-in user (the tab's badge)
    message = Signal(str)
    failed = Signal(object)

    def __init__(self, client: BankClient, me: UserPublic, parent: QWidget | None = None,
                 *, badge_ms: int = BADGE_MS) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("approvalsTab")
        self.client = client
        self.me = me
        self.checker = roles.administers_accounts(me.role)  # supervisors and admins
        self.model = ApprovalsModel(client, parent=self)
        self.table = PagedTable("approvalsTable", self.model)
        self.status_filter = named(QComboBox(), "approvalStatusFilter")
        for words, code in _STATUSES:
            self.status_filter.addItem(tr(words), code)
        self.approve_button = named(QPushButton(tr("Approve")), "approveButton")
        self.reject_button = named(QPushButton(tr("Reject…")), "rejectButton")
        self.cancel_button = named(QPushButton(tr("Cancel request")), "cancelApprovalButton")
        self.cancel_button.setToolTip(tr("Withdraw your own request while it waits"))
        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshApprovalsButton")
        self.details = ToneLabel("approvalDetails", panel=True)
        self.details.show_text("")
        self.count = named(QLabel(""), "approvalsCount")
        for button in (self.approve_button, self.reject_button):
            button.setVisible(self.checker)
        row = QHBoxLayout()
        for tool in (self.status_filter, self.approve_button, self.reject_button,
                     self.cancel_button, self.refresh_button):  # fmt: skip
            row.addWidget(tool)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.count)
        self.status_filter.currentIndexChanged.connect(
            lambda _i: self.model.set_status(self.status_filter.currentData())
        )
        self.approve_button.clicked.connect(self.approve_selected)
        self.reject_button.clicked.connect(self.reject_selected)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update())
        self.model.modelReset.connect(self._update)
        self.model.load_failed.connect(self.failed)
        self.model.total_changed.connect(lambda total: self.count.setText(
            plural(total, tr("%n request"), tr("%n requests"))))  # fmt: skip
        self.waiting: int | None = None
        self._my_pending: set[int] | None = None  # my requests that waited at the last count
        self._counting = False
        self.badge_timer = QTimer(self, interval=badge_ms)
        self.badge_timer.timeout.connect(self.count_pending)
        self.badge_timer.start()
        self.model.set_status(ApprovalStatus.PENDING.value)
        self.count_pending()
        self._update()

    # -- selection ---------------------------------------------------------------------

    def selected(self) -> ApprovalPublic | None:
        """Return the approval on the current row."""
        index = self.table.currentIndex()
        return self.model.item_at(index.row()) if index.isValid() else None

    def _update(self) -> None:
        approval = self.selected()
        waiting = approval is not None and approval.status is ApprovalStatus.PENDING
        mine = approval is not None and approval.maker_id == self.me.id
        for button in (self.approve_button, self.reject_button):
            button.setEnabled(self.checker and waiting and not mine)
            button.setToolTip(tr("You may not approve your own request") if mine else "")
        self.cancel_button.setEnabled(waiting and mine)
        if approval is not None:
            self.details.show_text(self._describe(approval), self._tone(approval))
        else:
            self.details.show_text("")

    def _describe(self, approval: ApprovalPublic) -> str:
        lines = [outcome_text(approval)]
        if approval.status is not ApprovalStatus.PENDING and approval.decided_by is not None:
            lines.append(tr("Decided by user no. {id}.").format(id=approval.decided_by))
        lines.append(tr("Request: {method} {path}").format(
            method=approval.request.method, path=approval.request.path))  # fmt: skip
        return "\n".join(lines)

    @staticmethod
    def _tone(approval: ApprovalPublic) -> Tone:
        return {ApprovalStatus.PENDING: Tone.WARNING, ApprovalStatus.EXECUTED: Tone.OK,
                ApprovalStatus.FAILED: Tone.ERROR, ApprovalStatus.REJECTED: Tone.ERROR,
                }.get(approval.status, Tone.MUTED)  # fmt: skip

    # -- decisions ---------------------------------------------------------------------

    def approve_selected(self) -> None:
        """Approve the selected request; the last approval carries it out."""
        approval = self.selected()
        if approval is None or not self.approve_button.isEnabled():
            return
        self._decide(self.client.approve, approval, tr("Approving no. {id}…"))

    def cancel_selected(self) -> None:
        """Withdraw the selected request of one's own."""
        approval = self.selected()
        if approval is None or not self.cancel_button.isEnabled():
            return
        self._decide(self.client.cancel_approval, approval, tr("Cancelling no. {id}…"))

    def reject_selected(self) -> RejectDialog | None:
        """Ask why, then reject the selected request."""
        approval = self.selected()
        if approval is None or not self.reject_button.isEnabled():
            return None
        dialog = RejectDialog(self.client, approval, self)
        dialog.completed.connect(self._decided)
        dialog.session_expired.connect(lambda: self.failed.emit(SessionExpired("ended")))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _decide(self, call: Any, approval: ApprovalPublic, busy: str) -> None:
        for button in (self.approve_button, self.reject_button, self.cancel_button):
            button.setEnabled(False)
        self.details.show_text(busy.format(id=approval.id), Tone.MUTED)

        def refused(error: BaseException) -> None:
            if not shiboken6.isValid(self):
                return
            if isinstance(error, SessionExpired):
                self.failed.emit(error)
                return
            words = messages.explain(error).text
            self.details.show_text(tr("No. {id} was not decided: {reason}").format(
                id=approval.id, reason=words), Tone.ERROR)  # fmt: skip
            self.message.emit(words)
            self.count_pending()

        run_task(call, approval.id, on_done=self._decided, on_error=refused)

    def _decided(self, approval: object) -> None:
        if not shiboken6.isValid(self) or not isinstance(approval, ApprovalPublic):
            return
        words = outcome_text(approval)
        self.message.emit(words.splitlines()[0])
        self.refresh()
        self.details.show_text(words, self._tone(approval))

    # -- refreshing --------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the list and the count."""
        self.model.refresh()
        self.count_pending()

    def count_pending(self) -> None:
        """Count, off the GUI thread, what waits for me (the badge)."""
        if self._counting:
            return
        self._counting = True
        run_task(self.client.approvals, status=ApprovalStatus.PENDING.value, limit=200,
                 on_done=self._counted, on_error=self._count_failed)  # fmt: skip

    def _count_failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self._counting = False
            if isinstance(error, SessionExpired):
                self.badge_timer.stop()

    def _counted(self, page: Page[ApprovalPublic]) -> None:
        if not shiboken6.isValid(self):
            return
        self._counting = False
        mine = {a.id for a in page.items if a.maker_id == self.me.id}
        others = len(page.items) - len(mine)
        waiting = others if self.checker else len(mine)
        if waiting != self.waiting:
            self.waiting = waiting
            self.pending_changed.emit(waiting)
        if self._my_pending is not None:
            for decided in self._my_pending - mine:  # my request left the queue: say how
                run_task(self.client.approval, decided, on_done=self._tell_maker)
        self._my_pending = mine

    def _tell_maker(self, approval: object) -> None:
        if shiboken6.isValid(self) and isinstance(approval, ApprovalPublic):
            self.message.emit(outcome_text(approval).splitlines()[0])
            if self.status_filter.currentData() == ApprovalStatus.PENDING.value:
                self.model.refresh()


def badge_title(waiting: int | None) -> str:
    """Return the tab's title with the count of what waits."""
    if not waiting:
        return tr("Approvals")
    return tr("Approvals ({count})").format(count=waiting)
