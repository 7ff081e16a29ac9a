"""Save an account's statement (PDF or CSV): ask where, stream it off the GUI thread, show progress.

The download goes into a `.part` file beside the target; only a complete download replaces
the target, and Cancel or a failure leaves nothing behind.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget
from shiboken6 import isValid

from desktop.api.client import BankClient
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.files import FileChooser
from desktop.workers import run_task
from shared.schemas.accounts import AccountPublic


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
    ) -> None:
        """Save an account's statement; ask where (documents folder first) without a path."""
        if path is None:
            chosen, selected = self._files.save_with_filter(
                self._window, tr("Export statement"), f"statement-{account.number}.pdf",
                tr("PDF (*.pdf);;CSV (*.csv)"),
            )  # fmt: skip
            if chosen is None:
                return
            path = str(chosen)
            fmt = "csv" if path.lower().endswith(".csv") or "CSV" in selected else "pdf"
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
