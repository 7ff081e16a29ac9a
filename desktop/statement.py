"""Save an account's statement (PDF or CSV): ask where, stream it off the GUI thread, show progress.

The download goes into a `.part` file beside the target; only a complete download replaces
the target, and Cancel or a failure leaves nothing behind.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget
from shiboken6 import isValid

from desktop.api.client import BankClient
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.files import FileChooser
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic

PDF_FILTER = "PDF (*.pdf)"
CSV_FILTER = "CSV (*.csv)"


def statement_format(path: str, name_filter: str = "") -> str:
    """Return "csv" or "pdf" for a chosen file: its extension, else the chosen filter."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".pdf"):
        return suffix[1:]
    return "csv" if name_filter == CSV_FILTER else "pdf"


def download(
    client: BankClient, account_id: int, fmt: str, target: Path, canceled: threading.Event
) -> int | None:
    """Stream a statement into `target` (worker thread); return its size, None if canceled."""
    partial = target.with_name(target.name + ".part")
    written = 0
    try:
        with partial.open("wb") as handle:
            for chunk in client.statement(account_id, fmt):
                if canceled.is_set():
                    break
                handle.write(chunk)
                written += len(chunk)
        if canceled.is_set():
            partial.unlink(missing_ok=True)
            return None
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


class StatementExporter(QObject):
    """Export statements for a window: `saved(path)`, `message(text)` or `failed(error)`."""

    saved = Signal(str)
    message = Signal(str)
    failed = Signal(object)

    def __init__(self, client: BankClient, files: FileChooser, window: QWidget) -> None:
        super().__init__(window)
        self._client = client
        self._files = files
        self._window = window
        self.progress: QProgressDialog | None = None

    def export(
        self, account: AccountPublic, path: str | None = None, fmt: str | None = None
    ) -> QFileDialog | None:
        """Save an account's statement; without a path, ask where (and return the dialog).

        The dialog is opened, not exec()'d: the window keeps its event loop while it shows,
        and a person (or a test) answers it like any other window.
        """
        if path is None:
            return self._ask(account)
        self.save(account, path, fmt)
        return None

    def _ask(self, account: AccountPublic) -> QFileDialog:
        dialog = named(QFileDialog(self._window, tr("Export statement")), "statementFileDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters([PDF_FILTER, CSV_FILTER])
        dialog.setDefaultSuffix("pdf")
        dialog.setDirectory(str(self._files.folder()))
        dialog.selectFile(f"statement-{account.number}.pdf")
        dialog.filterSelected.connect(
            lambda chosen: dialog.setDefaultSuffix("csv" if chosen == CSV_FILTER else "pdf")
        )

        def chosen(path: str) -> None:
            self._files.remember(Path(path))
            self.save(account, path, statement_format(path, dialog.selectedNameFilter()))

        dialog.fileSelected.connect(chosen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def save(self, account: AccountPublic, path: str, fmt: str | None = None) -> None:
        """Stream an account's statement into `path` off the GUI thread, with progress shown."""
        fmt = fmt or ("csv" if path.lower().endswith(".csv") else "pdf")
        if self.progress is not None and isValid(self.progress):
            self.progress.deleteLater()
        progress = named(QProgressDialog(
            tr("Downloading the statement of {number}…").format(number=account.number),
            tr("Cancel"), 0, 0, self._window,
        ), "statementProgress")  # fmt: skip
        progress.setWindowTitle(tr("Export statement"))
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        canceled = threading.Event()  # the worker reads this, never the widget
        progress.canceled.connect(canceled.set)
        progress.show()
        self.progress = progress
        target = Path(path)

        def done(written: int | None) -> None:
            if not isValid(self):
                return
            progress.close()
            if written is None:
                self.message.emit(tr("Statement export canceled"))
                return
            self.message.emit(tr("Statement saved to {path} ({size} bytes)").format(
                path=target, size=f"{written:,}"))  # fmt: skip
            self.saved.emit(str(target))

        def failed(error: BaseException) -> None:
            if not isValid(self):
                return
            progress.close()
            if isinstance(error, OSError):
                self.message.emit(tr("Cannot save the statement: {reason}").format(
                    reason=error.strerror or error))  # fmt: skip
                return
            self.failed.emit(error)

        run_task(download, self._client, account.id, fmt, target, canceled, on_done=done,
                 on_error=failed)  # fmt: skip
