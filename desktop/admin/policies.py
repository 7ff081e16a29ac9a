"""Approval policies (admins): which actions need a second person, from what amount, how many.

The list is the server's (GET /approval-policies, a handful of rows); a change is sent with
the policy's `version` (a change made meanwhile answers 409 `version_conflict`). A change
that weakens a policy (off, a higher threshold, fewer approvals) waits for approval itself
(`policy.update`): the dialog then shows the approval instead of closing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import text
from desktop.admin.models import ClientSource
from desktop.dialogs.form import FormDialog, Request
from desktop.text import tr
from desktop.widgets import named
from desktop.widgets.labels import plain_label
from desktop.workers import run_task
from shared.money import parse_money
from shared.schemas.approvals import PolicyPublic
from shared.schemas.common import Page


def threshold_text(threshold: dict[str, Decimal] | None) -> str:
    """Say a policy's thresholds: one amount for every currency, or each that differs."""
    if not threshold:
        return tr("every request")
    values = set(threshold.values())
    if len(values) == 1:
        return tr("from {amount} in every currency").format(amount=text.money(values.pop()))
    return ", ".join(text.money(amount, code) for code, amount in sorted(threshold.items()))


class PolicyDialog(FormDialog):
    """Change one policy: on or off, its thresholds per currency, the approvals it needs."""

    result_model = PolicyPublic

    def __init__(self, client: Any, policy: PolicyPublic, parent: QWidget | None = None) -> None:
        super().__init__(tr("Approval policy"), "policyDialog", client, parent,
                         ok=QDialogButtonBox.StandardButton.Save)  # fmt: skip
        self.policy = policy
        self.form.addRow(
            tr("Action"), plain_label("policyActionLabel", text.approval_action(policy.action))
        )
        self.enabled = named(QCheckBox(tr("A second person approves this action")),
                             "policyEnabledCheck")  # fmt: skip
        self.enabled.setChecked(policy.enabled)
        self.enabled.toggled.connect(self.update_state)
        self.form.addRow("", self.enabled)
        self.required = named(QComboBox(), "approvalsRequiredCombo")
        for n in (1, 2, 3):
            self.required.addItem(text.plural(n, tr("%n approval"), tr("%n approvals")), n)
        self.required.setCurrentIndex(max(0, policy.approvals_required - 1))
        self.required.currentIndexChanged.connect(lambda _i: self.update_state())
        self.form.addRow(tr("&Needs"), self.required)
        self.thresholds: dict[str, QLineEdit] = {}
        if policy.threshold is not None:
            grid = QGridLayout()
            for i, (code, amount) in enumerate(sorted(policy.threshold.items())):
                edit = named(QLineEdit(format(amount, "f")), f"threshold{code}Edit")
                edit.setAlignment(Qt.AlignmentFlag.AlignRight)
                edit.setMaxLength(14)
                edit.setAccessibleName(tr("Threshold in {code}").format(code=code))
                edit.textChanged.connect(self.update_state)
                self.thresholds[code] = edit
                grid.addWidget(plain_label(f"threshold{code}Label", code), i // 2, (i % 2) * 2)
                grid.addWidget(edit, i // 2, (i % 2) * 2 + 1)
            self.form.addRow(tr("From"), grid)
        self.built(self.enabled)

    def _threshold(self) -> dict[str, Decimal] | None:
        try:
            return {
                code: parse_money(edit.text().strip()) for code, edit in self.thresholds.items()
            }
        except ValueError:
            return None

    def changes(self) -> dict[str, Any]:
        """Return the fields that differ from the policy as loaded (JSON-ready)."""
        fields: dict[str, Any] = {}
        if self.enabled.isChecked() != self.policy.enabled:
            fields["enabled"] = self.enabled.isChecked()
        required = int(self.required.currentData())
        if required != self.policy.approvals_required:
            fields["approvals_required"] = required
        threshold = self._threshold()
        if self.thresholds and threshold is not None and threshold != self.policy.threshold:
            # The API takes all currencies at once.
            fields["threshold"] = {code: format(v, "f") for code, v in threshold.items()}
        return fields

    def has_changes(self) -> bool:
        """Tell whether anything differs from the policy as loaded."""
        return bool(self.changes())

    def problem(self) -> str | None:
        """Return why the policy cannot be saved yet, or None."""
        for code, edit in self.thresholds.items():
            try:
                parse_money(edit.text().strip())
            except ValueError:
                return tr("{code}: type an amount such as 10000.00.").format(code=code)
        return None

    def notice(self) -> str:
        """Say that weakening a policy needs a second administrator or supervisor."""
        return tr("Turning it off, raising a threshold or needing fewer approvals waits for "
                  "another person's approval.")  # fmt: skip

    def request(self) -> Request:
        return self.client.update_policy, (self.policy.action.value, self.policy.version), \
            self.changes()  # fmt: skip


class PoliciesView(QWidget):
    """Every approval policy in a table; Edit… changes the selected one."""

    failed = Signal(object)
    message = Signal(str)

    HEADERS = ("Action", "On", "Needs", "Applies", "Version")

    def __init__(self, client: ClientSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("policiesView")
        self._client = client
        self.policies: list[PolicyPublic] = []
        self.loaded = False
        self.table = named(QTableWidget(0, len(self.HEADERS)), "policiesTable")
        self.table.setHorizontalHeaderLabels([tr(h) for h in self.HEADERS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.edit_button = named(QPushButton(tr("Edit…")), "editPolicyButton")
        self.refresh_button = named(QPushButton(tr("Refresh")), "refreshPoliciesButton")
        self.edit_button.clicked.connect(self.open_edit_dialog)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.doubleClicked.connect(lambda _i: self.open_edit_dialog())
        self.table.itemSelectionChanged.connect(self._update)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.edit_button)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        self._update()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Load the policies the first time they are shown."""
        super().showEvent(event)
        if not self.loaded:
            self.refresh()

    def refresh(self) -> None:
        """Load the policies off the GUI thread."""
        self.loaded = True
        self.refresh_button.setEnabled(False)
        run_task(self._client().approval_policies, on_done=self._arrived,
                 on_error=self._failed)  # fmt: skip

    def _failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self.refresh_button.setEnabled(True)
            self.failed.emit(error)

    def _arrived(self, page: Page[PolicyPublic]) -> None:
        if not shiboken6.isValid(self):
            return
        self.refresh_button.setEnabled(True)
        selected = self.selected()
        self.policies = list(page.items)
        self.table.setRowCount(len(self.policies))
        for r, policy in enumerate(self.policies):
            cells = (text.approval_action(policy.action), text.yes_no(policy.enabled),
                     text.plural(policy.approvals_required, tr("%n approval"), tr("%n approvals")),
                     threshold_text(policy.threshold), str(policy.version))  # fmt: skip
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(policy.action.value if c == 0 else value)
                self.table.setItem(r, c, item)
            if selected is not None and policy.action == selected.action:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        self._update()

    def selected(self) -> PolicyPublic | None:
        """Return the policy on the selected row."""
        rows = {index.row() for index in self.table.selectedIndexes()}
        return self.policies[rows.pop()] if len(rows) == 1 else None

    def _update(self) -> None:
        self.edit_button.setEnabled(self.selected() is not None)

    def open_edit_dialog(self) -> PolicyDialog | None:
        """Edit the selected policy."""
        policy = self.selected()
        if policy is None:
            return None
        dialog = PolicyDialog(self._client(), policy, self)
        dialog.completed.connect(self._saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _saved(self, policy: object) -> None:
        if isinstance(policy, PolicyPublic):
            self.message.emit(tr("Saved the approval policy {action}").format(
                action=text.approval_action(policy.action)))  # fmt: skip
        self.refresh()
