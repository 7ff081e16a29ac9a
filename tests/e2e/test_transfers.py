"""Transfers over HTTP: shape, exact money on both sides, validation, rules, audit, access, races.

The last test checks the ledger and transfer invariants over everything this module did.
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

from shared.account_number import account_number
from tests.ledger_checks import customer_legs, customer_legs_where
from tests.support import Api, ServerProcess, dec, expect, iso_ms, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
Party = tuple[dict[str, Any], Api]

TRANSFER_KEYS = {
    "id", "from_account_id", "to_account_id", "from_number", "to_number", "amount",
    "description", "performed_by", "created_at", "business_date", "balance_after", "journal_id",
}  # fmt: skip
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# Amounts API.md refuses, as raw JSON text for "amount": <literal>.
INVALID_AMOUNTS = [
    "0", "0.00", "-0", "-1", "-0.01", "1.005", "10.000", "0.001", "1e3", "1E3", "1.5e2",
    "1e-2", "1000000000.01", "1000000001", "10000000000", "1" * 400, "NaN", "Infinity",
    "-Infinity", "true", "false", "null", "{}", "[]", "[10]", '""', '" "', '"0"', '"0.00"',
    '"-5"', '"+5"', '"1.005"', '"1e3"', '"NaN"', '"Infinity"', '" 10"', '"10 "', '"1,000"',
    '"1 000"', '"1_000"', '"10,50"', '"10."', '".5"', '"0x10"', '"$10"', '"10 USD"',
    '"1000000000.01"', '"\\u0661\\u0660"', '"\\uff11\\uff10"',
]  # fmt: skip


# ---------------------------------------------------------------- helpers


def send(api: Api, source: dict[str, Any], dest: dict[str, Any], amount: Any, /,
         by: str = "id", **extra: Any) -> httpx.Response:  # fmt: skip
    """Transfer between two accounts, naming the destination by id or by number."""
    body: dict[str, Any] = {"from_account_id": source["id"], "amount": amount, **extra}
    if by == "id":
        body["to_account_id"] = dest["id"]
    else:
        body["to_account_number"] = dest["number"]
    return api.post("/transfers", json=body)


def post_raw(api: Api, path: str, content: bytes) -> httpx.Response:
    """POST bytes as application/json exactly as given."""
    return api.post(path, content=content, headers={"Content-Type": "application/json"})


def balance(api: Api, account_id: int) -> str:
    """Return an account's balance as the API shows it."""
    return str(expect(api.get(f"/accounts/{account_id}"), 200)["balance"])


def ledger(mongo: Any, account_id: int) -> list[dict[str, Any]]:
    """Return an account's ledger entries in order."""
    return customer_legs(mongo, account_id)


def snapshot(mongo: Any, *account_ids: int) -> dict[str, Any]:
    """Capture everything a transfer may change: the accounts, their ledgers, transfers, events."""
    accounts = {}
    for account_id in account_ids:
        raw = mongo.accounts.find_one({"_id": account_id})
        accounts[account_id] = (
            dec(raw["balance"]),
            raw.get("entry_seq", 0),
            dec(raw.get("day_out", Decimal128("0"))),
            raw.get("day"),
            [e["_id"] for e in ledger(mongo, account_id)],
        )
    return {
        "accounts": accounts,
        "transfers": sorted(t["_id"] for t in mongo.transfers.find({}, {"_id": 1})),
        "events": sorted(
            e["_id"] for e in mongo.audit_events.find({"action": "money.transfer"}, {"_id": 1})
        ),
    }


def assert_unchanged(mongo: Any, before: dict[str, Any]) -> None:
    """Assert that nothing a transfer may change has changed."""
    assert snapshot(mongo, *before["accounts"]) == before


def assert_refused(
    mongo: Any, before: dict[str, Any], *, source_id: int, code: str, actor_id: int, amount: str
) -> None:
    """Assert one new `refused` money.transfer event with its code and no other change."""
    after = snapshot(mongo, *before["accounts"])
    new_events = [i for i in after.pop("events") if i not in before["events"]]
    assert after == {k: v for k, v in before.items() if k != "events"}
    assert len(new_events) == 1, new_events
    event = mongo.audit_events.find_one({"_id": new_events[0]})
    assert event["action"] == "money.transfer"
    assert event["outcome"] == "refused"
    assert event["code"] == code
    assert event["actor_id"] == actor_id
    assert event["target_type"] == "account"
    assert event["target_id"] == source_id
    assert event["details"]["amount"] == amount


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


def assert_transfer_stored(mongo: Any, transfer: dict[str, Any]) -> None:
    """Assert the transfer record, its two linked ledger legs and its one `ok` event."""
    record = mongo.transfers.find_one({"_id": transfer["id"]})
    assert record is not None
    assert record["from_account_id"] == transfer["from_account_id"]
    assert record["to_account_id"] == transfer["to_account_id"]
    assert dec(record["amount"]) == Decimal(transfer["amount"])
    assert iso_ms(record["created_at"]) == transfer["created_at"]
    legs = sorted(customer_legs_where(mongo, transfer_id=transfer["id"]), key=lambda e: e["type"])
    assert [leg["type"] for leg in legs] == ["transfer_in", "transfer_out"]
    leg_in, leg_out = legs
    assert leg_out["account_id"] == transfer["from_account_id"]
    assert leg_in["account_id"] == transfer["to_account_id"]
    assert leg_out["counterparty_number"] == transfer["to_number"]
    assert leg_in["counterparty_number"] == transfer["from_number"]
    for leg in legs:
        assert dec(leg["amount"]) == Decimal(transfer["amount"])
        assert leg["description"] == transfer["description"]
        assert leg["performed_by"] == transfer["performed_by"]
    events = list(mongo.audit_events.find({"action": "money.transfer", "outcome": "ok",
                                           "target_id": transfer["id"]}))  # fmt: skip
    assert len(events) == 1, events
    (event,) = events
    assert event["target_type"] == "transfer"
    assert event["code"] is None
    assert event["actor_id"] == transfer["performed_by"]
    assert event["details"]["amount"] == transfer["amount"]
    assert event["details"]["from_account_id"] == transfer["from_account_id"]
    assert event["details"]["to_account_id"] == transfer["to_account_id"]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> Party:
    """The customer who sends money."""
    return make_user("user")


@pytest.fixture(scope="module")
def payee(make_user: MakeUser) -> Party:
    """Another customer, who receives money and cannot see the sender's accounts."""
    return make_user("user")


@pytest.fixture(scope="module")
def stranger(make_user: MakeUser) -> Party:
    """A customer with no part in the transfers."""
    return make_user("user")


@pytest.fixture(scope="module")
def teller_id(teller: Api) -> int:
    """The teller's user id."""
    return user_id(teller)


@pytest.fixture
def mine(customer: Party, open_account: OpenAccount) -> OpenAccount:
    """Open a new account of the sending customer, optionally funded."""

    def factory(deposit: str | None = None, **fields: Any) -> dict[str, Any]:
        return open_account(customer[0]["id"], deposit=deposit, **fields)

    return factory


@pytest.fixture
def theirs(payee: Party, open_account: OpenAccount) -> OpenAccount:
    """Open a new account of the receiving customer, optionally funded."""

    def factory(deposit: str | None = None, **fields: Any) -> dict[str, Any]:
        return open_account(payee[0]["id"], deposit=deposit, **fields)

    return factory


@pytest.fixture(scope="module")
def pair(customer: Party, payee: Party, open_account: OpenAccount) -> tuple[dict[str, Any], ...]:
    """A funded source and a destination that invalid requests must leave untouched."""
    return (open_account(customer[0]["id"], deposit="500.00"),
            open_account(payee[0]["id"], deposit="50.00"))  # fmt: skip


# ---------------------------------------------------------------- shape and exact money


@pytest.mark.parametrize("by", ["id", "number"])
def test_transfer_answers_and_moves_money_exactly(
    customer: Party, payee: Party, mine: OpenAccount, theirs: OpenAccount, mongo: Any, by: str
) -> None:
    owner, api = customer
    source, dest = mine(deposit="100.00"), theirs(deposit="5.00")
    started = datetime.now(UTC)
    response = send(api, source, dest, "30.25", by=by, description="rent for May")
    transfer = expect(response, 201)
    assert set(transfer) == TRANSFER_KEYS
    assert isinstance(transfer["id"], int)
    assert transfer["id"] >= 1
    assert transfer["from_account_id"] == source["id"]
    assert transfer["to_account_id"] == dest["id"]
    assert transfer["from_number"] == source["number"] == account_number(source["id"])
    assert transfer["to_number"] == dest["number"]
    assert transfer["amount"] == "30.25"
    assert transfer["description"] == "rent for May"
    assert transfer["performed_by"] == owner["id"]
    assert TIMESTAMP.fullmatch(transfer["created_at"]), transfer["created_at"]
    created = datetime.fromisoformat(transfer["created_at"])
    assert started - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)
    assert '"_id"' not in response.text
    assert "Idempotent-Replayed" not in response.headers

    assert balance(api, source["id"]) == "69.75"
    assert balance(payee[1], dest["id"]) == "35.25"
    assert_transfer_stored(mongo, transfer)
    legs = {e["type"]: e for e in customer_legs_where(mongo, transfer_id=transfer["id"])}
    assert legs["transfer_out"]["seq"] == 2
    assert legs["transfer_in"]["seq"] == 2
    assert dec(legs["transfer_out"]["balance_after"]) == Decimal("69.75")
    assert dec(legs["transfer_in"]["balance_after"]) == Decimal("35.25")
    # The transfer and both legs carry one timestamp: they happened at one moment.
    assert iso_ms(legs["transfer_out"]["created_at"]) == transfer["created_at"]
    assert legs["transfer_in"]["created_at"] == legs["transfer_out"]["created_at"]

    # The API's ledger shows the same legs.
    out = expect(api.get(f"/accounts/{source['id']}/transactions"), 200)["items"][0]
    assert out["type"] == "transfer_out"
    assert out["transfer_id"] == transfer["id"]
    assert out["counterparty_number"] == dest["number"]
    assert out["balance_after"] == "69.75"
    got = expect(payee[1].get(f"/accounts/{dest['id']}/transactions"), 200)["items"][0]
    assert got["type"] == "transfer_in"
    assert got["transfer_id"] == transfer["id"]
    assert got["counterparty_number"] == source["number"]
    assert got["amount"] == "30.25"

    # GET answers exactly what the POST answered.
    assert expect(api.get(f"/transfers/{transfer['id']}"), 200) == transfer


def test_json_number_amounts_and_no_description(
    customer: Party, mine: OpenAccount, theirs: OpenAccount
) -> None:
    _, api = customer
    source, dest = mine(deposit="1.00"), theirs()
    body = f'{{"from_account_id": {source["id"]}, "to_account_id": {dest["id"]}, "amount": 0.1}}'
    transfer = expect(post_raw(api, "/transfers", body.encode()), 201)
    assert transfer["amount"] == "0.10"
    assert transfer["description"] is None
    body = f'{{"from_account_id": {source["id"]}, "to_account_number": "{dest["number"]}", ' \
        '"amount": 0.2, "description": null}'  # fmt: skip
    expect(post_raw(api, "/transfers/", body.encode()), 201)
    assert balance(api, source["id"]) == "0.70"
    expect(api.get(f"/accounts/{dest['id']}"), 404, "not_found")  # not visible to the sender


def test_exactly_the_balance_may_be_sent(
    customer: Party, mine: OpenAccount, theirs: OpenAccount, mongo: Any
) -> None:
    _, api = customer
    source, dest = mine(deposit="12.34"), theirs()
    transfer = expect(send(api, source, dest, "12.34"), 201)
    assert balance(api, source["id"]) == "0.00"
    assert_transfer_stored(mongo, transfer)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "destination",
    [
        {},
        {"to_account_id": None},
        {"to_account_number": None},
        {"to_account_id": None, "to_account_number": None},
        {"to_account_id": "DEST_ID", "to_account_number": "DEST_NUMBER"},
    ],
    ids=["neither", "id-null", "number-null", "both-null", "both"],
)
def test_exactly_one_destination_field(
    customer: Party, pair: tuple[dict[str, Any], ...], mongo: Any, destination: dict[str, Any]
) -> None:
    _, api = customer
    source, dest = pair
    names = {"DEST_ID": dest["id"], "DEST_NUMBER": dest["number"]}
    fields = {k: names.get(str(v), v) for k, v in destination.items()}
    before = snapshot(mongo, source["id"], dest["id"])
    body = {"from_account_id": source["id"], "amount": "1.00", **fields}
    error = expect(api.post("/transfers", json=body), 422, "validation_error")
    assert isinstance(error["detail"], list)
    assert error["detail"]
    assert_unchanged(mongo, before)


def test_an_explicit_null_for_the_unused_destination_field_is_fine(
    customer: Party, mine: OpenAccount, theirs: OpenAccount
) -> None:
    _, api = customer
    source, dest = mine(deposit="2.00"), theirs()
    expect(api.post("/transfers", json={"from_account_id": source["id"], "amount": "1.00",
                                        "to_account_id": dest["id"],
                                        "to_account_number": None}), 201)  # fmt: skip
    expect(api.post("/transfers", json={"from_account_id": source["id"], "amount": "1.00",
                                        "to_account_id": None,
                                        "to_account_number": dest["number"]}), 201)  # fmt: skip
    assert balance(api, source["id"]) == "0.00"


@pytest.mark.parametrize(
    "extra",
    [
        {"currency": "USD"},
        {"performed_by": 1},
        {"to_account": 2},
        {"from_account_number": "0000000195"},
        {"id": 1},
        {"Amount": "5.00"},
        {"transfer_id": None},
    ],
    ids=lambda d: next(iter(d)),
)
def test_unknown_fields_answer_422(
    customer: Party, pair: tuple[dict[str, Any], ...], mongo: Any, extra: dict[str, Any]
) -> None:
    _, api = customer
    source, dest = pair
    before = snapshot(mongo, source["id"], dest["id"])
    error = expect(send(api, source, dest, "1.00", **extra), 422, "validation_error")
    assert any(item["type"] == "extra_forbidden" for item in error["detail"]), error
    assert_unchanged(mongo, before)


@pytest.mark.parametrize("literal", INVALID_AMOUNTS, ids=lambda s: s[:24])
def test_invalid_amounts_answer_422_and_change_nothing(
    customer: Party, pair: tuple[dict[str, Any], ...], mongo: Any, literal: str
) -> None:
    _, api = customer
    source, dest = pair
    before = snapshot(mongo, source["id"], dest["id"])
    content = (f'{{"from_account_id": {source["id"]}, "to_account_id": {dest["id"]}, '
               f'"amount": {literal}}}').encode()  # fmt: skip
    error = expect(post_raw(api, "/transfers", content), 422, "validation_error")
    assert isinstance(error["detail"], list)
    assert error["detail"]
    assert_unchanged(mongo, before)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"null",
        b"[]",
        b'"x"',
        b'{"from_account_id": 1',
        b"{from_account_id: 1}",
        b'{"from_account_id": "SRC", "to_account_id": "DST"}',
        b'{"to_account_id": DST, "amount": "1.00"}',
        b'{"from_account_id": 0, "to_account_id": DST, "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_id": -1, "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_id": 1.5, "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_id": 99999999999999999999, "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_number": "", "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_number": 195, "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_number": "' + b"1" * 33 + b'", "amount": "1.00"}',
        b'{"from_account_id": SRC, "to_account_id": DST, "amount": "1.00", "description": 5}',
        b'{"from_account_id": SRC, "to_account_id": DST, "amount": "1.00", '
        b'"description": "' + b"x" * 141 + b'"}',
        b'{"from_account_id": SRC, "to_account_id": DST, "amount": "1.00", "description": "a\\nb"}',
    ],
    ids=lambda b: b.decode()[:40] or "empty",
)
def test_invalid_bodies_answer_422_and_change_nothing(
    customer: Party, pair: tuple[dict[str, Any], ...], mongo: Any, body: bytes
) -> None:
    _, api = customer
    source, dest = pair
    content = body.replace(b"SRC", str(source["id"]).encode()).replace(
        b"DST", str(dest["id"]).encode()
    )
    before = snapshot(mongo, source["id"], dest["id"])
    expect(post_raw(api, "/transfers", content), 422, "validation_error")
    assert_unchanged(mongo, before)


@pytest.mark.parametrize("by", ["id", "number"])
def test_same_account_answers_422(
    customer: Party, teller: Api, pair: tuple[dict[str, Any], ...], mongo: Any, by: str
) -> None:
    source, _ = pair
    before = snapshot(mongo, source["id"])
    for api in (customer[1], teller):
        error = expect(send(api, source, source, "1.00", by=by), 422, "same_account")
        assert isinstance(error["detail"], str)
    # A 422 is not a refused movement: no event, no entry, no transfer.
    assert_unchanged(mongo, before)


@pytest.mark.parametrize(
    "destination",
    [
        {"to_account_id": 10**9},
        {"to_account_id": 2**62},
        {"to_account_number": "BAD_CHECK"},
        {"to_account_number": "UNKNOWN"},
        {"to_account_number": "0000000098"},  # valid check digits, but account id 0
        {"to_account_number": "123"},
        {"to_account_number": "NOT_DIGITS"},
        {"to_account_number": "SPACED"},
    ],
    ids=["id", "huge-id", "bad-check", "unknown", "zero", "short", "arabic", "spaced"],
)
def test_unknown_destination_answers_404(
    customer: Party,
    teller: Api,
    pair: tuple[dict[str, Any], ...],
    mongo: Any,
    destination: dict[str, Any],
) -> None:
    source, dest = pair
    good = dest["number"]
    bad_check = good[:8] + f"{(int(good[8:]) + 1) % 100:02d}"
    replacements = {
        "BAD_CHECK": bad_check,
        "UNKNOWN": account_number(99_999_999),
        "NOT_DIGITS": "".join(chr(0x0660 + int(c)) for c in good),
        "SPACED": f" {good}",
    }
    fields = {k: replacements.get(v, v) if isinstance(v, str) else v
              for k, v in destination.items()}  # fmt: skip
    before = snapshot(mongo, source["id"], dest["id"])
    body = {"from_account_id": source["id"], "amount": "1.00", **fields}
    for api in (customer[1], teller):
        expect(api.post("/transfers", json=body), 404, "not_found")
    assert_unchanged(mongo, before)


# ---------------------------------------------------------------- bank rules


def test_insufficient_funds_is_refused(
    customer: Party, mine: OpenAccount, theirs: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    source, dest = mine(deposit="40.00"), theirs(deposit="1.00")
    before = snapshot(mongo, source["id"], dest["id"])
    error = expect(send(api, source, dest, "40.01"), 409, "insufficient_funds")
    assert isinstance(error["detail"], str)
    assert_refused(mongo, before, source_id=source["id"], code="insufficient_funds",
                   actor_id=owner["id"], amount="40.01")  # fmt: skip
    assert balance(api, source["id"]) == "40.00"
    # An empty account cannot send a cent, by number either.
    empty = mine()
    before = snapshot(mongo, empty["id"], dest["id"])
    expect(send(api, empty, dest, "0.01", by="number"), 409, "insufficient_funds")
    assert_refused(mongo, before, source_id=empty["id"], code="insufficient_funds",
                   actor_id=owner["id"], amount="0.01")  # fmt: skip


def test_overdraft_is_respected(
    admin: Api, customer: Party, mine: OpenAccount, theirs: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    source, dest = mine(deposit="10.00"), theirs()
    expect(send(api, source, dest, "10.01"), 409, "insufficient_funds")
    set_admin(admin, source["id"], overdraft_limit="50.00")
    transfer = expect(send(api, source, dest, "60.00"), 201)
    assert balance(api, source["id"]) == "-50.00"
    assert balance(admin, dest["id"]) == "60.00"
    assert_transfer_stored(mongo, transfer)
    before = snapshot(mongo, source["id"], dest["id"])
    expect(send(api, source, dest, "0.01"), 409, "insufficient_funds")
    assert_refused(mongo, before, source_id=source["id"], code="insufficient_funds",
                   actor_id=owner["id"], amount="0.01")  # fmt: skip
    # Money coming in makes room for exactly that much.
    expect(send(admin, dest, source, "0.01"), 201)
    expect(send(api, source, dest, "0.01"), 201)
    expect(send(api, source, dest, "0.01"), 409, "insufficient_funds")
    assert balance(api, source["id"]) == "-50.00"
    assert min(dec(e["balance_after"]) for e in ledger(mongo, source["id"])) == Decimal("-50.00")


def test_daily_limit_counts_transfers_with_withdrawals(
    admin: Api,
    teller: Api,
    customer: Party,
    mine: OpenAccount,
    theirs: OpenAccount,
    mongo: Any,
) -> None:
    wait_if_near_utc_midnight()
    owner, api = customer
    source, dest = mine(deposit="500.00"), theirs()
    set_admin(admin, source["id"], daily_withdrawal_limit="50.00")
    expect(teller.post(f"/accounts/{source['id']}/withdraw", json={"amount": "30.00"}), 201)
    before = snapshot(mongo, source["id"], dest["id"])
    error = expect(send(api, source, dest, "20.01"), 409, "limit_exceeded")
    assert "50.00" in error["detail"]
    assert_refused(mongo, before, source_id=source["id"], code="limit_exceeded",
                   actor_id=owner["id"], amount="20.01")  # fmt: skip
    expect(send(api, source, dest, "20.00"), 201)
    # The transfer used the rest of today's limit: a withdrawal is refused now too.
    expect(teller.post(f"/accounts/{source['id']}/withdraw", json={"amount": "0.01"}), 409,
           "limit_exceeded")  # fmt: skip
    expect(send(api, source, dest, "0.01", by="number"), 409, "limit_exceeded")
    # Money coming in does not count: the receiving side's limit is untouched.
    set_admin(admin, dest["id"], daily_withdrawal_limit="10.00")
    expect(send(admin, dest, source, "10.00"), 201)
    stored = mongo.accounts.find_one({"_id": source["id"]})
    assert stored["day"] == datetime.now(UTC).date().isoformat()  # the business date (UTC)
    assert dec(stored["day_out"]) == Decimal("50.00")
    assert balance(api, source["id"]) == "460.00"


def test_currency_mismatch_is_refused(
    customer: Party, mine: OpenAccount, theirs: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    source, dest = mine(deposit="100.00"), theirs(currency="EUR")
    assert dest["currency"] == "EUR"
    for by in ("id", "number"):
        before = snapshot(mongo, source["id"], dest["id"])
        error = expect(send(api, source, dest, "10.00", by=by), 409, "currency_mismatch")
        assert "EUR" in error["detail"]
        assert_refused(mongo, before, source_id=source["id"], code="currency_mismatch",
                       actor_id=owner["id"], amount="10.00")  # fmt: skip
    # Two EUR accounts may trade.
    euros = mine(currency="EUR", deposit="10.00")
    transfer = expect(send(api, euros, dest, "10.00"), 201)
    assert transfer["amount"] == "10.00"
    assert mongo.transfers.find_one({"_id": transfer["id"]})["currency"] == "EUR"


@pytest.mark.parametrize("side", ["source", "destination"])
@pytest.mark.parametrize("status", ["frozen", "closed"])
def test_inactive_account_on_either_side_is_refused(
    admin: Api,
    teller: Api,
    teller_id: int,
    mine: OpenAccount,
    theirs: OpenAccount,
    mongo: Any,
    side: str,
    status: str,
) -> None:
    source, dest = mine(deposit="100.00"), theirs(deposit="10.00")
    blocked = source if side == "source" else dest
    if status == "frozen":
        assert set_admin(admin, blocked["id"], status="frozen")["status"] == "frozen"
    else:
        # Empty it first (a closed account holds nothing), then close it.
        other = mine()
        expect(send(admin, blocked, other, balance(admin, blocked["id"])), 201)
        expect(admin.delete(f"/accounts/{blocked['id']}"), 204)
    before = snapshot(mongo, source["id"], dest["id"])
    for by in ("id", "number"):
        error = expect(send(teller, source, dest, "5.00", by=by), 409, "account_not_active")
        assert status in error["detail"]
    after = snapshot(mongo, source["id"], dest["id"])
    new_events = [i for i in after.pop("events") if i not in before["events"]]
    assert after == {k: v for k, v in before.items() if k != "events"}
    assert len(new_events) == 2
    for event in mongo.audit_events.find({"_id": {"$in": new_events}}):
        assert event["outcome"] == "refused"
        assert event["code"] == "account_not_active"
        assert event["actor_id"] == teller_id
        assert event["target_id"] == source["id"]
    if status == "frozen":
        set_admin(admin, blocked["id"], status="active")
        expect(send(teller, source, dest, "5.00"), 201)


# ---------------------------------------------------------------- who may transfer


def test_owner_may_send_to_an_account_they_cannot_see(
    customer: Party, stranger: Party, mine: OpenAccount, open_account: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    source = mine(deposit="20.00")
    dest = open_account(stranger[0]["id"])
    expect(api.get(f"/accounts/{dest['id']}"), 404)
    transfer = expect(send(api, source, dest, "7.00"), 201)
    assert transfer["performed_by"] == owner["id"]
    assert balance(stranger[1], dest["id"]) == "7.00"
    assert_transfer_stored(mongo, transfer)


def test_others_may_not_send_from_an_account_they_do_not_own(
    customer: Party,
    payee: Party,
    stranger: Party,
    mine: OpenAccount,
    theirs: OpenAccount,
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    source, dest = mine(deposit="100.00"), theirs()
    own = open_account(stranger[0]["id"])
    before = snapshot(mongo, source["id"], dest["id"], own["id"])
    # A stranger, even to their own account, and the payee (owner of the other side) alike.
    for api, to in ((stranger[1], own), (stranger[1], dest), (payee[1], dest), (payee[1], own)):
        hidden = expect(send(api, source, to, "1.00"), 404, "not_found")
        missing = expect(send(api, {"id": 10**9}, to, "1.00"), 404, "not_found")
        assert hidden == missing, "a hidden account must look exactly like a missing one"
    assert_unchanged(mongo, before)
    assert balance(customer[1], source["id"]) == "100.00"


def test_staff_may_transfer_between_any_accounts(
    admin: Api,
    teller: Api,
    teller_id: int,
    mine: OpenAccount,
    theirs: OpenAccount,
    mongo: Any,
) -> None:
    source, dest = mine(deposit="100.00"), theirs()
    admin_id = user_id(admin)
    by_teller = expect(send(teller, source, dest, "10.00"), 201)
    by_admin = expect(send(admin, dest, source, "4.00", by="number"), 201)
    assert by_teller["performed_by"] == teller_id
    assert by_admin["performed_by"] == admin_id
    assert balance(admin, source["id"]) == "94.00"
    assert balance(admin, dest["id"]) == "6.00"
    assert_transfer_stored(mongo, by_teller)
    assert_transfer_stored(mongo, by_admin)


def test_anonymous_and_bad_tokens_get_401(
    anon: Api, server: ServerProcess, pair: tuple[dict[str, Any], ...], mongo: Any
) -> None:
    source, dest = pair
    before = snapshot(mongo, source["id"], dest["id"])
    response = send(anon, source, dest, "1.00")
    expect(response, 401, "not_authenticated")
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    forged = Api(server.url, token="not.a.jwt")
    try:
        expect(send(forged, source, dest, "1.00"), 401, "invalid_token")
        expect(forged.get("/transfers/1"), 401, "invalid_token")
    finally:
        forged.close()
    expect(anon.get("/transfers/1"), 401, "not_authenticated")
    assert_unchanged(mongo, before)


# ---------------------------------------------------------------- GET /transfers/{id}


def test_get_transfer_for_each_side_and_staff_only(
    admin: Api,
    teller: Api,
    customer: Party,
    payee: Party,
    stranger: Party,
    mine: OpenAccount,
    theirs: OpenAccount,
) -> None:
    source, dest = mine(deposit="10.00"), theirs()
    transfer = expect(send(customer[1], source, dest, "3.00", description="lunch"), 201)
    path = f"/transfers/{transfer['id']}"
    for api in (customer[1], payee[1], teller, admin):
        assert expect(api.get(path), 200) == transfer
        assert expect(api.get(path + "/"), 200) == transfer
    hidden = expect(stranger[1].get(path), 404, "not_found")
    missing = expect(stranger[1].get("/transfers/999999"), 404, "not_found")
    assert hidden == missing
    expect(admin.get("/transfers/999999"), 404, "not_found")
    for bad in ("0", "-1", "abc", str(2**63)):
        expect(admin.get(f"/transfers/{bad}"), 422, "validation_error")


# ---------------------------------------------------------------- concurrency


async def _burst(base_url: str, token: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST every transfer body at once."""
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        limits=httpx.Limits(max_connections=40),
    ) as client:
        return list(await asyncio.gather(*(client.post("/transfers", json=b) for b in bodies)))


def test_opposite_concurrent_transfers_keep_the_sum_and_never_overdraw(
    server: ServerProcess, teller: Api, mine: OpenAccount, theirs: OpenAccount, mongo: Any
) -> None:
    a, b = mine(deposit="50.00"), theirs(deposit="30.00")
    rng = random.Random(20261130)
    bodies = []
    for i in range(40):
        src, dst = (a, b) if i % 2 == 0 else (b, a)
        bodies.append({"from_account_id": src["id"], "to_account_id": dst["id"],
                       "amount": rng.choice(["5.00", "12.34", "20.00", "0.01"])})  # fmt: skip
    rng.shuffle(bodies)
    assert teller.token is not None
    responses = asyncio.run(_burst(server.url, teller.token, bodies))
    expected = {a["id"]: Decimal("50.00"), b["id"]: Decimal("30.00")}
    ok = []
    for body, response in zip(bodies, responses, strict=True):
        if response.status_code == 201:
            transfer = response.json()
            assert transfer["from_account_id"] == body["from_account_id"]
            assert transfer["amount"] == body["amount"]
            expected[body["from_account_id"]] -= Decimal(body["amount"])
            expected[body["to_account_id"]] += Decimal(body["amount"])
            ok.append(transfer)
        else:
            expect(response, 409, "insufficient_funds")
    assert len(ok) >= 10, [r.text for r in responses]
    got = {k: Decimal(balance(teller, k)) for k in expected}
    assert got == expected
    assert sum(got.values()) == Decimal("80.00")
    for account in (a, b):
        entries = ledger(mongo, account["id"])
        assert all(dec(e["balance_after"]) >= 0 for e in entries)
        assert len(entries) == 1 + len(ok)  # the opening deposit, then one leg per transfer
    assert len({t["id"] for t in ok}) == len(ok)
    for transfer in ok:
        assert_transfer_stored(mongo, transfer)
    refused = mongo.audit_events.count_documents(
        {
            "action": "money.transfer",
            "outcome": "refused",
            "code": "insufficient_funds",
            "target_id": {"$in": [a["id"], b["id"]]},
        }
    )
    assert refused == len(bodies) - len(ok)


# ---------------------------------------------------------------- invariants (keep last)


def test_ledger_and_transfer_invariants_hold_after_the_whole_module(mongo: Any) -> None:
    transfers = list(mongo.transfers.find())
    assert transfers, "the check must not pass without transfers"
    total_in = total_out = total_balance = Decimal("0")
    for account in mongo.accounts.find():
        entries = ledger(mongo, account["_id"])
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        assert account.get("entry_seq", 0) == len(entries)
        running = Decimal("0")
        for entry in entries:
            amount = dec(entry["amount"])
            if entry["type"] in ("deposit", "transfer_in"):
                running += amount
            else:
                running -= amount
            assert dec(entry["balance_after"]) == running
            assert running >= -dec(account["overdraft_limit"])
            if entry["type"] == "deposit":
                total_in += amount
            elif entry["type"] == "withdrawal":
                total_out += amount
        assert dec(account["balance"]) == running
        total_balance += running
    # Transfers only move money around: all balances add up to deposits minus withdrawals.
    assert total_balance == total_in - total_out
    legs = customer_legs_where(mongo, type=["transfer_in", "transfer_out"])
    assert len(legs) == 2 * len(transfers)
    by_transfer: dict[int, list[dict[str, Any]]] = {}
    for leg in legs:
        by_transfer.setdefault(leg["transfer_id"], []).append(leg)
    assert set(by_transfer) == {t["_id"] for t in transfers}
    for record in transfers:
        kinds = sorted(leg["type"] for leg in by_transfer[record["_id"]])
        assert kinds == ["transfer_in", "transfer_out"]
        assert all(
            dec(leg["amount"]) == dec(record["amount"]) for leg in by_transfer[record["_id"]]
        )
    ok_events = mongo.audit_events.count_documents({"action": "money.transfer", "outcome": "ok"})
    assert ok_events == len(transfers)
    for event in mongo.audit_events.find({"action": "money.transfer", "outcome": "refused"}):
        assert event["code"] in ("insufficient_funds", "limit_exceeded", "account_not_active",
                                 "currency_mismatch")  # fmt: skip
    ids = sorted(t["_id"] for t in transfers)
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == len(ids)
