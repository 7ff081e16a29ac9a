"""Where files are saved: the documents folder at first, then the folder chosen last time."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

LAST_FOLDER_KEY = "files/lastFolder"


class FileChooser:
    """Ask where to save a file, starting in the folder the user chose last (remembered)."""

    def __init__(self, settings: QSettings | None) -> None:
        self._settings = settings
        self._last: str | None = None  # without settings, remembered for this run only

    def folder(self) -> Path:
        """Return the folder the next dialog opens in."""
        remembered = self._last
        if self._settings is not None:
            remembered = str(self._settings.value(LAST_FOLDER_KEY, "") or "") or remembered
        if remembered and Path(remembered).is_dir():
            return Path(remembered)
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation
        )
        return Path(documents or Path.home())

    def remember(self, path: Path) -> None:
        """Remember the folder of a file the user chose."""
        self._last = str(path.parent)
        if self._settings is not None:
            self._settings.setValue(LAST_FOLDER_KEY, self._last)

    def save_with_filter(
        self, parent: QWidget | None, title: str, name: str, filters: str
    ) -> tuple[Path | None, str]:
        """Ask for a file to save (suggesting `name`); return it and the filter chosen."""
        chosen, selected = QFileDialog.getSaveFileName(
            parent, title, str(self.folder() / name), filters
        )
        if not chosen:
            return None, selected
        path = Path(chosen)
        self.remember(path)
        return path, selected

    def save(self, parent: QWidget | None, title: str, name: str, filters: str) -> Path | None:
        """Ask for a file to save (suggesting `name`); None if the user cancelled."""
        return self.save_with_filter(parent, title, name, filters)[0]
