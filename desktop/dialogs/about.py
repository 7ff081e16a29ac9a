"""Help → About: this desktop's version, the server it talks to and its version, and where
the desktop keeps its settings, data and logs."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from desktop import __version__
from desktop.api.client import BankClient
from desktop.messages import explain
from desktop.text import tr
from desktop.widgets import named
from desktop.workers import run_task
from shared.schemas.service import ServiceInfo


@dataclass(frozen=True)
class Places:
    """Where this desktop keeps things on this machine."""

    settings: str  # the QSettings file (or registry path)
    data_dir: Path | None = None  # the bundled server's data (None: a remote server)
    log_file: Path | None = None  # the bundled server's log


class AboutDialog(QDialog):
    """Versions and places, with the server's own name and version asked off-thread."""

    def __init__(self, client: BankClient, places: Places, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(tr("About Bank System"))
        self.setMinimumWidth(520)
        self._client = client
        self._places = places
        self.server_info: ServiceInfo | None = None
        self.body = named(QLabel(), "aboutText")
        self.body.setWordWrap(True)
        self.body.setOpenExternalLinks(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.body)
        layout.addWidget(buttons)
        self._server_line = tr("asking…")
        self._render()
        run_task(client.service_info, on_done=self._answered, on_error=self._failed)

    def _answered(self, info: ServiceInfo) -> None:
        if shiboken6.isValid(self):
            self.server_info = info
            self._server_line = tr("{name}, version {version}").format(
                name=info.name, version=info.version
            )
            self._render()

    def _failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self._server_line = explain(error).text
            self._render()

    def rows(self) -> list[tuple[str, str]]:
        """Return what the dialog says, as (label, value) rows."""
        places = self._places
        local = tr("started by this desktop (bundled)") if places.data_dir else tr("remote")
        return [
            (tr("Desktop"), tr("Bank System desktop {version} (Qt for Python {qt})").format(
                version=__version__, qt=pyside_version)),
            (tr("Server"), f"{self._client.base_url} ({local})"),
            (tr("Server version"), self._server_line),
            (tr("Settings"), places.settings),
            (tr("Bank data"), str(places.data_dir) if places.data_dir else tr("on the server")),
            (tr("Server log"), str(places.log_file) if places.log_file else tr("on the server")),
        ]  # fmt: skip

    def _render(self) -> None:
        cells = "".join(
            f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"
            for label, value in self.rows()
        )
        self.body.setText(f"<h3>Bank System</h3><table cellspacing='6'>{cells}</table>")
