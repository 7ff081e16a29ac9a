"""The audit trail (admins): filters, the events newest first, and the chosen event's details.

The Actor filter takes a username (or a user number): the name is looked up once on the
server (deleted users included) and the trail is filtered by that user's id.
"""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop import text
from desktop.admin.audit_model import (
    AUDIT_TARGET_TYPES,
    AuditModel,
    actor_text,
    describe_details,
    outcome_text,
    target_text,
)
from desktop.admin.models import ClientSource
from desktop.api.client import BankClient
from desktop.text import plural, tr
from desktop.theme import Tone
from desktop.widgets import named
from desktop.widgets.labels import ToneLabel
from desktop.widgets.search import choice_box
from desktop.widgets.tables import PagedTable
from desktop.workers import run_task
from shared.schemas.admin import AuditEventPublic

SEARCH_DELAY_MS = 250
NOBODY = 0  # no user has id 0: filtering by it shows an empty trail


def local_midnight(day: QDate) -> datetime:
    """Return the start of a calendar day in the machine's time zone, as an aware time."""
    return datetime.combine(date(day.year(), day.month(), day.day()), time()).astimezone()


def find_user_id(client: BankClient, name: str) -> int | None:
    """Return the id of the user with exactly this username, deleted or not (worker thread)."""
    wanted = name.strip().lower()
    page = client.users(q=wanted, include_deleted=True, limit=50)
    return next((user.id for user in page.items if user.username == wanted), None)


def event_html(event: AuditEventPublic) -> str:
    """Return an event as a small table for the details pane (values escaped)."""
    rows = [
        (tr("Event no."), str(event.id)),
        (tr("Time"), text.time_with_zone(event.at)),
        (tr("Actor"), actor_text(event)),
        (tr("Action"), text.audit_action(event.action)),
        (tr("Outcome"), outcome_text(event)),
        (tr("Target"), target_text(event) or "—"),
        *describe_details(event),
        (tr("IP address"), event.ip or "—"),
        (tr("Request"), event.request_id or "—"),
    ]
    cells = "".join(
        f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<table cellspacing='4'>{cells}</table>"


class AuditView(QWidget):
    """The audit trail, newest first, filtered by actor, action, target and dates."""

    failed = Signal(object)

    def __init__(self, client: ClientSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self._client = client
        self.model = AuditModel(client, parent=self)
        self.actor = named(QLineEdit(), "actorEdit")
        self.actor.setPlaceholderText(tr("username"))
        self.actor.setClearButtonEnabled(True)
        self.actor.setMaximumWidth(150)
        self.actor_hint = ToneLabel("actorHint", hint=True)
        self.action = choice_box("actionFilter", tr("All actions"), (
            (text.audit_action(name), name) for name in text.audit_action.codes()))  # fmt: skip
        self.target_type = choice_box("targetTypeFilter", tr("Any target"), (
            (text.target_type(kind), kind) for kind in AUDIT_TARGET_TYPES))  # fmt: skip
        self.target_id = named(QLineEdit(), "targetIdEdit")
        self.target_id.setPlaceholderText(tr("target no."))
        self.target_id.setValidator(QIntValidator(0, 2**31 - 1, self))
        self.target_id.setMaximumWidth(90)
        today = QDate.currentDate()
        self.since_check = named(QCheckBox(tr("From")), "sinceCheck")
        self.since = named(QDateEdit(today.addDays(-7)), "sinceDate")
        self.until_check = named(QCheckBox(tr("to")), "untilCheck")
        self.until = named(QDateEdit(today), "untilDate")
        for day_edit in (self.since, self.until):
            day_edit.setCalendarPopup(True)
            day_edit.setDisplayFormat("yyyy-MM-dd")
            day_edit.setEnabled(False)
        self.until.setToolTip(tr("Up to and including this day (your time zone)"))
        self.since.setToolTip(tr("From the start of this day (your time zone)"))
        self.clear_button = named(QPushButton(tr("Clear")), "clearAuditFiltersButton")
        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshAuditButton")
        self.table = PagedTable("auditTable", self.model)
        self.details = named(QTextBrowser(), "auditDetails")
        self.details.setPlaceholderText(tr("Choose an event to read all of it here."))
        self.count = named(QLabel(""), "auditCount")
        self._actor_id: int | None = None
        self._build()
        self._wire()

    def _build(self) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("Actor")))
        row.addWidget(self.actor)
        for widget in (self.action, self.target_type, self.target_id, self.since_check,
                       self.since, self.until_check, self.until):  # fmt: skip
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.clear_button)
        row.addWidget(self.refresh_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.actor_hint)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.count)

    def _wire(self) -> None:
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_filters)
        self.actor.textChanged.connect(lambda _t: self._timer.start())
        self.target_id.textChanged.connect(lambda _t: self._timer.start())
        for combo in (self.action, self.target_type):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filters())
        for check, date_edit in ((self.since_check, self.since), (self.until_check, self.until)):
            check.toggled.connect(date_edit.setEnabled)
            check.toggled.connect(lambda _on: self.apply_filters())
            date_edit.dateChanged.connect(
                lambda _d, on=check: self._timer.start() if on.isChecked() else None
            )
        self.clear_button.clicked.connect(self.clear_filters)
        self.refresh_button.clicked.connect(self.model.refresh)
        self.model.load_failed.connect(self.failed)
        self.model.total_changed.connect(
            lambda total: self.count.setText(plural(total, tr("%n event"), tr("%n events")))
        )
        self.model.modelReset.connect(lambda: self.details.clear())
        self.table.selectionModel().currentRowChanged.connect(self._show_event)

    def _show_event(self, current: QModelIndex, _previous: QModelIndex) -> None:
        event = self.model.event_at(current.row()) if current.isValid() else None
        if event is None:
            self.details.clear()
        else:
            self.details.setHtml(event_html(event))

    def filters(self) -> dict[str, Any]:
        """Return the filters the widgets describe, as AuditModel.set_filters takes them."""
        target = self.target_id.text().strip()
        return {
            "actor_id": self._actor_id,
            "action": self.action.currentData(),
            "target_type": self.target_type.currentData(),
            "target_id": int(target) if target else None,
            "since": local_midnight(self.since.date()) if self.since_check.isChecked() else None,
            # The chosen day is included: the server's `until` is exclusive.
            "until": local_midnight(self.until.date()) + timedelta(days=1)
            if self.until_check.isChecked() else None,
        }  # fmt: skip

    def apply_filters(self) -> None:
        """Find the actor named (once per name), then load the matching events."""
        self._timer.stop()
        name = self.actor.text().strip()
        if not name:
            self._actor_id = None
            self.actor_hint.show_text("")
            self.model.set_filters(**self.filters())
        elif name.isdigit():
            self._actor_id = int(name)
            self.actor_hint.show_text("")
            self.model.set_filters(**self.filters())
        else:
            run_task(
                find_user_id, self._client(), name,
                on_done=lambda found: self._actor_found(name, found),
                on_error=self.failed.emit,
            )  # fmt: skip

    def _actor_found(self, name: str, user_id: int | None) -> None:
        if not shiboken6.isValid(self) or self.actor.text().strip() != name:
            return  # the teller typed on meanwhile: a newer lookup follows
        self._actor_id = user_id if user_id is not None else NOBODY
        if user_id is None:
            self.actor_hint.show_text(
                tr("No user is named {name}.").format(name=name), Tone.WARNING
            )
        else:
            self.actor_hint.show_text("")
        self.model.set_filters(**self.filters())

    def clear_filters(self) -> None:
        """Show every event again."""
        widgets = (self.actor, self.target_id, self.action, self.target_type,
                   self.since_check, self.until_check)  # fmt: skip
        for widget in widgets:
            widget.blockSignals(True)
        self.actor.clear()
        self.target_id.clear()
        self.action.setCurrentIndex(0)
        self.target_type.setCurrentIndex(0)
        self.since_check.setChecked(False)
        self.until_check.setChecked(False)
        self.since.setEnabled(False)
        self.until.setEnabled(False)
        for widget in widgets:
            widget.blockSignals(False)
        self.apply_filters()
