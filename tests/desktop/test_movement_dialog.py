"""The deposit, withdrawal and transfer dialog against a real server, driven like a teller."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
)

from desktop.api.client import ApiError, BankClient, NetworkError, SessionExpired
from desktop.dialogs.movement import (
    MovementDialog,
    Receipt,
    Step,
    amount_problem,
    explain_failure,
    movement_dialog,
    receipt_html,
    write_receipt,
)
from desktop.dialogs.movement import base as base_module
from shared.account_number import account_number
from shared.schemas.accounts import AccountPublic
from shared.schemas.transactions import TransactionPublic, TransferPublic
from tests.ledger_checks import customer_legs_where
from tests.support import Api, ServerProcess, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
WAIT_MS = 15_000


# ---------------------------------------------------------------- a transport that can time out


@dataclass
class Sent:
    """One movement POST as the transport saw it."""

    path: str
    key: str | None
    status: int
    replayed: bool
    timed_out: bool


class FlakyTransport(httpx.BaseTransport):
    """Forward to a real transport; when armed, let the next movement POST reach the server
    and then raise ReadTimeout, so the money moved but the client never heard."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lock = threading.Lock()
        self.time_out_next = False
        self.sent: list[Sent] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        path = request.url.path
        if request.method != "POST" or not path.endswith(("/deposit", "/withdraw", "/transfers")):
            return response
        with self.lock:
            time_out, self.time_out_next = self.time_out_next, False
            self.sent.append(Sent(
                path, request.headers.get("Idempotency-Key"), response.status_code,
                response.headers.get("Idempotent-Replayed") == "true", time_out,
            ))  # fmt: skip
        if time_out:
            response.read()
            response.close()
            raise httpx.ReadTimeout("simulated: the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def transport() -> Iterator[FlakyTransport]:
    flaky = FlakyTransport()
    yield flaky
    flaky.close()


@pytest.fixture(scope="module")
def client(
    server: ServerProcess, make_user: MakeUser, transport: FlakyTransport
) -> Iterator[BankClient]:
    """The desktop's client, signed in as a teller, over the flaky transport."""
    user, _api = make_user("teller", password="teller-pass-123")
    bank = BankClient(server.url, transport=transport)
    bank.login(user["username"], "teller-pass-123")
    yield bank
    bank.close()


@pytest.fixture(scope="module")
def alice(make_user: MakeUser) -> dict[str, Any]:
    return make_user("user", full_name="Alice Smith")[0]


@pytest.fixture(scope="module")
def bob(make_user: MakeUser) -> dict[str, Any]:
    return make_user("user", full_name="Bob van Jones")[0]


@pytest.fixture
def account_of(open_account: OpenAccount) -> Callable[..., AccountPublic]:
    """Open a fresh account and return it as the desktop sees it."""

    def factory(
        owner: dict[str, Any], deposit: str | None = "100.00", **fields: Any
    ) -> AccountPublic:
        return AccountPublic.model_validate(open_account(owner["id"], deposit=deposit, **fields))

    return factory


def balance(admin: Api, account: AccountPublic) -> Decimal:
    """Return an account's balance as the server has it."""
    return Decimal(expect(admin.get(f"/accounts/{account.id}"), 200)["balance"])


def entries(mongo: Any, account: AccountPublic, **query: Any) -> int:
    """Count an account's ledger entries (its customer legs) in the database."""
    return len(customer_legs_where(mongo, account_id=account.id, **query))


def make_dialog(qtbot: Any, client: BankClient, kind: str, account: AccountPublic,
                accounts: list[AccountPublic] | None = None) -> MovementDialog:  # fmt: skip
    dialog = movement_dialog(client, kind, account, accounts)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def child(dialog: MovementDialog, cls: Any, name: str) -> Any:
    widget = dialog.findChild(cls, name)
    assert widget is not None, name
    return widget


def ok_button(dialog: MovementDialog) -> Any:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    return box.button(QDialogButtonBox.StandardButton.Ok)


def fill(dialog: MovementDialog, amount: str, description: str = "", to: str | None = None) -> None:
    if to is not None:
        child(dialog, QLineEdit, "toNumberEdit").setText(to)
    child(dialog, QLineEdit, "amountEdit").setText(amount)
    child(dialog, QLineEdit, "descriptionEdit").setText(description)


def wait_ok_enabled(qtbot: Any, dialog: MovementDialog) -> None:
    qtbot.waitUntil(lambda: ok_button(dialog).isEnabled(), timeout=WAIT_MS)


def confirm_and_wait(qtbot: Any, dialog: MovementDialog) -> Any:
    """Press Ok (review), then Confirm, and return what `completed` carried."""
    wait_ok_enabled(qtbot, dialog)
    ok_button(dialog).click()
    assert ok_button(dialog).text() == "Confirm"
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS) as blocker:
        ok_button(dialog).click()
    return blocker.args[0]


def wait_error(qtbot: Any, dialog: MovementDialog) -> str:
    error = child(dialog, QLabel, "dialogError")
    qtbot.waitUntil(lambda: error.isVisible() and dialog.step is not Step.BUSY, timeout=WAIT_MS)
    return error.text()


# ---------------------------------------------------------------- money moves


def test_deposit_confirms_then_moves_money(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], account_of: Any
) -> None:
    account = account_of(alice, "100.00")
    dialog = make_dialog(qtbot, client, "deposit", account)
    assert dialog.objectName() == "depositDialog"
    assert child(dialog, QLabel, "balanceLabel").text() == "100.00 USD"
    fill(dialog, "1250", "Counter deposit")
    assert ok_button(dialog).isEnabled()

    ok_button(dialog).click()  # the first press only asks
    confirm = child(dialog, QLabel, "confirmLabel")
    assert confirm.isVisible()
    assert confirm.text().startswith(f"Deposit 1,250.00 USD into {account.number} (Alice Smith)?")
    assert "Counter deposit" in confirm.text()
    assert ok_button(dialog).text() == "Confirm"
    assert balance(admin, account) == Decimal("100.00")

    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS) as blocker:
        ok_button(dialog).click()
        # Busy until the worker answers: nothing can be edited or pressed twice.
        assert child(dialog, QLabel, "busyLabel").isVisible()
        assert not child(dialog, QLineEdit, "amountEdit").isEnabled()
        assert not ok_button(dialog).isEnabled()
        dialog.reject()  # Escape while busy does not close it
        assert dialog.isVisible()
    result = blocker.args[0]
    assert isinstance(result, TransactionPublic)
    assert result.amount == Decimal("1250.00")
    assert result.description == "Counter deposit"
    assert balance(admin, account) == Decimal("1350.00")
    assert child(dialog, QLabel, "resultLabel").isVisible()
    assert "1,350.00 USD" in child(dialog, QLabel, "resultLabel").text()
    assert child(dialog, QPushButton, "receiptButton").isVisible()
    assert not ok_button(dialog).isVisible()
    assert not child(dialog, QLabel, "busyLabel").isVisible()


def test_withdraw_moves_money(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], account_of: Any
) -> None:
    account = account_of(alice, "300.00")
    dialog = make_dialog(qtbot, client, "withdraw", account)
    assert dialog.objectName() == "withdrawDialog"
    fill(dialog, "120.5")
    ok_button(dialog).click()
    assert child(dialog, QLabel, "confirmLabel").text() == (
        f"Withdraw 120.50 USD from {account.number} (Alice Smith)?"
    )
    result = confirm_and_wait_after_review(qtbot, dialog)
    assert isinstance(result, TransactionPublic)
    assert result.balance_after == Decimal("179.50")
    assert balance(admin, account) == Decimal("179.50")


def confirm_and_wait_after_review(qtbot: Any, dialog: MovementDialog) -> Any:
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS) as blocker:
        ok_button(dialog).click()
    return blocker.args[0]


def test_transfer_looks_up_the_payee_and_moves_money(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], bob: dict[str, Any],
    account_of: Any,
) -> None:  # fmt: skip
    source = account_of(alice, "500.00")
    other = account_of(alice, "7.00", account_type="savings")
    dest = account_of(bob, None)
    dialog = make_dialog(qtbot, client, "transfer", source, [other, source])
    assert dialog.objectName() == "transferDialog"
    combo = child(dialog, QComboBox, "fromAccountCombo")
    assert combo.isEditable()
    assert combo.count() == 2
    assert source.number in combo.currentText()
    assert child(dialog, QLabel, "balanceLabel").text() == "500.00 USD"

    fill(dialog, "200", "Rent", to=dest.number)
    payee = child(dialog, QLabel, "payeeLabel")
    qtbot.waitUntil(lambda: "B. Jones" in payee.text(), timeout=WAIT_MS)
    assert payee.text() == "B. Jones · USD · Checking"
    assert "Alice" not in payee.text()
    wait_ok_enabled(qtbot, dialog)
    ok_button(dialog).click()
    assert (
        child(dialog, QLabel, "confirmLabel")
        .text()
        .startswith(
            f"Transfer 200.00 USD from {source.number} (Alice Smith) to {dest.number} (B. Jones)?"
        )
    )
    result = confirm_and_wait_after_review(qtbot, dialog)
    assert isinstance(result, TransferPublic)
    assert (result.from_account_id, result.to_account_id) == (source.id, dest.id)
    assert balance(admin, source) == Decimal("300.00")
    assert balance(admin, dest) == Decimal("200.00")
    assert balance(admin, other) == Decimal("7.00")
    assert dialog.balance_after == Decimal("300.00")


def test_transfer_source_is_chosen_from_the_searchable_list(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], bob: dict[str, Any],
    account_of: Any,
) -> None:  # fmt: skip
    first = account_of(alice, "10.00")
    second = account_of(alice, "90.00", account_type="savings")
    dest = account_of(bob, None)
    dialog = make_dialog(qtbot, client, "transfer", first, [first, second])
    combo = child(dialog, QComboBox, "fromAccountCombo")
    completer = combo.completer()
    assert completer is not None
    assert completer.filterMode().name == "MatchContains"
    combo.setEditText(second.number)  # typing a number picks that account
    assert dialog.source_account() == second
    assert child(dialog, QLabel, "balanceLabel").text() == "90.00 USD"
    combo.setEditText("no such account")
    assert dialog.source_account() is None
    assert child(dialog, QLabel, "fromAccountHint").text()
    combo.setCurrentIndex(1)
    assert dialog.source_account() == second
    payee = child(dialog, QLabel, "payeeLabel")
    child(dialog, QLineEdit, "toNumberEdit").setText(second.number)
    assert "source account" in payee.text()
    combo.setCurrentIndex(0)  # now the number names another account: it is looked up
    qtbot.waitUntil(lambda: payee.text().startswith("A. Smith"), timeout=WAIT_MS)
    combo.setCurrentIndex(1)
    assert "source account" in payee.text()
    fill(dialog, "50", to=dest.number)
    confirm_and_wait(qtbot, dialog)
    assert balance(admin, second) == Decimal("40.00")
    assert balance(admin, first) == Decimal("10.00")


# ---------------------------------------------------------------- what Ok refuses


@pytest.mark.parametrize(
    "text", ["", "0", "-1", "1.234", "1e3", "1,000", " 10", "10 ", "10000000000", "abc",
             "1000000000.01", "0.00", ".5", "5.", "١٠", "NaN"],
)  # fmt: skip
def test_invalid_amount_keeps_ok_disabled_with_a_reason(
    qtbot: Any, client: BankClient, alice: dict[str, Any], text: str
) -> None:
    dialog = make_dialog(qtbot, client, "deposit", _stub_account(alice))
    amount = child(dialog, QLineEdit, "amountEdit")
    amount.setText("12.00")
    assert ok_button(dialog).isEnabled()
    amount.setText(text)
    hint = child(dialog, QLabel, "amountHint")
    assert not ok_button(dialog).isEnabled()
    assert hint.isVisible()
    assert hint.text()
    assert "12.00" not in hint.text()
    dialog.submit()  # pressing Ok (or Enter) does nothing
    assert dialog.step is Step.EDITING
    assert not child(dialog, QLabel, "confirmLabel").isVisible()


@pytest.mark.parametrize(
    ("text", "shown"),
    [("0.01", "0.01 USD"), ("10.5", "10.50 USD"), ("1000000000", "1,000,000,000.00 USD"),
     ("1000000000.00", "1,000,000,000.00 USD"), ("0000000001.5", "1.50 USD")],
)  # fmt: skip
def test_valid_amounts_enable_ok(
    qtbot: Any, client: BankClient, alice: dict[str, Any], text: str, shown: str
) -> None:
    dialog = make_dialog(qtbot, client, "withdraw", _stub_account(alice, balance="2000000000.00"))
    child(dialog, QLineEdit, "amountEdit").setText(text)
    assert ok_button(dialog).isEnabled()
    assert child(dialog, QLabel, "amountHint").text() == shown


def test_amount_reasons_say_what_is_wrong() -> None:
    assert amount_problem("12.50") is None
    assert "separator" in (amount_problem("1,000") or "")
    assert "space" in (amount_problem(" 10") or "").lower()
    assert "two decimal" in (amount_problem("1.234") or "")
    assert "exponent" in (amount_problem("1e3") or "")
    assert "positive" in (amount_problem("-1") or "")
    assert "at least 0.01" in (amount_problem("0") or "")
    assert "at most 1,000,000,000.00" in (amount_problem("10000000000") or "")
    assert "at most" in (amount_problem("1000000000.01") or "")


def _stub_account(owner: dict[str, Any], **fields: Any) -> AccountPublic:
    """An account object for dialogs that never reach the server."""
    data = {
        "id": 99, "number": account_number(99), "owner_id": owner["id"],
        "owner_name": owner["full_name"], "account_type": "checking", "currency": "USD",
        "balance": "10.00", "overdraft_limit": "0.00", "daily_withdrawal_limit": "10000.00",
        "status": "active", "nickname": None, "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z", "version": 1, "held": "0.00", **fields,
    }  # fmt: skip
    data.setdefault("available", str(Decimal(str(data["balance"]))
                                     + Decimal(str(data["overdraft_limit"]))))  # fmt: skip
    return AccountPublic.model_validate(data)


def test_inactive_account_keeps_ok_disabled(
    qtbot: Any, client: BankClient, alice: dict[str, Any]
) -> None:
    dialog = make_dialog(qtbot, client, "deposit", _stub_account(alice, status="frozen"))
    child(dialog, QLineEdit, "amountEdit").setText("5")
    assert not ok_button(dialog).isEnabled()
    assert "frozen" in child(dialog, QLabel, "accountHint").text()


def test_description_is_limited_to_140_characters(
    qtbot: Any, client: BankClient, alice: dict[str, Any]
) -> None:
    dialog = make_dialog(qtbot, client, "deposit", _stub_account(alice))
    description = child(dialog, QLineEdit, "descriptionEdit")
    assert description.maxLength() == 140
    description.setText("x" * 200)
    assert len(description.text()) == 140


def test_transfer_destination_must_be_a_known_other_account(
    qtbot: Any, client: BankClient, alice: dict[str, Any], bob: dict[str, Any], account_of: Any
) -> None:
    source = account_of(alice, "50.00")
    euro = account_of(bob, None, currency="EUR")
    dialog = make_dialog(qtbot, client, "transfer", source)
    fill(dialog, "10")
    payee = child(dialog, QLabel, "payeeLabel")
    to = child(dialog, QLineEdit, "toNumberEdit")

    def refused(number: str, words: str) -> None:
        to.setText(number)
        qtbot.waitUntil(lambda: words in payee.text(), timeout=WAIT_MS)
        assert not ok_button(dialog).isEnabled()
        assert payee.property("tone") in ("error", "muted")

    refused("", "Enter the account number")
    refused("12345", "10 digits (5 so far)")
    refused("00000001x5", "digits only")
    wrong_check = source.number[:8] + f"{(int(source.number[8:]) + 1) % 100:02d}"
    refused(wrong_check, "not a valid account number")
    refused(source.number, "source account")
    refused(account_number(9_999_999), "No active account has this number")
    refused(euro.number, "same currency")
    assert "B. Jones" in payee.text()  # the payee is still named, with the reason
    refused(account_number(99_999_998), "No active account has this number")


# ---------------------------------------------------------------- refusals and the confirmation


def test_insufficient_funds_is_explained_and_nothing_moves(
    qtbot: Any, client: BankClient, admin: Api, mongo: Any, alice: dict[str, Any],
    account_of: Any, transport: FlakyTransport,
) -> None:  # fmt: skip
    account = account_of(alice, "100.00")
    dialog = make_dialog(qtbot, client, "withdraw", account)
    qtbot.wait(500)  # the dialog has read the account's available balance (100.00)
    # Behind the dialog's back the balance drops: the dialog lets 50 through, the server not.
    expect(admin.post(f"/accounts/{account.id}/withdraw", json={"amount": "80.00"}), 201)
    before = entries(mongo, account)
    fill(dialog, "50")
    ok_button(dialog).click()
    ok_button(dialog).click()
    text = wait_error(qtbot, dialog)
    assert text == (
        "Not enough money in the account: 20.00 USD available, 50.00 USD requested. No money moved."
    )
    assert dialog.isVisible()
    assert dialog.step is Step.EDITING
    assert ok_button(dialog).text() == "Review"
    assert balance(admin, account) == Decimal("20.00")
    assert entries(mongo, account) == before
    refused_key = transport.sent[-1].key

    # The teller fixes the amount; the error goes, and the new request has a new key.
    child(dialog, QLineEdit, "amountEdit").setText("15")
    assert not child(dialog, QLabel, "dialogError").isVisible()
    confirm_and_wait(qtbot, dialog)
    assert transport.sent[-1].key != refused_key
    assert balance(admin, account) == Decimal("5.00")
    assert entries(mongo, account, type="withdrawal") == 2  # the one behind its back, and this


def test_refusal_of_an_account_frozen_meanwhile_is_explained(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], account_of: Any
) -> None:
    account = account_of(alice, "20.00")
    dialog = make_dialog(qtbot, client, "deposit", account)
    expect(admin.put(f"/accounts/{account.id}/admin", json={"status": "frozen"}), 200)
    fill(dialog, "5")
    ok_button(dialog).click()
    ok_button(dialog).click()
    assert wait_error(qtbot, dialog) == (
        "The account is frozen; no money can move on it. No money moved."
    )
    assert balance(admin, account) == Decimal("20.00")


def test_any_edit_returns_from_confirmation_to_editing(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], account_of: Any
) -> None:
    account = account_of(alice, "10.00")
    dialog = make_dialog(qtbot, client, "deposit", account)
    fill(dialog, "30")
    for edit in ("amountEdit", "descriptionEdit"):
        ok_button(dialog).click()
        assert dialog.step is Step.CONFIRMING
        assert child(dialog, QLabel, "confirmLabel").isVisible()
        line = child(dialog, QLineEdit, edit)
        line.setText(line.text() + "0")
        assert dialog.step is Step.EDITING
        assert ok_button(dialog).text() == "Review"
        assert not child(dialog, QLabel, "confirmLabel").isVisible()
    assert balance(admin, account) == Decimal("10.00")
    # Enter in a field presses Ok, the keyboard way through the same two steps.
    qtbot.keyClick(child(dialog, QLineEdit, "amountEdit"), Qt.Key.Key_Return)
    assert dialog.step is Step.CONFIRMING
    assert "300.00 USD" in child(dialog, QLabel, "confirmLabel").text()
    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS):
        qtbot.keyClick(ok_button(dialog), Qt.Key.Key_Return)
    assert balance(admin, account) == Decimal("310.00")


# ---------------------------------------------------------------- unknown outcomes and retries


def test_retry_after_a_timeout_moves_money_once(
    qtbot: Any, client: BankClient, admin: Api, mongo: Any, alice: dict[str, Any],
    account_of: Any, transport: FlakyTransport,
) -> None:  # fmt: skip
    account = account_of(alice, "100.00")
    dialog = make_dialog(qtbot, client, "deposit", account)
    fill(dialog, "77.00", "Timed out once")
    ok_button(dialog).click()
    transport.time_out_next = True
    ok_button(dialog).click()
    text = wait_error(qtbot, dialog)
    assert "may or may not have gone through" in text
    assert dialog.step is Step.UNKNOWN
    assert dialog.outcome_unknown
    assert ok_button(dialog).text() == "Retry"
    assert ok_button(dialog).isEnabled()
    # The server did move the money; the dialog just never heard.
    assert entries(mongo, account, type="deposit") == 2
    assert balance(admin, account) == Decimal("177.00")

    with qtbot.waitSignal(dialog.completed, timeout=WAIT_MS) as blocker:
        ok_button(dialog).click()  # Retry: straight away, same request, same key
    first, retry = transport.sent[-2:]
    assert first.timed_out
    assert not retry.timed_out
    assert retry.key == first.key
    assert retry.replayed
    assert blocker.args[0].amount == Decimal("77.00")
    assert entries(mongo, account, type="deposit") == 2  # the opening deposit and this one
    assert balance(admin, account) == Decimal("177.00")
    assert not child(dialog, QLabel, "dialogError").isVisible()


def test_a_changed_request_after_an_unknown_outcome_gets_a_new_key(
    qtbot: Any, client: BankClient, admin: Api, mongo: Any, bob: dict[str, Any],
    account_of: Any, transport: FlakyTransport,
) -> None:  # fmt: skip
    account = account_of(bob, "50.00")
    dialog = make_dialog(qtbot, client, "withdraw", account)
    fill(dialog, "5")
    ok_button(dialog).click()
    transport.time_out_next = True
    ok_button(dialog).click()
    wait_error(qtbot, dialog)
    unknown_key = transport.sent[-1].key

    amount = child(dialog, QLineEdit, "amountEdit")
    amount.setText("6")
    assert dialog.step is Step.EDITING
    # The warning about the unknown outcome stays while the teller edits.
    assert child(dialog, QLabel, "dialogError").isVisible()
    confirm_and_wait(qtbot, dialog)
    assert transport.sent[-1].key != unknown_key
    assert not transport.sent[-1].replayed
    assert balance(admin, account) == Decimal("39.00")  # both went through: 50 - 5 - 6


def test_the_same_request_after_edits_keeps_its_key(
    qtbot: Any, client: BankClient, admin: Api, alice: dict[str, Any], bob: dict[str, Any],
    account_of: Any, transport: FlakyTransport,
) -> None:  # fmt: skip
    source = account_of(alice, "80.00")
    dest = account_of(bob, None)
    dialog = make_dialog(qtbot, client, "transfer", source)
    fill(dialog, "30", "Shared key", to=dest.number)
    wait_ok_enabled(qtbot, dialog)
    ok_button(dialog).click()
    transport.time_out_next = True
    ok_button(dialog).click()
    wait_error(qtbot, dialog)
    unknown_key = transport.sent[-1].key

    # Edited and edited back: the same request again, so the same key, so no second transfer.
    amount = child(dialog, QLineEdit, "amountEdit")
    amount.setText("31")
    amount.setText("30")
    result = confirm_and_wait(qtbot, dialog)
    assert isinstance(result, TransferPublic)
    assert transport.sent[-1].key == unknown_key
    assert transport.sent[-1].replayed
    assert balance(admin, source) == Decimal("50.00")
    assert balance(admin, dest) == Decimal("30.00")


# ---------------------------------------------------------------- receipts


def test_receipt_is_saved_as_pdf(
    qtbot: Any, client: BankClient, alice: dict[str, Any], account_of: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account = account_of(alice, "10.00")
    dialog = make_dialog(qtbot, client, "deposit", account)
    fill(dialog, "2.50", "Receipt <b>test</b>")
    result = confirm_and_wait(qtbot, dialog)
    target = tmp_path / "receipt.pdf"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), ""))
    )
    written: list[Receipt] = []
    real = base_module.write_receipt

    def recording(path: Path, receipt: Receipt) -> None:
        written.append(receipt)
        real(path, receipt)

    monkeypatch.setattr(base_module, "write_receipt", recording)
    child(dialog, QPushButton, "receiptButton").click()
    teller = client.user
    assert teller is not None
    # Who moved the money, by name: not "Performed by user 2".
    receipt = written[0]
    assert receipt.performed_by == f"{teller.full_name} ({teller.username})"
    page = receipt_html(receipt)
    assert f"{teller.full_name} ({teller.username})" in page
    assert "user " + str(teller.id) not in page
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    assert b"%%EOF" in data[-64:]
    assert str(target) in child(dialog, QLabel, "resultLabel").text()

    page = receipt_html(Receipt(result, account, "deposit"))
    for needle in ("Bank System", "Cash deposit", account.number, "2.50 USD", "12.50 USD",
                   "Receipt &lt;b&gt;test&lt;/b&gt;", f">{result.id}<"):  # fmt: skip
        assert needle in page


def test_write_receipt_needs_no_dialog(alice: dict[str, Any], qapp: Any, tmp_path: Path) -> None:
    account = _stub_account(alice)
    transfer = TransferPublic(
        id=7, from_account_id=99, to_account_id=12, from_number=account.number,
        to_number=account_number(12), amount=Decimal("1250.00"), description=None,
        performed_by=3, created_at=datetime(2026, 11, 29, 10, 15, tzinfo=UTC),
        business_date="2026-11-29", journal_id=21,
    )  # fmt: skip
    path = tmp_path / "transfer.pdf"
    receipt = Receipt(transfer, account, "transfer", balance_after=Decimal("8.75"))
    write_receipt(path, receipt)
    assert path.read_bytes().startswith(b"%PDF")
    page = receipt_html(receipt)
    assert "1,250.00 USD" in page
    assert "8.75 USD" in page
    assert account_number(12) in page
    with pytest.raises(OSError):
        write_receipt(tmp_path / "missing" / "x.pdf", receipt)


# ---------------------------------------------------------------- plain words for every code

NONSENSE = "zxq wibble 42"  # a detail no wording may repeat: the words come from code and facts


@pytest.mark.parametrize(
    ("error", "words", "unknown"),
    [
        (ApiError(409, "insufficient_funds", NONSENSE,
                  {"available": "1234.50", "requested": "2000.00", "currency": "USD"}),
         "Not enough money in the account: 1,234.50 USD available, 2,000.00 USD requested. "
         "No money moved.", False),
        (ApiError(409, "limit_exceeded", NONSENSE,
                  {"limit": "10000.00", "used": "9950.00", "requested": "60.00",
                   "currency": "USD"}),
         "This would exceed the daily withdrawal limit of 10,000.00 USD: 9,950.00 USD already "
         "withdrawn or transferred out today, 60.00 USD requested. No money moved.", False),
        (ApiError(409, "account_not_active", NONSENSE, {"account_id": 7, "status": "frozen"}),
         "The destination account is frozen", False),
        (ApiError(409, "account_not_active", NONSENSE, {"account_id": 3, "status": "closed"}),
         "The source account is closed", False),
        (ApiError(409, "currency_mismatch", NONSENSE, {"from": "USD", "to": "EUR"}),
         "holds USD and the destination EUR", False),
        (ApiError(422, "same_account", NONSENSE), "is the source account", False),
        (ApiError(404, "not_found", NONSENSE), "No active account has that number", False),
        (ApiError(403, "forbidden", NONSENSE), "Your role may not do this. No money moved.",
         False),
        (ApiError(422, "validation_error", [{"loc": ["body", "amount"], "msg": NONSENSE}]),
         "did not accept the amount", False),
        (ApiError(503, "service_unavailable", NONSENSE), "database is not answering", True),
        (ApiError(500, "internal_error", NONSENSE), "may or may not", True),
        (ApiError(409, "idempotency_key_in_use", NONSENSE), "still working", True),
        (ApiError(429, "rate_limited", NONSENSE, {"retry_after": 1}),
         "try again in 1 second.", False),
        (SessionExpired(NONSENSE), "session has ended", False),
        (NetworkError(NONSENSE, timed_out=True), "did not answer in time", True),
    ],
)  # fmt: skip
def test_errors_are_explained_in_plain_words(
    error: BaseException, words: str, unknown: bool
) -> None:
    source, destination = 3, 7
    explanation = explain_failure(error, "transfer", source, account_number(destination))
    assert words.lower() in explanation.text.lower()
    assert NONSENSE not in explanation.text
    assert explanation.unknown is unknown
    if unknown:
        assert "Retry" in explanation.text
    else:
        assert explanation.text.endswith(("No money moved.", "No money moved"))
