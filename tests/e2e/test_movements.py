"""Deposits and withdrawals over HTTP: shape, exact money, validation, rules, audit, races.

The last test checks the ledger invariants over everything this module did.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from bson import Decimal128

from tests.ledger_checks import (
    all_customer_legs,
    check_ledger,
    customer_legs,
    customer_legs_where,
    leg_of,
)
from tests.support import Api, ServerProcess, dec, expect, iso_ms, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

TRANSACTION_KEYS = {
    "id", "account_id", "type", "amount", "balance_after", "description", "transfer_id",
    "counterparty_number", "performed_by", "created_at", "direction", "business_date",
    "journal_id", "session_id", "approval_id", "reversed_by", "reverses_id", "forced",
}  # fmt: skip
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
MONEY = re.compile(r"-?\d+\.\d{2}")
ACTIONS = {"deposit": "money.deposit", "withdrawal": "money.withdrawal"}
KINDS = ("deposit", "withdraw")

# Every amount API.md refuses, as raw JSON text for {"amount": <literal>}: numbers, constants,
# other JSON types and strings. Sent as raw bytes so no client library reformats them.
INVALID_AMOUNTS = [
    # JSON numbers
    "0", "0.00", "0.0", "-0", "-0.00", "-1", "-0.01", "-10.50", "1.005", "10.000", "0.001",
    "1e3", "1E3", "1.5e2", "1e-2", "1E+2", "10e0", "1000000000.01", "1000000001",
    "9999999999.99", "10000000000", "12345678901", "99999999999.99", "1" * 5000,
    # constants and other JSON types
    "NaN", "-NaN", "Infinity", "-Infinity", "true", "false", "null", "{}",
    '{"value": "10.00"}', "[]", "[10]", '["10.00"]',
    # JSON strings
    '""', '" "', '"0"', '"0.00"', '"-0"', '"-5"', '"+5"', '"+5.00"', '"1.005"', '"10.000"',
    '"1e3"', '"1E3"', '"1.5e2"', '"NaN"', '"Infinity"', '"-Infinity"', '"true"', '"false"',
    '"null"', '" 10"', '"10 "', '"1 0"', '"\\t10"', '"10\\n"', '"1,000"', '"1,000.00"',
    '"1 000"', '"1_000"', '"10,50"', '"10."', '".5"', '"0x10"', '"$10"', '"10 USD"',
    '"1000000000.01"', '"1000000001"', '"10000000000"', '"12345678901"', '"\\u0661\\u0660"',
    '"\\uff11\\uff10"', '"\\u0967\\u0966"',
]  # fmt: skip

# Whole bodies that are not {"amount": <valid>}.
INVALID_BODIES = [
    b"", b"{}", b"null", b"[]", b'"10.00"', b"10", b'{"amount": "10.00"', b"{amount: 10}",
    b'{"description": "no amount"}', b"NaN", b'{"amount": 10, "amount": NaN}',
]  # fmt: skip


# ---------------------------------------------------------------- helpers


def move(api: Api, account_id: int, kind: str, amount: Any, /, **extra: Any) -> httpx.Response:
    """Deposit or withdraw through the API."""
    return api.post(f"/accounts/{account_id}/{kind}", json={"amount": amount, **extra})


def post_raw(api: Api, path: str, content: bytes) -> httpx.Response:
    """POST bytes as application/json exactly as given."""
    return api.post(path, content=content, headers={"Content-Type": "application/json"})


def balance(api: Api, account_id: int) -> str:
    """Return an account's balance as the API shows it."""
    return str(expect(api.get(f"/accounts/{account_id}"), 200)["balance"])


def ledger(mongo: Any, account_id: int) -> list[dict[str, Any]]:
    """Return an account's ledger entries in order."""
    return customer_legs(mongo, account_id)


def till_of(api: Api) -> int:
    """Return the till of a staff member's open session."""
    return int(expect(api.get("/sessions/current"), 200)["till_id"])


def money_events(mongo: Any, account_id: int) -> list[dict[str, Any]]:
    """Return the money audit events of an account, oldest first."""
    query = {"target_type": "account", "target_id": account_id, "action": {"$regex": "^money\\."}}
    return list(mongo.audit_events.find(query).sort("_id", 1))


def snapshot(mongo: Any, account_id: int) -> dict[str, Any]:
    """Capture everything a movement may change on an account."""
    raw = mongo.accounts.find_one({"_id": account_id})
    return {
        "balance": dec(raw["balance"]),
        "entry_seq": raw.get("entry_seq", 0),
        "day_out": dec(raw.get("day_out", Decimal128("0"))),
        "day": raw.get("day"),
        "entries": [e["_id"] for e in ledger(mongo, account_id)],
        "events": [e["_id"] for e in money_events(mongo, account_id)],
    }


def assert_audited(mongo: Any, tx: dict[str, Any]) -> None:
    """Assert the one `ok` audit event of a movement and that it matches the ledger entry."""
    found = list(mongo.audit_events.find({"details.transaction_id": tx["id"]}))
    assert len(found) == 1, found
    event = found[0]
    assert event["action"] == ACTIONS[tx["type"]]
    assert event["outcome"] == "ok"
    assert event["code"] is None
    assert event["actor_id"] == tx["performed_by"]
    assert event["target_type"] == "account"
    assert event["target_id"] == tx["account_id"]
    assert event["details"]["amount"] == tx["amount"]
    assert event["details"]["balance_after"] == tx["balance_after"]
    entry = leg_of(mongo, tx["id"])
    assert entry is not None
    assert entry["account_id"] == tx["account_id"]


def assert_refused_without_effect(
    mongo: Any,
    before: dict[str, Any],
    account_id: int,
    *,
    action: str,
    code: str,
    actor_id: int,
    amount: str,
) -> None:
    """Assert one new `refused` event with its code and no other change at all."""
    after = snapshot(mongo, account_id)
    new_ids = [i for i in after.pop("events") if i not in before["events"]]
    assert after == {k: v for k, v in before.items() if k != "events"}
    assert len(new_ids) == 1, new_ids
    event = mongo.audit_events.find_one({"_id": new_ids[0]})
    assert event["action"] == action
    assert event["outcome"] == "refused"
    assert event["code"] == code
    assert event["actor_id"] == actor_id
    assert event["target_id"] == account_id
    assert event["details"]["amount"] == amount
    assert "transaction_id" not in event["details"]


def set_admin(admin: Api, account_id: int, **fields: Any) -> dict[str, Any]:
    """Change an account's settings as admin."""
    return dict(expect(admin.put(f"/accounts/{account_id}/admin", json=fields), 200))


def wait_if_near_utc_midnight(margin: float = 20.0) -> None:
    """Keep a daily-limit test within one UTC day."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = (midnight - now).total_seconds()
    if left < margin:
        time.sleep(left + 1)


def check_ledger_invariants(mongo: Any) -> int:
    """Check DESIGN.md's money invariants over the whole database; return the entry count."""
    check_ledger(mongo)
    all_ids = [e["_id"] for e in all_customer_legs(mongo)]
    assert len(all_ids) == len(set(all_ids)), "ledger ids must be unique"
    total_in = total_out = total_balance = Decimal("0")
    for account in mongo.accounts.find():
        entries = ledger(mongo, account["_id"])
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(1, len(entries) + 1)), (account["_id"], seqs)
        assert account.get("entry_seq", 0) == len(entries)
        ids = [e["_id"] for e in entries]
        assert ids == sorted(ids), "ids increase with the ledger position"
        running = Decimal("0")
        for entry in entries:
            amount = dec(entry["amount"])
            assert Decimal("0.01") <= amount <= Decimal("1000000000.00")
            assert amount == amount.quantize(Decimal("0.01"))
            if entry["type"] in ("deposit", "transfer_in"):
                running += amount
                total_in += amount
            else:
                assert entry["type"] in ("withdrawal", "transfer_out")
                running -= amount
                total_out += amount
            assert dec(entry["balance_after"]) == running, (account["_id"], entry["seq"])
            assert running >= -dec(account["overdraft_limit"])
        assert dec(account["balance"]) == running, account["_id"]
        total_balance += running
    assert total_balance == total_in - total_out
    # Every cash entry has exactly one `ok` event and every `ok` cash event has an entry.
    cash = customer_legs_where(mongo, type=["deposit", "withdrawal"])
    ok_events = list(
        mongo.audit_events.find({"action": {"$in": list(ACTIONS.values())}, "outcome": "ok"})
    )
    by_tx: dict[int, list[dict[str, Any]]] = {}
    for event in ok_events:
        by_tx.setdefault(event["details"]["transaction_id"], []).append(event)
    assert set(by_tx) == {e["_id"] for e in cash}
    for entry in cash:
        (event,) = by_tx[entry["_id"]]
        assert event["action"] == ACTIONS[entry["type"]]
        assert event["target_id"] == entry["account_id"]
        assert event["actor_id"] == entry["performed_by"]
    refused = mongo.audit_events.find({"action": {"$in": list(ACTIONS.values())},
                                       "outcome": "refused"})  # fmt: skip
    for event in refused:
        assert event["code"] in ("insufficient_funds", "limit_exceeded", "account_not_active")
        assert "transaction_id" not in event["details"]
    return len(all_ids)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A bank customer and their signed-in client."""
    return make_user("user")


@pytest.fixture(scope="module")
def stranger(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """Another customer, who must not see the first one's accounts."""
    return make_user("user")


@pytest.fixture(scope="module")
def teller_id(teller: Api) -> int:
    """The teller's user id."""
    return user_id(teller)


@pytest.fixture(scope="module")
def admin_id(admin: Api) -> int:
    """The admin's user id."""
    return user_id(admin)


@pytest.fixture(scope="module")
def funded(customer: tuple[dict[str, Any], Api], open_account: OpenAccount) -> dict[str, Any]:
    """An account with 500.00 that invalid requests must leave untouched."""
    return open_account(customer[0]["id"], deposit="500.00")


@pytest.fixture
def fresh(customer: tuple[dict[str, Any], Api], open_account: OpenAccount) -> OpenAccount:
    """Open a new account of the customer, optionally with a first deposit."""

    def factory(deposit: str | None = None, **fields: Any) -> dict[str, Any]:
        return open_account(customer[0]["id"], deposit=deposit, **fields)

    return factory


# ---------------------------------------------------------------- shape and exact money


def test_deposit_answers_a_transaction(
    teller: Api, teller_id: int, fresh: OpenAccount, mongo: Any
) -> None:
    account = fresh()
    started = datetime.now(UTC)
    response = move(teller, account["id"], "deposit", "125.50", description="cash at the branch")
    tx = expect(response, 201)
    assert set(tx) == TRANSACTION_KEYS
    assert isinstance(tx["id"], int)
    assert tx["id"] >= 1
    assert tx["account_id"] == account["id"]
    assert tx["type"] == "deposit"
    assert tx["amount"] == "125.50"
    assert tx["balance_after"] == "125.50"
    assert tx["description"] == "cash at the branch"
    assert tx["transfer_id"] is None
    assert tx["counterparty_number"] is None
    assert tx["performed_by"] == teller_id
    assert TIMESTAMP.fullmatch(tx["created_at"]), tx["created_at"]
    created = datetime.fromisoformat(tx["created_at"])
    assert started - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)
    assert '"_id"' not in response.text
    assert balance(teller, account["id"]) == "125.50"

    stored = leg_of(mongo, tx["id"])
    assert stored["account_id"] == account["id"]
    assert stored["seq"] == 1
    assert stored["type"] == "deposit"
    assert stored["amount"] == Decimal("125.50")
    assert stored["balance_after"] == Decimal("125.50")
    assert stored["performed_by"] == teller_id
    # The journal, the system of record, keeps money as Decimal128 (never a float).
    journal = mongo.journal.find_one({"_id": tx["journal_id"]})
    assert all(isinstance(leg["amount"], Decimal128) for leg in journal["legs"])
    assert {leg["account"] for leg in journal["legs"]} == {
        account["number"],
        f"till:{till_of(teller)}:USD",
    }
    assert iso_ms(stored["created_at"]) == tx["created_at"]
    assert_audited(mongo, tx)


def test_withdrawal_answers_a_transaction(
    teller: Api, teller_id: int, fresh: OpenAccount, mongo: Any
) -> None:
    account = fresh(deposit="200.00")
    tx = expect(move(teller, account["id"], "withdraw", "75.25"), 201)
    assert set(tx) == TRANSACTION_KEYS
    assert tx["type"] == "withdrawal"
    assert tx["amount"] == "75.25"
    assert tx["balance_after"] == "124.75"
    assert tx["description"] is None
    assert tx["transfer_id"] is None
    assert tx["counterparty_number"] is None
    assert tx["performed_by"] == teller_id
    assert TIMESTAMP.fullmatch(tx["created_at"])
    assert balance(teller, account["id"]) == "124.75"
    entries = ledger(mongo, account["id"])
    assert [(e["type"], e["seq"]) for e in entries] == [("deposit", 1), ("withdrawal", 2)]
    assert entries[-1]["_id"] == tx["id"]
    assert Decimal(str(entries[-1]["amount"])) == Decimal("75.25")
    assert iso_ms(entries[-1]["created_at"]) == tx["created_at"]
    assert_audited(mongo, tx)


def test_trailing_slash_routes_move_money_too(teller: Api, fresh: OpenAccount) -> None:
    account = fresh()
    expect(teller.post(f"/accounts/{account['id']}/deposit/", json={"amount": "1.00"}), 201)
    expect(teller.post(f"/accounts/{account['id']}/withdraw/", json={"amount": "0.40"}), 201)
    assert balance(teller, account["id"]) == "0.60"


def test_small_amounts_sum_exactly(teller: Api, fresh: OpenAccount, mongo: Any) -> None:
    """0.10 and 0.20 as JSON numbers and strings add up with no float error, at every step."""
    account = fresh()
    path = f"/accounts/{account['id']}/deposit"
    expected = Decimal("0.00")
    for i in range(24):
        literal = ("0.10", "0.20", '"0.10"', '"0.20"', "0.1", "0.3")[i % 6]
        tx = expect(post_raw(teller, path, b'{"amount": ' + literal.encode() + b"}"), 201)
        amount = Decimal(literal.strip('"'))
        expected += amount
        assert tx["amount"] == f"{amount:.2f}"
        assert tx["balance_after"] == f"{expected:.2f}"
    assert expected == Decimal("4.00")
    for _ in range(3):
        tx = expect(move(teller, account["id"], "withdraw", "0.10"), 201)
        expected -= Decimal("0.10")
        assert tx["balance_after"] == f"{expected:.2f}"
    assert balance(teller, account["id"]) == "3.70"
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["balance"].to_decimal() == Decimal("3.70")
    assert sum(dec(e["amount"]) for e in ledger(mongo, account["id"])) == Decimal("4.30")


@pytest.mark.parametrize(
    ("literal", "shown"),
    [
        (b"10", "10.00"),
        (b"10.5", "10.50"),
        (b"10.50", "10.50"),
        (b"0.01", "0.01"),
        (b'"0.01"', "0.01"),
        (b'"7"', "7.00"),
        (b'"7.5"', "7.50"),
        (b'"0007.50"', "7.50"),
    ],
)
def test_valid_amount_spellings_are_accepted(
    teller: Api, funded: dict[str, Any], literal: bytes, shown: str
) -> None:
    path = f"/accounts/{funded['id']}/deposit"
    before = Decimal(balance(teller, funded["id"]))
    tx = expect(post_raw(teller, path, b'{"amount": ' + literal + b"}"), 201)
    assert tx["amount"] == shown
    assert Decimal(tx["balance_after"]) == before + Decimal(shown)
    back = expect(post_raw(teller, f"/accounts/{funded['id']}/withdraw",
                           b'{"amount": ' + literal + b"}"), 201)  # fmt: skip
    assert back["amount"] == shown
    assert Decimal(back["balance_after"]) == before


def test_maximum_amount_is_accepted_as_number_and_string(
    admin: Api, fresh: OpenAccount, mongo: Any
) -> None:
    account = fresh()
    # The default daily limit (10000.00) would refuse a withdrawal this large.
    assert (
        set_admin(admin, account["id"], daily_withdrawal_limit=None)["daily_withdrawal_limit"]
        is None
    )
    path = f"/accounts/{account['id']}"
    first = expect(post_raw(admin, f"{path}/deposit", b'{"amount": 1000000000.00}'), 201)
    assert first["amount"] == "1000000000.00"
    second = expect(post_raw(admin, f"{path}/deposit", b'{"amount": "1000000000.00"}'), 201)
    assert second["balance_after"] == "2000000000.00"
    third = expect(post_raw(admin, f"{path}/deposit", b'{"amount": 1000000000}'), 201)
    assert third["balance_after"] == "3000000000.00"
    out = expect(post_raw(admin, f"{path}/withdraw", b'{"amount": 1000000000.00}'), 201)
    assert out["amount"] == "1000000000.00"
    assert out["balance_after"] == "2000000000.00"
    assert balance(admin, account["id"]) == "2000000000.00"
    assert mongo.accounts.find_one({"_id": account["id"]})["balance"].to_decimal() == Decimal(
        "2000000000.00"
    )


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("literal", INVALID_AMOUNTS, ids=lambda s: s[:24])
def test_invalid_amounts_answer_422_and_change_nothing(
    teller: Api, funded: dict[str, Any], mongo: Any, kind: str, literal: str
) -> None:
    before = snapshot(mongo, funded["id"])
    shown = balance(teller, funded["id"])
    body = b'{"amount": ' + literal.encode() + b"}"
    response = post_raw(teller, f"/accounts/{funded['id']}/{kind}", body)
    error = expect(response, 422, "validation_error")
    assert isinstance(error["detail"], list)
    assert error["detail"]
    assert snapshot(mongo, funded["id"]) == before
    assert balance(teller, funded["id"]) == shown


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", INVALID_BODIES, ids=lambda b: b.decode()[:24] or "empty")
def test_invalid_bodies_answer_422_and_change_nothing(
    teller: Api, funded: dict[str, Any], mongo: Any, kind: str, content: bytes
) -> None:
    before = snapshot(mongo, funded["id"])
    expect(post_raw(teller, f"/accounts/{funded['id']}/{kind}", content), 422, "validation_error")
    assert snapshot(mongo, funded["id"]) == before


@pytest.mark.parametrize("kind", KINDS)
def test_non_json_content_type_is_refused(
    teller: Api, funded: dict[str, Any], mongo: Any, kind: str
) -> None:
    before = snapshot(mongo, funded["id"])
    response = teller.post(
        f"/accounts/{funded['id']}/{kind}", data={"amount": "10.00"}
    )  # a form, not JSON
    expect(response, 422, "validation_error")
    assert snapshot(mongo, funded["id"]) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "extra",
    [
        {"balance": "999999.00"},
        {"account_id": 1},
        {"type": "deposit"},
        {"performed_by": 1},
        {"currency": "USD"},
        {"Amount": "5.00"},
        {"transfer_id": None},
    ],
    ids=lambda d: next(iter(d)),
)
def test_unknown_fields_answer_422(
    teller: Api, funded: dict[str, Any], mongo: Any, kind: str, extra: dict[str, Any]
) -> None:
    before = snapshot(mongo, funded["id"])
    error = expect(move(teller, funded["id"], kind, "1.00", **extra), 422, "validation_error")
    assert any(item["type"] == "extra_forbidden" for item in error["detail"]), error
    assert snapshot(mongo, funded["id"]) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "description", ["x" * 141, "x" * 1000, "line\nbreak", "tab\there", "\x00", 12, ["a"], {"a": 1}]
)
def test_bad_descriptions_answer_422(
    teller: Api, funded: dict[str, Any], mongo: Any, kind: str, description: Any
) -> None:
    before = snapshot(mongo, funded["id"])
    response = move(teller, funded["id"], kind, "1.00", description=description)
    expect(response, 422, "validation_error")
    assert snapshot(mongo, funded["id"]) == before


def test_description_limits(teller: Api, funded: dict[str, Any], mongo: Any) -> None:
    longest = "é" * 140
    tx = expect(move(teller, funded["id"], "deposit", "1.00", description=longest), 201)
    assert tx["description"] == longest
    assert leg_of(mongo, tx["id"])["description"] == longest
    tx = expect(move(teller, funded["id"], "withdraw", "1.00", description=None), 201)
    assert tx["description"] is None
    tx = expect(move(teller, funded["id"], "withdraw", "0.01", description="Miete März 💶"), 201)
    assert tx["description"] == "Miete März 💶"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("account_id", ["0", "-1", "abc", "1.5", str(2**63)])
def test_bad_account_ids_answer_422(teller: Api, kind: str, account_id: str) -> None:
    expect(teller.post(f"/accounts/{account_id}/{kind}", json={"amount": "1.00"}), 422,
           "validation_error")  # fmt: skip


# ---------------------------------------------------------------- who may move money


@pytest.mark.parametrize("kind", KINDS)
def test_owner_may_move_cash_when_self_service_is_on(
    customer: tuple[dict[str, Any], Api], fresh: OpenAccount, mongo: Any, kind: str
) -> None:
    owner, api = customer
    account = fresh(deposit="50.00")
    tx = expect(move(api, account["id"], kind, "20.00"), 201)
    assert tx["performed_by"] == owner["id"]
    assert tx["balance_after"] == ("70.00" if kind == "deposit" else "30.00")
    assert balance(api, account["id"]) == tx["balance_after"]
    assert_audited(mongo, tx)


@pytest.mark.parametrize("kind", KINDS)
def test_staff_may_move_cash_on_any_account(
    admin: Api,
    teller: Api,
    admin_id: int,
    teller_id: int,
    stranger: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
    mongo: Any,
    kind: str,
) -> None:
    account = open_account(stranger[0]["id"], deposit="100.00")
    by_admin = expect(move(admin, account["id"], kind, "10.00"), 201)
    by_teller = expect(move(teller, account["id"], kind, "10.00"), 201)
    assert by_admin["performed_by"] == admin_id
    assert by_teller["performed_by"] == teller_id
    assert by_teller["balance_after"] == ("120.00" if kind == "deposit" else "80.00")
    assert_audited(mongo, by_admin)
    assert_audited(mongo, by_teller)


@pytest.mark.parametrize("kind", KINDS)
def test_another_customer_gets_404_and_nothing_moves(
    stranger: tuple[dict[str, Any], Api],
    teller: Api,
    funded: dict[str, Any],
    mongo: Any,
    kind: str,
) -> None:
    _, api = stranger
    before = snapshot(mongo, funded["id"])
    hidden = expect(move(api, funded["id"], kind, "1.00"), 404, "not_found")
    missing = expect(move(api, 10**9, kind, "1.00"), 404, "not_found")
    assert hidden == missing, "a hidden account must look exactly like a missing one"
    assert snapshot(mongo, funded["id"]) == before
    expect(move(teller, 10**9, kind, "1.00"), 404, "not_found")


@pytest.mark.parametrize("kind", KINDS)
def test_anonymous_and_bad_tokens_get_401(
    anon: Api, server: ServerProcess, funded: dict[str, Any], mongo: Any, kind: str
) -> None:
    before = snapshot(mongo, funded["id"])
    response = move(anon, funded["id"], kind, "1.00")
    expect(response, 401, "not_authenticated")
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    forged = Api(server.url, token="not.a.jwt")
    try:
        expect(move(forged, funded["id"], kind, "1.00"), 401, "invalid_token")
    finally:
        forged.close()
    assert snapshot(mongo, funded["id"]) == before


# ---------------------------------------------------------------- bank rules


def test_withdrawing_more_than_the_balance_is_refused(
    teller: Api, teller_id: int, fresh: OpenAccount, mongo: Any
) -> None:
    account = fresh(deposit="50.00")
    before = snapshot(mongo, account["id"])
    error = expect(move(teller, account["id"], "withdraw", "50.01"), 409, "insufficient_funds")
    assert isinstance(error["detail"], str)
    assert_refused_without_effect(
        mongo, before, account["id"], action="money.withdrawal", code="insufficient_funds",
        actor_id=teller_id, amount="50.01",
    )  # fmt: skip
    assert balance(teller, account["id"]) == "50.00"
    # Exactly the balance is fine; then nothing more.
    tx = expect(move(teller, account["id"], "withdraw", "50.00"), 201)
    assert tx["balance_after"] == "0.00"
    before = snapshot(mongo, account["id"])
    expect(move(teller, account["id"], "withdraw", "0.01"), 409, "insufficient_funds")
    assert_refused_without_effect(
        mongo, before, account["id"], action="money.withdrawal", code="insufficient_funds",
        actor_id=teller_id, amount="0.01",
    )  # fmt: skip
    assert balance(teller, account["id"]) == "0.00"


def test_empty_account_refuses_any_withdrawal(
    customer: tuple[dict[str, Any], Api], fresh: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    account = fresh()
    before = snapshot(mongo, account["id"])
    expect(move(api, account["id"], "withdraw", "0.01"), 409, "insufficient_funds")
    assert_refused_without_effect(
        mongo, before, account["id"], action="money.withdrawal", code="insufficient_funds",
        actor_id=owner["id"], amount="0.01",
    )  # fmt: skip


def test_overdraft_limit_lets_the_balance_go_that_far_and_no_further(
    admin: Api, teller: Api, teller_id: int, fresh: OpenAccount, mongo: Any
) -> None:
    account = fresh(deposit="20.00")
    expect(move(teller, account["id"], "withdraw", "20.01"), 409, "insufficient_funds")
    updated = set_admin(admin, account["id"], overdraft_limit="100.00")
    assert updated["overdraft_limit"] == "100.00"
    tx = expect(move(teller, account["id"], "withdraw", "120.00"), 201)
    assert tx["balance_after"] == "-100.00"
    assert balance(teller, account["id"]) == "-100.00"
    before = snapshot(mongo, account["id"])
    expect(move(teller, account["id"], "withdraw", "0.01"), 409, "insufficient_funds")
    assert_refused_without_effect(
        mongo, before, account["id"], action="money.withdrawal", code="insufficient_funds",
        actor_id=teller_id, amount="0.01",
    )  # fmt: skip
    # A deposit makes room for exactly that much again.
    assert expect(move(teller, account["id"], "deposit", "0.01"), 201)["balance_after"] == "-99.99"
    assert (
        expect(move(teller, account["id"], "withdraw", "0.01"), 201)["balance_after"] == "-100.00"
    )
    expect(move(teller, account["id"], "withdraw", "0.01"), 409, "insufficient_funds")
    assert expect(move(teller, account["id"], "deposit", "150.00"), 201)["balance_after"] == "50.00"
    assert balance(teller, account["id"]) == "50.00"
    entries = ledger(mongo, account["id"])
    assert min(dec(e["balance_after"]) for e in entries) == Decimal("-100.00")


def test_overdraft_from_zero_with_a_json_number_limit(
    admin: Api, teller: Api, fresh: OpenAccount
) -> None:
    account = fresh()
    expect(admin.put(f"/accounts/{account['id']}/admin", content=b'{"overdraft_limit": 25.5}',
                     headers={"Content-Type": "application/json"}), 200)  # fmt: skip
    assert expect(move(teller, account["id"], "withdraw", "25.50"), 201)["balance_after"] == (
        "-25.50"
    )
    expect(move(teller, account["id"], "withdraw", "0.01"), 409, "insufficient_funds")


def test_daily_withdrawal_limit(
    admin: Api,
    teller: Api,
    teller_id: int,
    customer: tuple[dict[str, Any], Api],
    fresh: OpenAccount,
    mongo: Any,
) -> None:
    wait_if_near_utc_midnight()
    account = fresh(deposit="500.00")
    assert account["daily_withdrawal_limit"] == "10000.00"
    assert (
        set_admin(admin, account["id"], daily_withdrawal_limit="50.00")["daily_withdrawal_limit"]
        == "50.00"
    )
    expect(move(teller, account["id"], "withdraw", "30.00"), 201)
    before = snapshot(mongo, account["id"])
    error = expect(move(teller, account["id"], "withdraw", "25.00"), 409, "limit_exceeded")
    assert "50.00" in error["detail"]
    assert_refused_without_effect(
        mongo, before, account["id"], action="money.withdrawal", code="limit_exceeded",
        actor_id=teller_id, amount="25.00",
    )  # fmt: skip
    # The refused attempt counts for nothing: 20.00 more reaches the limit exactly.
    assert expect(move(teller, account["id"], "withdraw", "20.00"), 201)["balance_after"] == (
        "450.00"
    )
    # Deposits do not make room, and the limit counts per day, not per withdrawal.
    expect(move(teller, account["id"], "deposit", "100.00"), 201)
    before = snapshot(mongo, account["id"])
    expect(move(teller, account["id"], "withdraw", "0.01"), 409, "limit_exceeded")
    assert_refused_without_effect(
        mongo, before, account["id"], action="money.withdrawal", code="limit_exceeded",
        actor_id=teller_id, amount="0.01",
    )  # fmt: skip
    # The owner is held to the same limit.
    expect(move(customer[1], account["id"], "withdraw", "0.01"), 409, "limit_exceeded")
    # Raising the limit lets more out today; removing it lifts it.
    set_admin(admin, account["id"], daily_withdrawal_limit="60.00")
    expect(move(teller, account["id"], "withdraw", "10.00"), 201)
    expect(move(teller, account["id"], "withdraw", "0.01"), 409, "limit_exceeded")
    set_admin(admin, account["id"], daily_withdrawal_limit=None)
    assert expect(move(teller, account["id"], "withdraw", "400.00"), 201)["balance_after"] == (
        "140.00"
    )
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["day"] == datetime.now(UTC).date().isoformat()  # the business date (UTC)
    assert stored["day_out"].to_decimal() == Decimal("460.00")


def test_daily_limit_of_zero_refuses_every_withdrawal(
    admin: Api, customer: tuple[dict[str, Any], Api], fresh: OpenAccount
) -> None:
    account = fresh(deposit="10.00")
    set_admin(admin, account["id"], daily_withdrawal_limit="0.00")
    expect(move(customer[1], account["id"], "withdraw", "0.01"), 409, "limit_exceeded")
    expect(move(customer[1], account["id"], "deposit", "0.01"), 201)
    assert balance(customer[1], account["id"]) == "10.01"


@pytest.mark.parametrize("kind", KINDS)
def test_frozen_account_refuses_movements(
    admin: Api, teller: Api, teller_id: int, fresh: OpenAccount, mongo: Any, kind: str
) -> None:
    account = fresh(deposit="100.00")
    assert set_admin(admin, account["id"], status="frozen")["status"] == "frozen"
    action = "money.deposit" if kind == "deposit" else "money.withdrawal"
    before = snapshot(mongo, account["id"])
    expect(move(teller, account["id"], kind, "10.00"), 409, "account_not_active")
    assert_refused_without_effect(
        mongo, before, account["id"], action=action, code="account_not_active",
        actor_id=teller_id, amount="10.00",
    )  # fmt: skip
    # Other kinds of movement and other callers are refused alike.
    other = "withdraw" if kind == "deposit" else "deposit"
    expect(move(admin, account["id"], other, "1.00"), 409, "account_not_active")
    assert balance(admin, account["id"]) == "100.00"
    assert set_admin(admin, account["id"], status="active")["status"] == "active"
    tx = expect(move(teller, account["id"], kind, "10.00"), 201)
    assert tx["balance_after"] == ("110.00" if kind == "deposit" else "90.00")


@pytest.mark.parametrize("kind", KINDS)
def test_closed_account_refuses_movements(
    admin: Api, teller: Api, teller_id: int, fresh: OpenAccount, mongo: Any, kind: str
) -> None:
    account = fresh(deposit="10.00")
    expect(move(teller, account["id"], "withdraw", "10.00"), 201)
    expect(admin.delete(f"/accounts/{account['id']}"), 204)
    assert expect(admin.get(f"/accounts/{account['id']}"), 200)["status"] == "closed"
    before = snapshot(mongo, account["id"])
    action = "money.deposit" if kind == "deposit" else "money.withdrawal"
    expect(move(teller, account["id"], kind, "5.00"), 409, "account_not_active")
    assert_refused_without_effect(
        mongo, before, account["id"], action=action, code="account_not_active",
        actor_id=teller_id, amount="5.00",
    )  # fmt: skip
    assert balance(admin, account["id"]) == "0.00"


def test_validation_is_checked_before_the_account_state(
    admin: Api, teller: Api, fresh: OpenAccount, mongo: Any
) -> None:
    """A malformed request on a frozen account is a 422 and writes no refused event."""
    account = fresh(deposit="10.00")
    set_admin(admin, account["id"], status="frozen")
    before = snapshot(mongo, account["id"])
    expect(move(teller, account["id"], "withdraw", "1.005"), 422, "validation_error")
    assert snapshot(mongo, account["id"]) == before


# ---------------------------------------------------------------- concurrency


async def _burst(base_url: str, calls: list[tuple[str, int, str, str]]) -> list[httpx.Response]:
    """Send (token, account_id, kind, amount) calls all at once."""
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for token, *_ in calls:
            if token not in clients:
                clients[token] = httpx.AsyncClient(
                    base_url=base_url,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                    limits=httpx.Limits(max_connections=40),
                )
        return list(
            await asyncio.gather(
                *(
                    clients[token].post(f"/accounts/{account_id}/{kind}", json={"amount": amount})
                    for token, account_id, kind, amount in calls
                )
            )
        )
    finally:
        for client in clients.values():
            await client.aclose()


def test_concurrent_withdrawals_never_overdraw(
    server: ServerProcess, teller: Api, fresh: OpenAccount, mongo: Any
) -> None:
    account = fresh(deposit="100.00")
    assert teller.token is not None
    calls = [(teller.token, account["id"], "withdraw", "10.00")] * 20
    responses = asyncio.run(_burst(server.url, calls))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 10, [r.text for r in responses]
    refused = [r.json() for r in responses if r.status_code == 409]
    assert {body["code"] for body in refused} == {"insufficient_funds"}
    afters = sorted(Decimal(r.json()["balance_after"]) for r in responses if r.status_code == 201)
    assert afters == [Decimal(10 * i) for i in range(10)]
    assert balance(teller, account["id"]) == "0.00"
    entries = ledger(mongo, account["id"])
    assert len(entries) == 11
    assert all(dec(e["balance_after"]) >= 0 for e in entries)
    events = money_events(mongo, account["id"])
    assert sum(e["outcome"] == "refused" for e in events) == 10
    assert sum(e["outcome"] == "ok" and e["action"] == "money.withdrawal" for e in events) == 10


def test_mixed_concurrent_burst_keeps_every_balance_exact(
    server: ServerProcess,
    admin: Api,
    teller: Api,
    customer: tuple[dict[str, Any], Api],
    fresh: OpenAccount,
    mongo: Any,
) -> None:
    accounts = [fresh(deposit="30.00") for _ in range(3)]
    tokens = [api.token for api in (admin, teller, customer[1])]
    assert all(tokens)
    rng = random.Random(20261129)
    calls = [
        (
            str(rng.choice(tokens)),
            rng.choice(accounts)["id"],
            rng.choice(KINDS),
            rng.choice(["0.01", "0.10", "5.00", "12.34", "25.00"]),
        )
        for _ in range(60)
    ]
    responses = asyncio.run(_burst(server.url, calls))
    expected = {a["id"]: Decimal("30.00") for a in accounts}
    for (_token, account_id, kind, amount), response in zip(calls, responses, strict=True):
        if kind == "deposit":
            assert response.status_code == 201, response.text
        if response.status_code == 201:
            tx = response.json()
            assert tx["account_id"] == account_id
            assert tx["amount"] == amount
            expected[account_id] += Decimal(amount) if kind == "deposit" else -Decimal(amount)
        else:
            expect(response, 409, "insufficient_funds")
    for account in accounts:
        assert Decimal(balance(admin, account["id"])) == expected[account["id"]]
        entries = ledger(mongo, account["id"])
        assert all(dec(e["balance_after"]) >= 0 for e in entries)
        ok = [r for c, r in zip(calls, responses, strict=True)
              if c[1] == account["id"] and r.status_code == 201]  # fmt: skip
        assert len(entries) == 1 + len(ok)
        # Each answer's balance_after is the ledger's at that entry.
        by_id = {e["_id"]: e for e in entries}
        for response in ok:
            tx = response.json()
            assert dec(by_id[tx["id"]]["balance_after"]) == Decimal(tx["balance_after"])
    assert sum(r.status_code == 201 for r in responses) > 30
    check_ledger_invariants(mongo)


# ---------------------------------------------------------------- invariants (keep last)


def test_ledger_invariants_hold_after_the_whole_module(admin: Api, mongo: Any) -> None:
    assert check_ledger_invariants(mongo) > 0, "the check must not pass on an empty ledger"
    # The API shows the same balances the ledger adds up to.
    page = expect(admin.get("/accounts", params={"limit": 200}), 200)
    assert page["total"] == mongo.accounts.count_documents({})
    for account in page["items"]:
        assert MONEY.fullmatch(account["balance"])
        entries = ledger(mongo, account["id"])
        last = dec(entries[-1]["balance_after"]) if entries else Decimal("0")
        assert Decimal(account["balance"]) == last
