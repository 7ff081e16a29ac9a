"""Holds as in-process service calls on the real embedded database (no HTTP, no mocks).

The combinatorics of who may place and release which hold, the guard that makes a debit
that read an account before a hold start over, the day's sweep, the reversal hook and two
readers expiring one hold at once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from server.config import Settings
from server.db import Database, EmbeddedDatabase, RetryTransaction, init_database, make_client
from server.documents import Account, AuditEvent, User
from server.documents.branch import Hold
from server.errors import DomainError
from server.services import hold_expiry, holds, movements
from server.services.accounts import open_account
from server.services.context import Ctx
from server.services.ledger import posting
from server.services.ledger.posting import Line, Posting
from server.services.ledger.rules import CustomerAccount
from server.services.users import insert_user
from shared.errors import ErrorCode
from shared.schemas.accounts import AccountCreate
from shared.schemas.common import AccountType, Role, now_ms
from shared.schemas.holds import HoldCreate, HoldRelease, HoldStatus
from shared.schemas.ledger import JournalKind, Side
from shared.schemas.transactions import TransactionType

_names = itertools.count(1)


@dataclass
class Bank:
    """An in-process bank: the database and one user of each role."""

    db: Database
    users: dict[str, User]

    def ctx(self, role: str) -> Ctx:
        return Ctx(db=self.db, actor=self.users[role], settings=Settings())


@pytest_asyncio.fixture(scope="module")
async def bank(wire_db: EmbeddedDatabase) -> AsyncIterator[Bank]:
    client: Any = make_client(wire_db.url)
    database = await init_database(client, f"t_holds_service_{next(_names)}")
    system = Ctx(db=database)
    users = {}
    for role in ("teller", "teller2", "supervisor", "admin"):
        made = await insert_user(system, username=role, password_hash="x", full_name=role.title(),
                                 email=f"{role}@example.com",
                                 role=Role(role.rstrip("2")))  # fmt: skip
        users[role] = await User.get(made.id)
    yield Bank(database, users)  # type: ignore[arg-type]
    await client.close()


async def funded(bank: Bank, amount: str = "100.00") -> tuple[int, Ctx]:
    """Open an account for a new customer and pay `amount` in (self-service cash)."""
    n = next(_names)
    made = await insert_user(Ctx(db=bank.db), username=f"cust{n}", password_hash="x",
                             full_name=f"Customer {n}", email=f"c{n}@example.com",
                             role=Role.USER)  # fmt: skip
    owner = Ctx(db=bank.db, actor=await User.get(made.id), settings=Settings())
    account = await open_account(owner, AccountCreate(account_type=AccountType.CHECKING))
    await movements.cash_movement(owner, Settings(self_service_cash=True), account_id=account.id,
                                  kind=TransactionType.DEPOSIT, amount=Decimal(amount),
                                  description="opening")  # fmt: skip
    return account.id, owner


async def place(bank: Bank, role: str, account_id: int, amount: str, reason: str,
                **fields: Any) -> Any:  # fmt: skip
    ctx = bank.ctx(role)
    data = HoldCreate(amount=Decimal(amount), reason_code=reason, **fields)  # type: ignore[arg-type]
    return await bank.db.transaction(lambda s: holds.place_body(ctx, s, account_id, data))


async def release(bank: Bank, role: str, hold_id: int) -> Any:
    ctx = bank.ctx(role)
    return await bank.db.transaction(lambda s: holds.release_body(ctx, s, hold_id, HoldRelease()))


async def held(account_id: int) -> Decimal:
    raw = await Account.get_pymongo_collection().find_one({"_id": account_id})
    assert raw is not None
    return Decimal(str(raw["held"].to_decimal()))


async def code_of(call: Any) -> str:
    """Return the refusal code of a call, or "ok"."""
    try:
        await call
    except DomainError as error:
        return error.code.value
    return "ok"


PLACE_MATRIX = [
    # (role, reason, expected)
    *[("teller", reason, "ok") for reason in ("cheque_clearing", "dispute", "other")],
    *[("teller", reason, "forbidden") for reason in ("legal", "fraud")],
    *[(role, reason, "ok") for role in ("supervisor", "admin")
      for reason in ("cheque_clearing", "dispute", "other", "legal", "fraud")],
]  # fmt: skip


@pytest.mark.parametrize(("role", "reason", "expected"), PLACE_MATRIX)
async def test_who_places_which_hold(bank: Bank, role: str, reason: str, expected: str) -> None:
    account_id, owner = await funded(bank)
    assert await code_of(place(bank, role, account_id, "10.00", reason)) == expected
    assert await held(account_id) == (Decimal("10.00") if expected == "ok" else 0)
    # Customers never place holds, not even on their own account.
    data = HoldCreate(amount=Decimal("1.00"), reason_code="other")  # type: ignore[arg-type]
    refused = await code_of(bank.db.transaction(
        lambda s: holds.place_body(owner, s, account_id, data)))  # fmt: skip
    assert refused == "forbidden"


RELEASE_MATRIX = [
    # (placed by, reason, released by, expected)
    ("teller", "other", "teller", "ok"),
    ("teller", "other", "teller2", "forbidden"),
    ("teller", "dispute", "supervisor", "ok"),
    ("teller", "cheque_clearing", "admin", "ok"),
    ("supervisor", "other", "teller", "forbidden"),
    ("supervisor", "other", "supervisor", "ok"),
    ("supervisor", "legal", "teller", "forbidden"),
    ("admin", "fraud", "teller", "forbidden"),
]


@pytest.mark.parametrize(("maker", "reason", "releaser", "expected"), RELEASE_MATRIX)
async def test_who_releases_which_hold(
    bank: Bank, maker: str, reason: str, releaser: str, expected: str
) -> None:
    account_id, _owner = await funded(bank)
    hold = await place(bank, maker, account_id, "10.00", reason)
    assert await code_of(release(bank, releaser, hold.id)) == expected
    assert await held(account_id) == (0 if expected == "ok" else Decimal("10.00"))
    if expected == "ok":
        assert await code_of(release(bank, releaser, hold.id)) == "hold_not_active"


async def test_a_debit_that_read_the_account_before_a_hold_starts_over(bank: Bank) -> None:
    account_id, owner = await funded(bank, "100.00")
    business_date = "2026-01-01"
    # A debit in another process read the account (guard and all) before the hold...
    stale = await CustomerAccount.read(account_id, business_date, None)  # type: ignore[arg-type]
    stale.require_available(Decimal("80.00"))
    await place(bank, "teller", account_id, "50.00", "other")
    # ...so its conditional update misses, and the transaction starts over.
    with pytest.raises(RetryTransaction):
        await _post_once(bank, stale)
    attempts: list[Decimal] = []

    async def body(session: Any) -> Any:
        account = stale if not attempts else await CustomerAccount.read(
            account_id, business_date, session)  # fmt: skip
        attempts.append(account.available)
        account.require_available(Decimal("80.00"))
        return await _debit(bank, account)(session)

    with pytest.raises(DomainError) as refused:
        await bank.db.transaction(body)
    assert refused.value.code is ErrorCode.INSUFFICIENT_FUNDS
    assert attempts == [Decimal("100.00"), Decimal("50.00")]
    raw = await Account.get_pymongo_collection().find_one({"_id": account_id})
    assert raw is not None
    assert raw["balance"].to_decimal() == Decimal("100.00")
    assert owner.actor is not None


def _debit(bank: Bank, account: CustomerAccount) -> Any:
    async def body(session: Any) -> Any:
        legs = [account.leg(Side.DEBIT, Decimal("80.00"), Line(type=TransactionType.WITHDRAWAL)),
                posting.LegSpec(f"suspense:{account.currency}", Side.CREDIT, Decimal("80.00"),
                                account.currency)]  # fmt: skip
        return await posting.post(Ctx(db=bank.db), session, Posting(
            kind=JournalKind.WITHDRAWAL, legs=legs, business_date=account.business_date,
            performed_by=None))  # fmt: skip

    return body


async def _post_once(bank: Bank, account: CustomerAccount) -> None:
    """Run the stale debit in one transaction attempt (no retry loop)."""
    async with bank.db.client.start_session() as session:
        await session.with_transaction(_debit(bank, account))


async def test_the_sweep_expires_every_due_hold_once(bank: Bank) -> None:
    first, _ = await funded(bank)
    second, _ = await funded(bank)
    later = now_ms() + timedelta(hours=1)
    a = await place(bank, "teller", first, "10.00", "other", expires_at=later)
    b = await place(bank, "teller", first, "20.00", "other", expires_at=later + timedelta(hours=2))
    c = await place(bank, "teller", second, "30.00", "dispute", expires_at=later)
    d = await place(bank, "teller", second, "40.00", "dispute")
    system = Ctx(db=bank.db)
    at = later + timedelta(minutes=1)
    swept = await bank.db.transaction(lambda s: hold_expiry.sweep_expired(system, s, at=at))
    assert swept == 2
    statuses = {doc["_id"]: doc["status"] async for doc in Hold.get_pymongo_collection().find(
        {"_id": {"$in": [a.id, b.id, c.id, d.id]}})}  # fmt: skip
    assert statuses == {a.id: "expired", b.id: "active", c.id: "expired", d.id: "active"}
    assert (await held(first), await held(second)) == (Decimal("20.00"), Decimal("40.00"))
    raw = await Account.get_pymongo_collection().find_one({"_id": first})
    assert raw is not None
    assert raw["hold_expires_at"] == b.expires_at
    raw = await Account.get_pymongo_collection().find_one({"_id": second})
    assert raw is not None
    assert raw["hold_expires_at"] is None
    again = await bank.db.transaction(lambda s: hold_expiry.sweep_expired(system, s, at=at))
    assert again == 0
    expired = await AuditEvent.get_pymongo_collection().count_documents(
        {"action": "hold.expired", "target_id": {"$in": [first, second]}})  # fmt: skip
    assert expired == 2
    # `holds.sweep_expired` is the name the day's close calls.
    assert holds.sweep_expired is hold_expiry.sweep_expired


async def test_two_readers_expire_a_hold_once(bank: Bank) -> None:
    account_id, _ = await funded(bank)
    soon = now_ms() + timedelta(seconds=1)
    hold = await place(bank, "teller", account_id, "10.00", "other", expires_at=soon)
    await asyncio.sleep(1.2)
    raw = await Account.get_pymongo_collection().find_one({"_id": account_id})
    assert raw is not None
    ctx = bank.ctx("teller")
    results = await asyncio.gather(*(hold_expiry.ensure_current(ctx, dict(raw)) for _ in range(4)))
    assert all(result["held"].to_decimal() == 0 for result in results)
    events = await AuditEvent.get_pymongo_collection().count_documents(
        {"action": "hold.expired", "details.hold_id": hold.id})  # fmt: skip
    assert events == 1
    stored = await Hold.get_pymongo_collection().find_one({"_id": hold.id})
    assert stored is not None
    assert stored["status"] == HoldStatus.EXPIRED.value


async def test_a_reversal_releases_the_holds_that_name_its_transaction(bank: Bank) -> None:
    account_id, owner = await funded(bank, "10.00")
    deposit = await movements.cash_movement(
        owner, Settings(self_service_cash=True), account_id=account_id,
        kind=TransactionType.DEPOSIT, amount=Decimal("500.00"), description="cheque",
    )  # fmt: skip
    assert not isinstance(deposit, movements.ApprovalPending)
    named = await place(bank, "teller", account_id, "500.00", "cheque_clearing",
                        reference=str(deposit.id))  # fmt: skip
    other = await place(bank, "teller", account_id, "5.00", "other", reference="something else")
    gone = await place(bank, "teller", account_id, "1.00", "other", reference=str(deposit.id))
    await release(bank, "teller", gone.id)
    reverser = bank.ctx("supervisor")
    released = await bank.db.transaction(
        lambda s: holds.release_for_reversal(reverser, s, deposit.id))  # fmt: skip
    assert released == [named.id]
    assert await held(account_id) == Decimal("5.00")
    stored = await Hold.get_pymongo_collection().find_one({"_id": named.id})
    assert stored is not None
    assert stored["status"] == "released"
    assert stored["released_by"] == bank.users["supervisor"].id
    event = await AuditEvent.get_pymongo_collection().find_one(
        {"action": "hold.released", "details.hold_id": named.id})  # fmt: skip
    assert event is not None
    assert event["details"]["reason"] == "reversal"
    assert other.status is HoldStatus.ACTIVE
    nothing = await bank.db.transaction(lambda s: holds.release_for_reversal(reverser, s, 10**9))
    assert nothing == []
