"""Maker-checker in the desktop against a real server: a teller's large deposit waits for
approval (202) and says so; a supervisor approves it in the queue or at the teller's side on a
client of their own; rejections carry a reason; nobody approves their own request; admins
edit the policies. The movement flow's "pending approval" step is tested without Qt too."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLabel, QLineEdit, QPushButton
from shiboken6 import isValid

from desktop import workers
from desktop.api.client import BankClient
from desktop.dialogs.approval_here import ApproveHereDialog
from desktop.dialogs.approval_reject import RejectDialog
from desktop.dialogs.movement import MovementDialog, MovementFlow, MovementRequest, Step
from desktop.main_window import MainWindow
from shared.schemas.accounts import AccountPublic
from tests.support import (
    ADMIN_PASSWORD,
    SUPERVISOR_PASSWORD,
    Api,
    ServerProcess,
    expect,
    open_till_session,
    policy_of,
    set_policy,
    user_id,
)

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000
THRESHOLD = "1000.00"
SHOTS = Path(os.environ.get("APPROVAL_SHOTS", "/tmp"))


# ---------------------------------------------------------------- the flow, without Qt


def test_the_flow_waits_for_approval_then_ends_done_or_back_to_editing() -> None:
    keys = (f"key-{n}" for n in count())
    flow = MovementFlow(lambda: next(keys))
    request = MovementRequest("deposit", 7, None, Decimal("5000.00"), None)
    flow.edited(request)
    flow.press()
    _sent, key = flow.send()
    flow.awaiting(31)
    assert (flow.step, flow.approval_id, flow.editable, flow.can_press) == (
        Step.PENDING, 31, False, False)  # fmt: skip
    flow.edited(None)  # the form is frozen while it waits
    assert flow.request == request
    assert flow.key_for(request) is None
    flow.not_approved("Rejected: no ID.")
    assert (flow.step, flow.error, flow.editable) == (Step.EDITING, "Rejected: no ID.", True)
    flow.press()
    assert flow.send()[1] != key  # asked again: a new request with a new key
    flow.awaiting(32)
    flow.approved()
    assert flow.step is Step.DONE
    assert flow.error is None
    flow.not_approved("late")  # a decision after the end changes nothing
    assert flow.step is Step.DONE


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def low_thresholds(admin: Api, supervisor: Api) -> None:
    """Deposits from 1,000.00 wait for approval (lowering a threshold needs none)."""
    currencies = policy_of(admin, "deposit")["threshold"]
    set_policy(admin, supervisor, "deposit", threshold=dict.fromkeys(currencies, THRESHOLD))


@pytest.fixture(scope="module")
def teller(make_user: MakeUser, admin: Api, low_thresholds: None) -> dict[str, Any]:
    """A teller with an open till session."""
    user, api = make_user("teller", full_name="Tess Teller")
    open_till_session(admin, api)
    return user


@pytest.fixture
def account(make_user: MakeUser, open_account: OpenAccount) -> AccountPublic:
    owner, _ = make_user("user", full_name="Carla Customer")
    return AccountPublic.model_validate(open_account(owner["id"], deposit="100.00"))


def open_window(qtbot: Any, server: ServerProcess, username: str, password: str) -> MainWindow:
    client = BankClient(server.url)
    user = client.login(username, password)
    window = MainWindow(client, user)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def teller_window(qtbot: Any, server: ServerProcess, teller: dict[str, Any]) -> MainWindow:
    return open_window(qtbot, server, teller["username"], f"pw-{teller['username']}-secret")


def balance(admin: Api, account: AccountPublic) -> Decimal:
    return Decimal(expect(admin.get(f"/accounts/{account.id}"), 200)["balance"])


def deposits_of(admin: Api, account: AccountPublic, amount: str) -> int:
    page = expect(admin.get(f"/accounts/{account.id}/transactions",
                            params={"type": "deposit", "limit": 200}), 200)  # fmt: skip
    return sum(1 for t in page["items"] if t["amount"] == amount)


def ok_of(dialog: Any) -> QPushButton:
    box = dialog.findChild(QDialogButtonBox)
    button = box.button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    return button


def deposit_until_pending(qtbot: Any, window: MainWindow, account: AccountPublic,
                          amount: str) -> MovementDialog:  # fmt: skip
    """Select the account, deposit from the action, confirm, and wait for the 202."""
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account.id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account.id))
    window.deposit_action.trigger()
    dialog = next(d for d in window.findChildren(MovementDialog) if d.isVisible())
    qtbot.keyClicks(dialog.amount_edit, amount)
    ok_of(dialog).click()  # review
    ok_of(dialog).click()  # confirm
    qtbot.waitUntil(lambda: dialog.step is Step.PENDING, timeout=WAIT_MS)
    assert dialog.pending_panel is not None
    dialog.pending_panel.timer.setInterval(200)  # hear the queue's decision soon
    return dialog


def approvals_of(window: MainWindow) -> Any:
    tab = window.approvals_tab
    assert tab is not None
    window.tabs.setCurrentWidget(tab)
    return tab


def select_approval(qtbot: Any, tab: Any, approval_id: int) -> None:
    tab.refresh()
    qtbot.waitUntil(lambda: tab.model.row_of(approval_id) is not None, timeout=WAIT_MS)
    tab.table.selectRow(tab.model.row_of(approval_id))


# ---------------------------------------------------------------- before the teller confirms


def test_the_review_says_a_deposit_needs_approval_before_it_is_sent(
    qtbot: Any, server: ServerProcess, admin: Api, teller: dict[str, Any], account: AccountPublic
) -> None:
    window = teller_window(qtbot, server, teller)
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account.id) is not None, timeout=WAIT_MS)
    window.accounts_table.selectRow(model.row_of(account.id))
    window.deposit_action.trigger()
    dialog = next(d for d in window.findChildren(MovementDialog) if d.isVisible())
    qtbot.waitUntil(lambda: dialog.policy is not None, timeout=WAIT_MS)  # read in the background
    notice = "Needs a supervisor's approval: 1,000.00 USD and over."
    qtbot.keyClicks(dialog.amount_edit, "999.99")  # under the threshold: no notice
    ok_of(dialog).click()
    assert dialog.step is Step.CONFIRMING
    assert notice not in dialog.confirm_label.text()
    dialog.amount_edit.clear()  # back to editing
    qtbot.keyClicks(dialog.amount_edit, "1000")
    ok_of(dialog).click()
    assert dialog.step is Step.CONFIRMING
    assert notice in dialog.confirm_label.text()
    dialog.grab().save(str(SHOTS / "ui-approvals-notice.png"))
    assert deposits_of(admin, account, "1000.00") == 0  # reviewing sends nothing
    dialog.reject()
    window.close()


# ---------------------------------------------------------------- the queue


def test_a_large_deposit_waits_and_a_supervisor_approves_it_in_the_queue(
    qtbot: Any, server: ServerProcess, admin: Api, teller: dict[str, Any], account: AccountPublic
) -> None:
    window = teller_window(qtbot, server, teller)
    dialog = deposit_until_pending(qtbot, window, account, "5000")
    panel = dialog.pending_panel
    assert panel is not None
    assert panel.isVisible()
    number = dialog.flow.approval_id
    words = panel.label.text()
    assert words.startswith(f"Waiting for approval no. {number}: ")
    assert "5,000.00 USD" in words or "5000.00" in words  # the server's summary
    assert "Nothing has happened yet." in words
    assert "Who can approve: A supervisor or an administrator other than the one who asked." \
        in words  # fmt: skip
    assert not dialog.findChild(QLabel, "dialogError").isVisible()  # not an error
    assert not ok_of(dialog).isVisible()
    assert panel.approve_here_button.isVisible()
    assert balance(admin, account) == Decimal("100.00")  # nothing moved yet
    qtbot.wait(200)  # let the layout settle before the picture
    dialog.grab().save(str(SHOTS / "ui-approvals-pending.png"))

    checker = open_window(qtbot, server, "super", SUPERVISOR_PASSWORD)
    tab = approvals_of(checker)
    title = lambda: checker.tabs.tabText(checker.tabs.indexOf(tab))  # noqa: E731
    qtbot.waitUntil(lambda: title() == "Approvals (1)", timeout=WAIT_MS)  # the badge
    select_approval(qtbot, tab, number)
    row = tab.model.row_of(number)
    cells = [tab.model.index(row, c).data() for c in range(8)]
    assert cells[0] == str(number)
    assert cells[1] == "Deposit"
    assert cells[4] == "5,000.00 USD"
    assert cells[3] == teller["username"] or cells[3] == f"user no. {teller['id']}"
    assert cells[5] == account.number
    assert cells[7] == "Waiting"
    assert tab.approve_button.isEnabled()
    assert tab.reject_button.isEnabled()
    qtbot.wait(200)  # let the layout settle before the picture
    checker.grab().save(str(SHOTS / "ui-approvals-queue.png"))

    tab.approve_button.click()
    qtbot.waitUntil(lambda: "was given and the request was carried out" in tab.details.text(),
                    timeout=WAIT_MS)  # fmt: skip
    assert balance(admin, account) == Decimal("5100.00")
    assert deposits_of(admin, account, "5000.00") == 1  # once
    qtbot.waitUntil(lambda: title() == "Approvals", timeout=WAIT_MS)  # nothing waits now

    # The teller's dialog heard the decision: the executed deposit, with its receipt.
    qtbot.waitUntil(lambda: dialog.step is Step.DONE, timeout=WAIT_MS)
    result = dialog.findChild(QLabel, "resultLabel").text()
    assert result.startswith(f"Deposited 5,000.00 USD into {account.number}.")
    assert "Balance now: 5,100.00 USD." in result
    assert dialog.receipt_button.isVisible()
    path = dialog.save_receipt(SHOTS / "ui-approvals-receipt.pdf")
    assert path is not None
    assert path.read_bytes().startswith(b"%PDF")
    assert deposits_of(admin, account, "5000.00") == 1
    dialog.close_button.click()
    window.close()
    checker.close()


def test_approve_here_signs_the_supervisor_in_on_a_second_client(
    qtbot: Any, server: ServerProcess, admin: Api, supervisor: Api, teller: dict[str, Any],
    account: AccountPublic,
) -> None:  # fmt: skip
    window = teller_window(qtbot, server, teller)
    teller_client = window.client
    dialog = deposit_until_pending(qtbot, window, account, "2500")
    panel = dialog.pending_panel
    assert panel is not None
    panel.approve_here_button.click()
    here = next(d for d in panel.findChildren(ApproveHereDialog) if d.isVisible())
    assert not ok_of(here).isEnabled()  # both fields first
    qtbot.wait(200)  # let the layout settle before the picture
    here.grab().save(str(SHOTS / "ui-approvals-approve-here.png"))

    # A wrong password: refused in words, nothing moves, the form asks again.
    qtbot.keyClicks(here.username, "super")
    qtbot.keyClicks(here.password, "not-the-password")
    ok_of(here).click()
    error = here.findChild(QLabel, "dialogError")
    qtbot.waitUntil(lambda: error.isVisible(), timeout=WAIT_MS)
    assert error.text() == "Wrong username or password. Nothing was changed."
    assert here.password.text() == ""
    assert balance(admin, account) == Decimal("100.00")

    qtbot.keyClicks(here.password, SUPERVISOR_PASSWORD)
    ok_of(here).click()
    qtbot.waitUntil(lambda: dialog.step is Step.DONE and not here.isVisible(), timeout=WAIT_MS)
    assert "Deposited 2,500.00 USD" in dialog.findChild(QLabel, "resultLabel").text()
    assert balance(admin, account) == Decimal("2600.00")
    assert deposits_of(admin, account, "2500.00") == 1
    # The teller's session is untouched; the supervisor's ended at once.
    assert teller_client.user is not None
    assert teller_client.user.username == teller["username"]
    assert teller_client.me().username == teller["username"]
    events = expect(admin.get("/audit", params={"actor_id": user_id(supervisor),
                                                "action": "logout", "limit": 5}), 200)  # fmt: skip
    assert events["items"], "the supervisor's approve-here session was not signed out"
    approval = expect(admin.get(f"/approvals/{dialog.flow.approval_id}"), 200)
    assert approval["status"] == "executed"
    assert approval["decided_by"] == user_id(supervisor)
    dialog.close_button.click()
    window.close()


def test_a_rejection_carries_its_reason_to_the_teller(
    qtbot: Any, server: ServerProcess, admin: Api, teller: dict[str, Any], account: AccountPublic
) -> None:
    window = teller_window(qtbot, server, teller)
    dialog = deposit_until_pending(qtbot, window, account, "1500")
    number = dialog.flow.approval_id
    assert number is not None

    checker = open_window(qtbot, server, "super", SUPERVISOR_PASSWORD)
    tab = approvals_of(checker)
    select_approval(qtbot, tab, number)
    tab.reject_button.click()
    reject = next(d for d in tab.findChildren(RejectDialog) if d.isVisible())
    assert not ok_of(reject).isEnabled()  # a reason is required
    assert reject.hint.text() == "Say why the request is rejected."
    qtbot.keyClicks(reject.reason, "No identity document shown")
    assert ok_of(reject).isEnabled()
    ok_of(reject).click()
    qtbot.waitUntil(lambda: not isValid(reject) or not reject.isVisible(), timeout=WAIT_MS)
    stored = expect(admin.get(f"/approvals/{number}"), 200)
    assert (stored["status"], stored["reason"]) == ("rejected", "No identity document shown")
    assert balance(admin, account) == Decimal("100.00")

    # The teller reads why, and may change the request and send it again.
    qtbot.waitUntil(lambda: dialog.step is Step.EDITING, timeout=WAIT_MS)
    assert dialog.findChild(QLabel, "dialogError").text() == (
        f"Approval no. {number} was rejected: No identity document shown. No money moved."
    )
    assert dialog.amount_edit.isEnabled()
    assert ok_of(dialog).isVisible()

    # Decided ones stay in the queue with their status and reason.
    tab.status_filter.setCurrentIndex(tab.status_filter.findData("rejected"))
    qtbot.waitUntil(lambda: tab.model.row_of(number) is not None, timeout=WAIT_MS)
    tab.table.selectRow(tab.model.row_of(number))
    assert tab.model.index(tab.model.row_of(number), 7).data() == "Rejected"
    assert "No identity document shown" in tab.details.text()
    assert not tab.approve_button.isEnabled()
    dialog.reject()
    window.close()
    checker.close()


def test_a_maker_cannot_approve_their_own_and_may_cancel_it(
    qtbot: Any, server: ServerProcess, admin: Api, supervisor: Api, account: AccountPublic
) -> None:
    open_till_session(admin, supervisor)
    window = open_window(qtbot, server, "super", SUPERVISOR_PASSWORD)
    dialog = deposit_until_pending(qtbot, window, account, "3000")
    number = dialog.flow.approval_id
    assert number is not None

    # The queue does not offer it to its maker, but offers to cancel it.
    tab = window.approvals_tab
    assert tab is not None
    select_approval(qtbot, tab, number)
    assert not tab.approve_button.isEnabled()
    assert tab.approve_button.toolTip() == "You may not approve your own request"
    assert tab.cancel_button.isEnabled()

    # Approving here with one's own password: the server refuses, in the desktop's words.
    panel = dialog.pending_panel
    assert panel is not None
    panel.approve_here_button.click()
    here = next(d for d in panel.findChildren(ApproveHereDialog) if d.isVisible())
    qtbot.keyClicks(here.username, "super")
    qtbot.keyClicks(here.password, SUPERVISOR_PASSWORD)
    ok_of(here).click()
    error = here.findChild(QLabel, "dialogError")
    qtbot.waitUntil(lambda: error.isVisible(), timeout=WAIT_MS)
    assert error.text() == (
        "You may not approve your own request, or one about you. Nothing was changed."
    )
    here.reject()
    assert expect(admin.get(f"/approvals/{number}"), 200)["status"] == "pending"

    # The maker withdraws it from the queue; the dialog hears it.
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: expect(admin.get(f"/approvals/{number}"), 200)["status"]
                    == "cancelled", timeout=WAIT_MS)  # fmt: skip
    qtbot.waitUntil(lambda: dialog.step is Step.EDITING, timeout=WAIT_MS)
    assert dialog.findChild(QLabel, "dialogError").text() == (
        f"Request no. {number} was cancelled. No money moved."
    )
    assert balance(admin, account) == Decimal("100.00")
    dialog.reject()
    window.close()


# ---------------------------------------------------------------- policies


def test_admins_edit_policies_and_a_weakening_waits_for_approval(
    qtbot: Any, server: ServerProcess, admin: Api, supervisor: Api
) -> None:
    before = policy_of(admin, "withdrawal")
    window = open_window(qtbot, server, "admin", ADMIN_PASSWORD)
    panel = window.admin_panel
    assert panel is not None
    window.tabs.setCurrentWidget(panel)
    panel.tabs.setCurrentWidget(panel.policies)
    view = panel.policies
    qtbot.waitUntil(lambda: len(view.policies) >= 13, timeout=WAIT_MS)
    row = next(i for i, p in enumerate(view.policies) if p.action.value == "withdrawal")
    view.table.selectRow(row)
    assert view.table.item(row, 0).text() == "Withdrawal"
    qtbot.wait(200)  # let the layout settle before the picture
    window.grab().save(str(SHOTS / "ui-approvals-policies.png"))

    # Stronger: two approvals and a lower USD threshold, saved at once.
    view.edit_button.click()
    dialog = next(d for d in view.children() if d.objectName() == "policyDialog")
    required = dialog.findChild(QComboBox, "approvalsRequiredCombo")
    required.setCurrentIndex(required.findData(2))
    usd = dialog.findChild(QLineEdit, "thresholdUSDEdit")
    usd.clear()
    qtbot.keyClicks(usd, "800")
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        save.click()
    after = policy_of(admin, "withdrawal")
    assert after["approvals_required"] == 2
    assert after["threshold"]["USD"] == "800.00"
    assert after["version"] == before["version"] + 1
    qtbot.waitUntil(lambda: view.table.item(row, 2).text() == "2 approvals", timeout=WAIT_MS)

    # Weaker (off): the change itself waits for another person's approval.
    view.table.selectRow(row)
    view.edit_button.click()
    dialog = next(d for d in view.children()
                  if d.objectName() == "policyDialog" and d.isVisible())  # fmt: skip
    dialog.enabled.setChecked(False)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: getattr(dialog, "pending_panel", None) is not None, timeout=WAIT_MS)
    words = dialog.pending_panel.label.text()
    assert words.startswith("Waiting for approval no. ")
    assert "Weaken the approval policy withdrawal" in words
    assert policy_of(admin, "withdrawal")["enabled"] is True  # not yet
    qtbot.wait(200)  # let the layout settle before the picture
    dialog.grab().save(str(SHOTS / "ui-approvals-policy-pending.png"))
    number = dialog.pending_panel.approval.id
    expect(supervisor.post(f"/approvals/{number}/approve", json={}), 200)
    assert policy_of(admin, "withdrawal")["enabled"] is False
    dialog.pending_panel.timer.setInterval(200)
    qtbot.waitUntil(lambda: "carried out" in dialog.pending_panel.label.text(), timeout=WAIT_MS)
    dialog.reject()
    window.close()
