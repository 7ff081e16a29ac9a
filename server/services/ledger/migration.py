"""The one-time migration of version 1 movements onto the double-entry ledger.

Version 1 kept one document per customer leg in `transactions` (balance, seq, type) and
changed `Account.balance` with it. On the first start over such data, every version 1
deposit and withdrawal becomes a `migration` journal entry of its customer leg and a contra
leg on `capital:CUR`, and every transfer one journal entry of its two legs (API.md "The
bank's ledger", "Migration"). Each keeps its `created_at`, its Transaction id, and is dated
the business date of that instant; the balances do not move again (they already hold the
version 1 movements): the legs go to the pages with their version 1 `seq` and
`balance_after`, and the accounts gain their debit and credit totals.

Resumable and idempotent: every journal entry carries its key (`source`, unique), written
in the same transaction as its legs, so a crash mid-way resumes after the last committed
one and a second run posts nothing. While it runs, money routes answer 503.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.db import Database
from server.documents import Account
from server.documents.ledger import DailyTotals, JournalEntry, LedgerAccount, TransactionRef
from server.services import calendar
from server.services.ledger import codes, store
from server.services.ledger.posting import dec
from shared.schemas.common import now_ms
from shared.schemas.ledger import JournalKind, LedgerKind, Side

log = logging.getLogger("bank.migration")

STATE_ID = "ledger_v2"
BATCH = 50
_CREDIT_TYPES = frozenset({"deposit", "transfer_in"})


def _state() -> Any:
    return DailyTotals.get_pymongo_collection().database["migrations"]


def _v1() -> Any:
    return Account.get_pymongo_collection().database["transactions"]


class MigrationGate:
    """Whether money may move: False from the start until the migration has finished."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.error: BaseException | None = None

    @property
    def ready(self) -> bool:
        """Tell whether the ledger is complete."""
        return self.done.is_set()


async def pending_count() -> int:
    """Return how many version 1 legs are not on the ledger yet (0 on a version 2 bank)."""
    state = await _state().find_one({"_id": STATE_ID})
    if state is not None and state.get("state") == "done":
        return 0
    return int(await _v1().count_documents({"migrated": {"$ne": True}}))


async def run(database: Database, *, timezone: str, gate: MigrationGate | None = None) -> int:
    """Post every version 1 movement not yet on the ledger; return how many entries it made."""
    made = 0
    try:
        if await pending_count() == 0:
            await _mark_done(0)
            return 0
        log.info("migrating version 1 movements onto the ledger")
        while True:
            batch = [raw async for raw in _v1().find({"migrated": {"$ne": True}})
                     .sort("_id", 1).limit(BATCH)]  # fmt: skip
            if not batch:
                break
            groups = _group(batch)
            for key, legs in groups:
                if len(legs) == 1 and legs[0].get("transfer_id") is not None:
                    legs = await _with_other_leg(legs[0])
                try:
                    made += await database.transaction(
                        functools.partial(_migrate_one, database, key=key, legs=legs,
                                          timezone=timezone)
                    )  # fmt: skip
                except DuplicateKeyError:
                    continue  # another server process posted this movement first
        await _mark_done(made)
        log.info("ledger migration finished: %d journal entries", made)
        return made
    except BaseException as error:
        if gate is not None:
            gate.error = error
        raise
    finally:
        if gate is not None and gate.error is None:
            gate.done.set()


def _group(batch: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Group legs by their movement: one per cash entry, both legs of a transfer together."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for raw in batch:
        if raw.get("transfer_id") is not None:
            key = f"v1:transfer:{raw['transfer_id']}"
        else:
            key = f"v1:transaction:{raw['_id']}"
        groups.setdefault(key, []).append(raw)
    return list(groups.items())


async def _with_other_leg(leg: dict[str, Any]) -> list[dict[str, Any]]:
    other = [raw async for raw in _v1().find({"transfer_id": leg["transfer_id"]})]
    return sorted(other, key=lambda raw: raw["_id"])


async def _migrate_one(
    database: Database,
    session: AsyncClientSession,
    *,
    key: str,
    legs: list[dict[str, Any]],
    timezone: str,
) -> int:
    """Post one version 1 movement as a journal entry (or nothing if it is there already)."""
    journal = JournalEntry.get_pymongo_collection()
    if await journal.find_one({"source": key}, session=session) is not None:
        await _v1().update_many({"_id": {"$in": [raw["_id"] for raw in legs]}},
                                {"$set": {"migrated": True}}, session=session)  # fmt: skip
        return 0
    journal_id = await database.next_id("journal", session=session)
    created = legs[0]["created_at"]
    business_date = calendar.calendar_date(timezone, created)
    journal_legs: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for raw in legs:
        account = await Account.get_pymongo_collection().find_one(
            {"_id": raw["account_id"]}, session=session
        )
        assert account is not None, raw
        amount = dec(raw["amount"])
        currency = str(raw.get("currency") or account["currency"])
        side = Side.CREDIT if raw["type"] in _CREDIT_TYPES else Side.DEBIT
        totals[currency] += amount if side is Side.DEBIT else Decimal(0)
        leg = {
            "journal_id": journal_id, "kind": JournalKind.MIGRATION.value, "side": side.value,
            "amount": Decimal128(amount), "currency": currency, "business_date": business_date,
            "created_at": raw["created_at"], "description": raw.get("description"),
            "session_id": None, "transaction_id": raw["_id"], "seq": int(raw["seq"]),
            "balance_after": Decimal128(dec(raw["balance_after"])), "type": raw["type"],
            "direction": "credit" if side is Side.CREDIT else "debit",
            "transfer_id": raw.get("transfer_id"),
            "counterparty_number": raw.get("counterparty_number"),
            "performed_by": raw.get("performed_by"), "approval_id": None, "reverses_id": None,
            "reversed_by": None, "forced": False, "account_id": raw["account_id"],
        }  # fmt: skip
        await store.append(session, account["number"], leg)
        side_total = "debits" if side is Side.DEBIT else "credits"
        await Account.get_pymongo_collection().update_one(
            {"_id": raw["account_id"]},
            {"$inc": {side_total: Decimal128(amount)},
             "$set": {"held": account.get("held", Decimal128("0.00"))}},
            session=session,
        )  # fmt: skip
        await TransactionRef.get_pymongo_collection().insert_one(
            {"_id": raw["_id"], "account_id": raw["account_id"], "code": account["number"],
             "seq": int(raw["seq"]), "journal_id": journal_id},
            session=session,
        )  # fmt: skip
        journal_legs.append({"account": account["number"], "side": side.value,
                             "amount": Decimal128(amount), "currency": currency})  # fmt: skip
        lines.append({"id": raw["_id"], "account_id": raw["account_id"], "seq": int(raw["seq"])})
    if len(legs) == 1:
        # A cash movement of version 1: its contra leg goes to capital.
        raw = legs[0]
        amount = dec(raw["amount"])
        currency = journal_legs[0]["currency"]
        side = Side.DEBIT if journal_legs[0]["side"] == Side.CREDIT.value else Side.CREDIT
        if side is Side.DEBIT:
            totals[currency] += amount
        code = codes.capital(currency)
        kind = LedgerKind.EQUITY
        sides = "debits" if side is Side.DEBIT else "credits"
        updated = await LedgerAccount.get_pymongo_collection().find_one_and_update(
            {"_id": code},
            {"$inc": {"balance": Decimal128(codes.signed(kind, side, amount)),
                      sides: Decimal128(amount), "seq": 1},
             "$setOnInsert": {"kind": kind.value, "name": codes.name_of(code),
                              "currency": currency, "till_id": None, "created_at": now_ms()}},
            upsert=True, return_document=ReturnDocument.AFTER, session=session,
        )  # fmt: skip
        assert updated is not None  # an upsert returns the document
        await store.append(session, code, {
            "journal_id": journal_id, "kind": JournalKind.MIGRATION.value, "side": side.value,
            "amount": Decimal128(amount), "currency": currency, "business_date": business_date,
            "created_at": raw["created_at"], "description": raw.get("description"),
            "session_id": None, "transaction_id": raw["_id"], "seq": int(updated["seq"]),
            "balance_after": updated["balance"],
        })  # fmt: skip
        journal_legs.append({"account": code, "side": side.value, "amount": Decimal128(amount),
                             "currency": currency})  # fmt: skip
        original = raw["type"]
    else:
        original = "transfer"
        transfer_id = legs[0]["transfer_id"]
        await (
            Account.get_pymongo_collection()
            .database["transfers"]
            .update_one(
                {"_id": transfer_id},
                {"$set": {"business_date": business_date, "journal_id": journal_id}},
                session=session,
            )
        )
    await journal.insert_one({
        "_id": journal_id, "kind": JournalKind.MIGRATION.value, "business_date": business_date,
        "created_at": created, "performed_by": legs[0].get("performed_by"),
        "approval_id": None, "session_id": None, "legs": journal_legs, "reverses_id": None,
        "reversed_by": None, "description": legs[0].get("description"), "reference": None,
        "transfer_id": legs[0].get("transfer_id"), "lines": lines, "source": key,
    }, session=session)  # fmt: skip
    incs: dict[str, Any] = {}
    for currency, amount in totals.items():
        incs[f"totals.{original}.{currency}.count"] = 1
        incs[f"totals.{original}.{currency}.sum"] = Decimal128(amount)
    await DailyTotals.get_pymongo_collection().update_one(
        {"_id": business_date}, {"$inc": incs}, upsert=True, session=session
    )
    await _v1().update_many({"_id": {"$in": [raw["_id"] for raw in legs]}},
                            {"$set": {"migrated": True}}, session=session)  # fmt: skip
    return 1


async def _mark_done(made: int) -> None:
    await _state().update_one(
        {"_id": STATE_ID},
        {"$set": {"state": "done", "finished_at": now_ms()}, "$inc": {"entries": made}},
        upsert=True,
    )
