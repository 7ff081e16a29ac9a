"""A customer's identity documents: the KYC badge, the documents on file (an expired one in
red), filing a new one and verifying one (staff, never their own)."""

from __future__ import annotations

from datetime import date

import shiboken6
from pydantic import TypeAdapter, ValidationError
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import messages, text, theme
from desktop.api.client import BankClient
from desktop.dialogs.form import FormDialog, Request
from desktop.text import tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.kyc_badge import KycBadge
from desktop.widgets.labels import ToneLabel, plain_label
from desktop.workers import run_task
from shared.schemas.customers import Country, DocumentNumber, DocumentPublic, DocumentType
from shared.schemas.users import UserPublic

_NUMBER = TypeAdapter(DocumentNumber)
_COUNTRY = TypeAdapter(Country)
HEADERS = ("Type", "Number", "Country", "Expires", "Verified")
EXPIRES_COLUMN = 3


def _valid(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def is_expired(document: DocumentPublic, today: date | None = None) -> bool:
    """Tell whether a document's expiry date has passed."""
    return document.expires_on < (today or date.today())


class AddDocumentDialog(FormDialog):
    """File an identity document a customer showed: type, number, issuing country, expiry."""

    def __init__(self, client: BankClient, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__(tr("Add identity document"), "addDocumentDialog", client, parent)
        self.user = user
        self.kind = named(QComboBox(), "documentTypeCombo")
        for kind in DocumentType:
            self.kind.addItem(text.document_type(kind), kind.value)
        self.number = named(QLineEdit(), "documentNumberEdit")
        self.number.setMaxLength(40)
        self.number.setPlaceholderText(tr("As printed, e.g. P1234567"))
        self.country = named(QLineEdit(), "documentCountryEdit")
        self.country.setMaxLength(2)
        self.country.setPlaceholderText(tr("Issuing country, e.g. GB"))
        self.expires_on = named(QDateEdit(), "documentExpiresEdit")
        self.expires_on.setCalendarPopup(True)
        self.expires_on.setDisplayFormat("yyyy-MM-dd")
        self.expires_on.setDate(QDate.currentDate().addYears(5))
        self.form.addRow(tr("Customer"), plain_label("documentOwnerLabel", user.full_name))
        self.form.addRow(tr("&Type"), self.kind)
        self.form.addRow(tr("&Number"), self.number)
        self.form.addRow(tr("&Country"), self.country)
        self.form.addRow(tr("&Expires on"), self.expires_on)
        for edit in (self.number, self.country):
            edit.textChanged.connect(self.update_state)
        self.expires_on.dateChanged.connect(self.update_state)
        self.built(self.kind)

    def problem(self) -> str | None:
        """Return why the document would be refused as typed, or None."""
        number = self.number.text().strip()
        if not number:
            return tr("Enter the document's number.")
        if not _valid(_NUMBER, number):
            return tr("The number has letters and digits only (spaces and dashes allowed).")
        if not _valid(_COUNTRY, self.country.text().strip()):
            return tr("The country is a two-letter code in capitals, e.g. GB.")
        return None

    def notice(self) -> str:
        """Warn when the document has expired already."""
        if self.expires_on.date() < QDate.currentDate():
            return tr("This document has expired: it cannot verify the customer.")
        return ""

    def request(self) -> Request:
        fields = {"type": self.kind.currentData(), "number": self.number.text().strip(),
                  "country": self.country.text().strip(),
                  "expires_on": self.expires_on.date().toString("yyyy-MM-dd")}  # fmt: skip
        return self.client.add_document, (self.user.id,), fields


class DocumentsSection(QGroupBox):
    """The documents on file for a customer; `user_changed(user)` after one was added or checked."""

    user_changed = Signal(object)  # the UserPublic as the server has it now

    def __init__(self, client: BankClient, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__(tr("Identity documents"), parent)
        self.setObjectName("documentsSection")
        self.client = client
        self.user = user
        self.badge = KycBadge("customerKycBadge")
        self.table = named(QTableWidget(0, len(HEADERS)), "documentsTable")
        self.table.setHorizontalHeaderLabels([tr(h) for h in HEADERS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the number
        self.table.setMinimumHeight(110)
        self.add_button = named(QPushButton(tr("Add document…")), "addDocumentButton")
        self.verify_button = named(QPushButton(tr("Verify")), "verifyDocumentButton")
        self.verify_button.setToolTip(tr("Record that you checked the chosen document in person"))
        self.message = ToneLabel("documentsMessage", hint=True)
        row = QHBoxLayout()
        row.addWidget(self.badge)
        row.addStretch(1)
        row.addWidget(self.add_button)
        row.addWidget(self.verify_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        self.add_button.clicked.connect(self.open_add)
        self.verify_button.clicked.connect(self.verify_selected)
        self.table.itemSelectionChanged.connect(self._update)
        self.show_user(user)

    def documents(self) -> list[DocumentPublic]:
        """Return the documents shown, in the server's order."""
        return list(self.user.documents or [])

    def selected_document(self) -> DocumentPublic | None:
        """Return the document chosen in the table."""
        row, documents = self.table.currentRow(), self.documents()
        return documents[row] if 0 <= row < len(documents) and self.table.selectedItems() else None

    def show_user(self, user: UserPublic) -> None:
        """Show a customer's KYC status and documents (an expired one in red)."""
        self.user = user
        self.badge.set_status(user.kyc_status)
        documents = self.documents()
        self.table.setRowCount(len(documents))
        red = QBrush(theme.colors().negative)
        for row, document in enumerate(documents):
            verified = (text.date_text(document.verified_at) if document.verified_at
                        else tr("not yet"))  # fmt: skip
            cells = (text.document_type(document.type), document.number, document.country,
                     text.date_text(document.expires_on), verified)  # fmt: skip
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if column == EXPIRES_COLUMN and is_expired(document):
                    item.setForeground(red)
                    item.setToolTip(tr("Expired on {day}").format(
                        day=text.date_text(document.expires_on)))  # fmt: skip
                self.table.setItem(row, column, item)
        if not documents:
            self.message.show_text(tr("No identity document on file yet."), Tone.MUTED)
        self._update()

    def _update(self) -> None:
        document = self.selected_document()
        own = self.client.user is not None and self.client.user.id == self.user.id
        self.verify_button.setEnabled(document is not None and document.verified_at is None
                                      and not own and not self._busy)  # fmt: skip

    _busy = False

    def open_add(self) -> AddDocumentDialog:
        """Ask for a document's details and file it."""
        dialog = AddDocumentDialog(self.client, self.user, self)
        dialog.completed.connect(lambda _doc: self._reload(tr("Document added.")))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def verify_selected(self) -> None:
        """Verify the chosen document (off the GUI thread)."""
        document = self.selected_document()
        if document is None or not self.verify_button.isEnabled():
            return
        self._run(self.client.verify_document, self.user.id, document.id,
                  words=tr("Verified: {type} {number}.").format(
                      type=text.document_type(document.type), number=document.number))  # fmt: skip

    def _reload(self, words: str) -> None:
        self._run(self.client.get_user, self.user.id, words=words)

    def _run(self, fn: object, *args: object, words: str) -> None:
        self._busy = True
        self._update()
        self.message.show_text(tr("Working…"), Tone.MUTED)

        def done(user: UserPublic) -> None:
            if not shiboken6.isValid(self):
                return
            self._busy = False
            self.show_user(user)
            self.message.show_text(words, Tone.OK)
            self.user_changed.emit(user)

        def failed(error: BaseException) -> None:
            if not shiboken6.isValid(self):
                return
            self._busy = False
            self._update()
            self.message.show_text(messages.explain(error).text, Tone.ERROR)

        run_task(fn, *args, on_done=done, on_error=failed)  # type: ignore[arg-type]
