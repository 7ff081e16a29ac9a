"""In-process rules of reversals and of the day's close, in all their combinations.

- Which reversals a teller makes directly (their own cash, their open session, the same
  business date) and which wait for approval: every combination of the four conditions.
- Which entries are reversible, and in which account states.
- The grace period: a capability of the database, detected on the embedded one.
- The figures: a running trial balance and movement totals, and the report's hash against
  the contract's definition written out in tests/day_support.py.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from server.db import Database, EmbeddedDatabase, serialises_transactions
from server.errors import DomainError
from server.services.business_day import closing
from server.services.business_day.figures import Movements, TrialBalance, without_counts
from server.services.business_day.report import hash_of
from server.services.context import Ctx
from server.services.ledger.rules import CustomerAccount
from server.services.reversals import Original, _check_state, _is_direct
from tests.day_support import contract_hash

TODAY, YESTERDAY = "2026-12-02", "2026-12-01"
ME, SOMEONE = 7, 8


def _ctx(actor_id: int) -> Ctx:
    class Actor:
        id = actor_id

    return Ctx(db=None, actor=Actor())  # type: ignore[arg-type]


def _original(kind: str, *, leg_type: str = "deposit", reversed_by: int | None = None,
              status: str = "active", performed_by: int = ME, session_id: int | None = 3,
              business_date: str = TODAY) -> Original:  # fmt: skip
    account = CustomerAccount({"_id": 1, "number": "0000000195", "currency": "USD",
                               "status": status, "owner_id": 99}, TODAY)  # fmt: skip
    journal = {"_id": 10, "kind": kind, "reversed_by": reversed_by, "performed_by": performed_by,
               "session_id": session_id, "business_date": business_date, "legs": []}  # fmt: skip
    leg = {"transaction_id": 5, "type": leg_type, "reversed_by": reversed_by}
    return Original(5, 1, journal, {account.number: account}, {account.number: leg})


@pytest.mark.parametrize(
    ("kind", "mine", "session", "same_day"),
    list(itertools.product(["deposit", "withdrawal", "transfer", "migration"], [True, False],
                           ["same", "other", "none"], [True, False])),
)  # fmt: skip
def test_only_a_tellers_own_cash_of_their_session_and_day_is_reversed_directly(
    kind: str, mine: bool, session: str, same_day: bool
) -> None:
    original = _original(kind, performed_by=ME if mine else SOMEONE,
                         business_date=TODAY if same_day else YESTERDAY)  # fmt: skip
    current = {"same": {"_id": 3}, "other": {"_id": 4}, "none": None}[session]
    direct = _is_direct(_ctx(ME), original, current, TODAY)
    expected = kind in ("deposit", "withdrawal") and mine and session == "same" and same_day
    assert direct is expected


@pytest.mark.parametrize(
    ("kind", "leg_type", "reversed_by", "status", "code"),
    [
        ("deposit", "deposit", None, "active", None),
        ("withdrawal", "withdrawal", None, "frozen", None),  # a frozen account may be reversed
        ("transfer", "transfer_in", None, "active", None),
        ("migration", "deposit", None, "active", None),
        ("deposit", "deposit", None, "closed", "account_not_active"),
        ("deposit", "deposit", 12, "active", "already_reversed"),
        ("deposit", "deposit", 12, "closed", "already_reversed"),  # once, before the state
        ("reversal", "reversal", None, "active", "not_reversible"),
        ("reversal", "reversal", None, "closed", "not_reversible"),
        *[(kind, "deposit", None, "active", "not_reversible")
          for kind in ("over_short", "vault_in", "vault_out", "vault_to_till", "till_to_vault")],
    ],
)  # fmt: skip
def test_what_may_be_reversed(
    kind: str, leg_type: str, reversed_by: int | None, status: str, code: str | None
) -> None:
    original = _original(kind, leg_type=leg_type, reversed_by=reversed_by, status=status)
    if code is None:
        _check_state(original)
        return
    with pytest.raises(DomainError) as refused:
        _check_state(original)
    assert refused.value.code.value == code


async def test_the_embedded_database_runs_one_transaction_at_a_time(
    wire_db: EmbeddedDatabase,
) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(wire_db.url)
    try:
        assert await serialises_transactions(client) is True
        database = Database(client=client, name="t_grace", serialises_transactions=True)
        assert await closing.grace_seconds(Ctx(db=database)) == 0.0
    finally:
        await client.close()


class _Settings:
    day_close_grace_seconds: float | None = 2.5


class _MongoAdmin:
    """An admin database that answers getParameter as MongoDB does, or refuses it."""

    def __init__(self, lifetime: int | None) -> None:
        self.lifetime = lifetime

    async def command(self, command: Any) -> dict[str, Any]:
        if isinstance(command, dict) and "getParameter" in command and self.lifetime:
            return {"transactionLifetimeLimitSeconds": self.lifetime, "ok": 1.0}
        raise OperationFailure("not authorized on admin to execute command")


class _MongoClient:
    def __init__(self, lifetime: int | None) -> None:
        self.admin = _MongoAdmin(lifetime)


@pytest.mark.parametrize(("lifetime", "expected"), [(30, 30.0), (None, 60.0)])
async def test_on_mongodb_the_grace_is_the_transaction_lifetime(
    lifetime: int | None, expected: float
) -> None:
    database = Database(client=_MongoClient(lifetime), name="x")  # type: ignore[arg-type]
    assert await closing.grace_seconds(Ctx(db=database)) == expected
    configured = Ctx(db=database, settings=_Settings())
    assert await closing.grace_seconds(configured) == 2.5  # DAY_CLOSE_GRACE_SECONDS wins


def _entry(kind: str, *legs: tuple[str, str, str]) -> dict[str, Any]:
    return {"kind": kind, "legs": [{"account": a, "side": s, "amount": Decimal(m),
                                    "currency": a.rsplit(":", 1)[-1] if ":" in a else "USD"}
                                   for a, s, m in legs]}  # fmt: skip


def test_running_figures_add_up_and_survive_their_json() -> None:
    day = [
        _entry("deposit", ("till:1:USD", "debit", "100.00"), ("0000000195", "credit", "100.00")),
        _entry("transfer", ("0000000195", "debit", "30.00"), ("0000000292", "credit", "30.00")),
        _entry("reversal", ("0000000195", "debit", "70.00"), ("till:1:USD", "credit", "70.00")),
        _entry("vault_in", ("vault:EUR", "debit", "5.00"), ("head_office:EUR", "credit", "5.00")),
    ]
    running, movements = TrialBalance(), Movements()
    for entry in day:
        running.add(entry)
        movements.add(entry)
    stored = running.as_json({"USD": 2})
    assert stored["USD"]["debits"] == stored["USD"]["credits"] == "200.00"
    assert stored["USD"]["balanced"] is True
    assert stored["USD"]["accounts"] == [
        {"account": "customers:USD", "kind": "liability", "balance": "30.00", "count": 2},
        {"account": "till:1:USD", "kind": "asset", "balance": "30.00", "count": None},
    ]
    assert [line["account"] for line in stored["EUR"]["accounts"]] == ["head_office:EUR",
                                                                       "vault:EUR"]  # fmt: skip
    assert movements.as_json() == {
        "deposit": {"USD": {"count": 1, "sum": "100.00"}},
        "reversal": {"USD": {"count": 1, "sum": "70.00"}},
        "transfer": {"USD": {"count": 1, "sum": "30.00"}},  # a transfer counted once
        "vault_in": {"EUR": {"count": 1, "sum": "5.00"}},
    }
    again = TrialBalance.from_json(stored)
    again.add(day[0])
    once_more = TrialBalance()
    for entry in [*day, day[0]]:
        once_more.add(entry)
    assert without_counts(again.as_json()) == without_counts(once_more.as_json())


def test_the_servers_hash_is_the_contracts() -> None:
    report = {"date": TODAY, "closed_at": "2026-12-02T18:00:00.000Z", "closed_by": 2,
              "trial_balance": {}, "cash_position": {}, "vault_count": None, "sessions": [],
              "movements": {"deposit": {"USD": {"count": 1, "sum": "1.00"}}}, "reversals": [],
              "large_cash": [], "approvals": {"executed": 0}, "previous_hash": None,
              "note": "Zürich café"}  # fmt: skip
    assert hash_of(report) == contract_hash(report)
    assert hash_of({**report, "hash": "ignored"}) == contract_hash(report)
    assert hash_of({**report, "closed_by": 3}) != contract_hash(report)
