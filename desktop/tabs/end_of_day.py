"""End of day, for supervisors and admins: what still stands in the way, the close, the
sealed reports (preview, PDF and CSV), and whether the chain of closed days still holds.

Every read and the close run off the GUI thread. The close sends the date the screen shows,
so a day closed meanwhile by someone else answers `day_closed` instead of closing the next.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop import messages, text, theme
from desktop.api.client import BankClient, new_idempotency_key
from desktop.tabs.day_report import download_report, report_html
from desktop.text import plural, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.files import FileChooser
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.workers import run_task
from shared.schemas.approvals import ApprovalPublic
from shared.schemas.business_day import BusinessDayPublic, ClosedDay, VerifyResult
from shared.schemas.tills import SessionPublic

FILTERS = {"pdf": "PDF (*.pdf)", "csv": "CSV (*.csv)"}
REASONS = {
    "hash": "its stored report was changed after it was sealed",
    "chain": "its link to the day before is broken",
    "figures": "its ledger entries no longer add up to the report",
}


@dataclass
class Checklist:
    """What stands between the open day and its close."""

    day: BusinessDayPublic
    sessions: list[SessionPublic]  # open or closing
    approvals: list[ApprovalPublic]  # pending: they expire in the close
    closed: list[ClosedDay]


def _names(client: BankClient, ids: set[int], known: dict[int, str]) -> dict[int, str]:
    found = dict(known)
    for user_id in ids - set(found):
        try:
            user = client.get_user(user_id)
            found[user_id] = f"{user.full_name} ({user.username})"
        except Exception:  # staff are hidden from supervisors (API.md "Users"): their id
            found[user_id] = tr("user no. {id}").format(id=user_id)
    return found


def load(client: BankClient, known: dict[int, str]) -> tuple[Checklist, dict[int, str]]:
    """Read the day, its open sessions and pending approvals, and the closed days (worker)."""
    day = client.business_day()
    sessions = [*client.day_sessions("open").items, *client.day_sessions("closing").items]
    approvals = client.day_pending_approvals().items
    closed = client.closed_days(limit=200).items
    ids = {s.teller_id for s in sessions} | {a.maker_id for a in approvals}
    ids |= {d.closed_by for d in closed}
    return Checklist(day, sessions, approvals, closed), _names(client, ids, known)


class _Progress(QObject):
    bytes = Signal(int)  # emitted from the worker; queued to the GUI thread


class EndOfDayTab(QWidget):
    """The checklist, Close day, the closed days with their reports, and Verify."""

    day_closed = Signal(object)  # the report (dict) of the day just closed
    report_saved = Signal(str)
    failed = Signal(object)

    def __init__(
        self, client: BankClient, files: FileChooser, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("endOfDayTab")
        self.client = client
        self.files = files
        self.names: dict[int, str] = {}
        self.checklist: Checklist | None = None
        self.report: dict[str, Any] | None = None
        self._close_key: str | None = None
        self._reads = 0
        self._select_after_load: str | None = None  # the day just closed, chosen once listed
        self._canceled = threading.Event()
        self._progress = _Progress(self)
        self._build()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        self.heading = plain_label("dayHeading", tr("Business day …"))
        theme.emphasize(self.heading, 1.2)
        self.refresh_button = named(QPushButton(tr("Refresh")), "eodRefreshButton")
        self.refresh_button.clicked.connect(self.refresh)
        head = QHBoxLayout()
        head.addWidget(self.heading, 1)
        head.addWidget(self.refresh_button)
        checks = QGroupBox(tr("Before closing"))
        self.sessions_check = ToneLabel("sessionsCheck")
        self.approvals_check = ToneLabel("approvalsCheck")
        self.close_button = named(QPushButton(tr("Close day…")), "closeDayButton")
        self.close_button.clicked.connect(self.ask_close)
        self.close_result = ToneLabel("closeResult", panel=True)
        self.close_result.show_text("")
        check_layout = QVBoxLayout(checks)
        for widget in (self.sessions_check, self.approvals_check):
            check_layout.addWidget(widget)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.close_button)
        check_layout.addLayout(row)
        check_layout.addWidget(self.close_result)

        self.days = named(QTableWidget(0, 4), "closedDaysTable")
        self.days.setHorizontalHeaderLabels(
            [tr("Date"), tr("Closed at"), tr("Closed by"), tr("Hash")]
        )
        self.days.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.days.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.days.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.days.verticalHeader().hide()
        self.days.horizontalHeader().setStretchLastSection(True)
        self.days.currentCellChanged.connect(lambda row, *_: self._day_chosen(row))
        self.verify_button = named(QPushButton(tr("Verify the chain")), "verifyButton")
        self.verify_button.clicked.connect(self.verify)
        self.verify_result = ToneLabel("verifyResult", panel=True)
        self.verify_result.show_text("")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(plain_label("closedDaysLabel", tr("Closed days")))
        left_layout.addWidget(self.days, 1)
        left_layout.addWidget(self.verify_button)
        left_layout.addWidget(self.verify_result)

        self.preview = named(QTextBrowser(), "reportPreview")
        self.preview.setPlaceholderText(tr("Choose a closed day to read its report."))
        self.pdf_button = named(QPushButton(tr("Save PDF…")), "savePdfButton")
        self.csv_button = named(QPushButton(tr("Save CSV…")), "saveCsvButton")
        self.pdf_button.clicked.connect(lambda: self.save_report("pdf"))
        self.csv_button.clicked.connect(lambda: self.save_report("csv"))
        self.progress = named(QProgressBar(), "downloadProgress")
        self.progress.setRange(0, 0)
        self.progress.setFormat(tr("%v bytes"))
        self.progress.hide()
        self.cancel_download = named(QPushButton(tr("Cancel")), "cancelDownloadButton")
        self.cancel_download.clicked.connect(self._canceled.set)
        self.cancel_download.hide()
        self.download_result = ToneLabel("downloadResult")
        self.download_result.show_text("")
        self._progress.bytes.connect(self._received)
        files_row = QHBoxLayout()
        for part in (self.pdf_button, self.csv_button, self.progress, self.cancel_download):
            files_row.addWidget(part)
        files_row.addStretch(1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.preview, 1)
        right_layout.addLayout(files_row)
        right_layout.addWidget(self.download_result)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(checks)
        layout.addWidget(splitter, 1)
        self._show_files(False)
        self.close_button.setEnabled(False)

    # -- reading -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the checklist and the closed days again (off the GUI thread)."""
        self._reads += 1
        read = self._reads  # only the latest read is shown: an older one may be stale

        def loaded(result: tuple[Checklist, dict[int, str]]) -> None:
            if shiboken6.isValid(self) and read == self._reads:
                self._loaded(result)

        run_task(load, self.client, dict(self.names), on_done=loaded,
                 on_error=self._load_failed)  # fmt: skip

    def _loaded(self, result: tuple[Checklist, dict[int, str]]) -> None:
        checklist, self.names = result
        self.checklist = checklist
        day = checklist.day
        self.heading.setText(tr("Business day {date} · {status}").format(
            date=day.date, status=text.day_status(day.status)))  # fmt: skip
        self.close_button.setText(tr("Close business day {date}…").format(date=day.date))
        self.close_button.setEnabled(True)
        self._show_sessions(checklist.sessions)
        self._show_approvals(checklist.approvals)
        self._show_days(checklist.closed)

    def _load_failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self.failed.emit(error)

    def _name(self, user_id: int | None) -> str:
        if user_id is None:
            return "—"
        return self.names.get(user_id) or tr("user no. {id}").format(id=user_id)

    def _show_sessions(self, sessions: list[SessionPublic]) -> None:
        if not sessions:
            self.sessions_check.show_text("✔ " + tr("No teller session is open."), Tone.OK)
            return
        lines = ["✖ " + tr("Close these teller sessions first ({count}):").format(
            count=plural(len(sessions), tr("%n session"), tr("%n sessions")))]  # fmt: skip
        for s in sessions:
            lines.append("    " + tr("Session no. {id} on till {till}: {teller} ({status})").format(
                id=s.id, till=s.till_id, teller=self._name(s.teller_id),
                status=tr("counted, waiting for approval") if s.status == "closing"
                else tr("open")))  # fmt: skip
        self.sessions_check.show_text("\n".join(lines), Tone.ERROR)

    def _show_approvals(self, approvals: list[ApprovalPublic]) -> None:
        if not approvals:
            self.approvals_check.show_text("✔ " + tr("No approval is pending."), Tone.OK)
            return
        lines = ["⚠ " + tr("These pending approvals expire when the day closes ({count}):").format(
            count=len(approvals))]  # fmt: skip
        for a in approvals:
            lines.append("    " + tr("No. {id}: {summary} (asked by {maker})").format(
                id=a.id, summary=a.summary, maker=self._name(a.maker_id)))  # fmt: skip
        self.approvals_check.show_text("\n".join(lines), Tone.WARNING)

    def _show_days(self, days: list[ClosedDay]) -> None:
        chosen = self._select_after_load or self.chosen_date()
        self._select_after_load = None
        self.days.setRowCount(len(days))
        for row, day in enumerate(days):
            cells = (day.date, text.time_text(day.closed_at), self._name(day.closed_by),
                     day.hash[:16] + "…")  # fmt: skip
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, day.date)
                if column == 3:
                    item.setToolTip(day.hash)
                self.days.setItem(row, column, item)
        self.days.resizeColumnsToContents()
        dates = [d.date for d in days]
        if chosen in dates:
            self.days.selectRow(dates.index(chosen))

    def chosen_date(self) -> str | None:
        """Return the closed day chosen in the list."""
        item = self.days.item(self.days.currentRow(), 0) if self.days.currentRow() >= 0 else None
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _day_chosen(self, row: int) -> None:
        date = self.chosen_date() if row >= 0 else None
        self._show_files(False)
        if date is None:
            return
        self.preview.setPlainText(tr("Loading the report of {date}…").format(date=date))
        run_task(self.client.day_report, date, on_done=self._show_report,
                 on_error=self._load_failed)  # fmt: skip

    def _show_report(self, report: dict[str, Any]) -> None:
        if not shiboken6.isValid(self) or report.get("date") != self.chosen_date():
            return
        self.report = report
        self.preview.setHtml(report_html(report, self._name))
        self._show_files(True)

    def _show_files(self, enabled: bool) -> None:
        for button in (self.pdf_button, self.csv_button):
            button.setEnabled(enabled and self.progress.isHidden())

    # -- closing -----------------------------------------------------------------------

    def ask_close(self) -> QMessageBox | None:
        """Ask before closing the day shown (a window-modal box, answered like any other)."""
        if self.checklist is None:
            return None
        date = self.checklist.day.date
        words = tr("Close business day {date}? Postings after this take the next date, and the "
                   "day's report is sealed for good.").format(date=date)  # fmt: skip
        if self.checklist.approvals:
            words += "\n" + tr("{count} pending approvals will expire.").format(
                count=len(self.checklist.approvals))  # fmt: skip
        box = named(QMessageBox(QMessageBox.Icon.Question, tr("Close day"), words,
                                QMessageBox.StandardButton.NoButton, self),
                    "confirmCloseDay")  # fmt: skip
        yes = named(box.addButton(tr("Close day"), QMessageBox.ButtonRole.AcceptRole),
                    "confirmCloseDayButton")  # fmt: skip
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        yes.clicked.connect(lambda: self.close_day(date))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def close_day(self, date: str) -> None:
        """Close the business day `date` (off the GUI thread)."""
        self._close_key = self._close_key or new_idempotency_key()
        self.close_button.setEnabled(False)
        self.close_result.show_text(tr("Closing {date}…").format(date=date), Tone.WARNING)
        run_task(self.client.close_business_day, date, self._close_key,
                 on_done=self._closed, on_error=self._close_refused)  # fmt: skip

    def _closed(self, report: dict[str, Any]) -> None:
        if not shiboken6.isValid(self):
            return
        self._close_key = None
        words = tr("Closed {date}. Its report is sealed (hash {hash}…).")
        self.close_result.show_text(words.format(
            date=report.get("date"), hash=str(report.get("hash", ""))[:16]), Tone.OK)  # fmt: skip
        self.day_closed.emit(report)
        self._select_after_load = str(report.get("date"))
        self.refresh()

    def _close_refused(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        explanation = messages.explain(error, messages.Situation(
            nothing_happened=tr("The day is still open.")))  # fmt: skip
        if not explanation.unknown:
            self._close_key = None  # refused: pressing again is a new request
        self.close_result.show_text(explanation.text, Tone.ERROR)
        self.close_button.setEnabled(True)
        self.refresh()  # the checklist names the sessions the refusal counted

    # -- files and verification --------------------------------------------------------

    def save_report(self, fmt: str, path: str | None = None) -> QFileDialog | None:
        """Save the chosen day's report as PDF or CSV; without a path, ask where."""
        date = self.chosen_date()
        if date is None:
            return None
        if path is not None:
            self._download(date, fmt, Path(path))
            return None
        dialog = named(QFileDialog(self, tr("Save the day's report")), "reportFileDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters([FILTERS[fmt]])
        dialog.setDefaultSuffix(fmt)
        dialog.setDirectory(str(self.files.folder()))  # the documents folder at first
        dialog.selectFile(f"business-day-{date}.{fmt}")

        def chosen(name: str) -> None:
            self.files.remember(Path(name))
            self._download(date, fmt, Path(name))

        dialog.fileSelected.connect(chosen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _download(self, date: str, fmt: str, target: Path) -> None:
        self._canceled.clear()
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_download.show()
        self._show_files(False)
        self.download_result.show_text(tr("Downloading the report of {date}…").format(date=date),
                                       Tone.MUTED)  # fmt: skip

        def done(written: int | None) -> None:
            if not shiboken6.isValid(self):
                return
            self._download_ended()
            if written is None:
                self.download_result.show_text(tr("Download canceled."), Tone.MUTED)
                return
            self.download_result.show_text(tr("Saved to {path} ({size} bytes).").format(
                path=target, size=f"{written:,}"), Tone.OK)  # fmt: skip
            self.report_saved.emit(str(target))

        def failed(error: BaseException) -> None:
            if not shiboken6.isValid(self):
                return
            self._download_ended()
            words = (tr("Cannot save the report: {reason}").format(reason=error.strerror or error)
                     if isinstance(error, OSError) else messages.explain(error).text)  # fmt: skip
            self.download_result.show_text(words, Tone.ERROR)

        run_task(download_report, self.client, date, fmt, target, self._canceled,
                 self._progress.bytes.emit, on_done=done, on_error=failed)  # fmt: skip

    def _received(self, size: int) -> None:
        self.progress.setRange(0, max(size, 1))
        self.progress.setValue(size)

    def _download_ended(self) -> None:
        self.progress.hide()
        self.cancel_download.hide()
        self._show_files(self.report is not None)

    def verify(self) -> None:
        """Check every closed day's hash, link and figures (off the GUI thread)."""
        self.verify_button.setEnabled(False)
        self.verify_result.show_text(tr("Verifying…"), Tone.WARNING)
        run_task(self.client.verify_days, on_done=self._verified, on_error=self._verify_failed)

    def _verified(self, result: VerifyResult) -> None:
        if not shiboken6.isValid(self):
            return
        self.verify_button.setEnabled(True)
        if result.valid:
            self.verify_result.show_text(tr("Valid: all {count} closed days hold.").format(
                count=f"{result.days:,}"), Tone.OK)  # fmt: skip
            return
        reason = tr(REASONS.get(result.reason or "", "it does not hold"))
        self.verify_result.show_text(tr("Not valid: {date} fails — {reason}.").format(
            date=result.first_bad_date, reason=reason), Tone.ERROR)  # fmt: skip

    def _verify_failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self.verify_button.setEnabled(True)
            self.verify_result.show_text(messages.explain(error).text, Tone.ERROR)
