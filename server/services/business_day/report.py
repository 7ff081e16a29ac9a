"""The day's report (API.md "Business day"): its parts, and its hash.

Everything is plain JSON as the answer carries it (amounts as strings, counts as integers,
users as ids), so the stored report is exactly what is hashed and served. The ledger's
parts come from one pass over the day's journal entries (the `business_date` index):
`movements`, `reversals`, `large_cash`, and the trial balance as the previous closed day's
plus the day's legs. The cash position is read off that trial balance, so it is the cash
at the end of the day even while the next date's first postings come in.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import Account
from server.documents.branch import ApprovalDoc, ClosedDayDoc, TellerSession, Till
from server.services.approvals import policies
from server.services.business_day.figures import Movements, TrialBalance, entries
from server.services.ledger import codes
from server.services.ledger.posting import dec
from shared.account_number import account_number
from shared.money import to_cents_str
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import iso_utc_ms
from shared.schemas.ledger import JournalKind
from shared.schemas.tills import CashPositionCurrency, CashPositionTill

ZERO = Decimal("0.00")
APPROVAL_OUTCOMES = ("executed", "rejected", "cancelled", "expired", "failed")
CASH = {JournalKind.DEPOSIT.value: ApprovalAction.DEPOSIT,
        JournalKind.WITHDRAWAL.value: ApprovalAction.WITHDRAWAL}  # fmt: skip


def canonical(report: dict[str, Any]) -> bytes:
    """Return the bytes a report's hash is taken of (API.md's definition, `hash` left out)."""
    body = {key: value for key, value in report.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hash_of(report: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of a report without its `hash`."""
    return hashlib.sha256(canonical(report)).hexdigest()


def json_safe(value: Any) -> Any:
    """Return a stored value as the API's JSON: money strings, ISO timestamps, no ObjectIds."""
    if isinstance(value, Decimal128 | Decimal):
        return to_cents_str(dec(value))
    if isinstance(value, datetime):
        return iso_utc_ms(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items() if k != "_id"}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _money_map(raw: dict[str, Any] | None) -> dict[str, str] | None:
    return None if raw is None else {cur: to_cents_str(dec(v)) for cur, v in sorted(raw.items())}


@dataclass
class DayPass:
    """What one pass over a day's journal entries collects."""

    movements: Movements = field(default_factory=Movements)
    reversals: list[dict[str, Any]] = field(default_factory=list)
    cash: dict[tuple[int, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    entries: int = 0


def _line(entry: dict[str, Any]) -> dict[str, Any]:
    """Return a report row for an entry's first customer line."""
    line = entry["lines"][0]
    number = account_number(int(line["account_id"]))
    leg = next(leg for leg in entry["legs"] if leg["account"] == number)
    return {
        "journal_id": int(entry["_id"]), "transaction_id": int(line["id"]), "account": number,
        "amount": to_cents_str(dec(leg["amount"])), "currency": str(leg["currency"]),
        "performed_by": entry.get("performed_by"), "session_id": entry.get("session_id"),
    }  # fmt: skip


async def day_pass(date: str, trial_balance: TrialBalance, *, first: bool) -> DayPass:
    """Read the day's entries once (all entries up to it for the first closed day)."""
    found = DayPass()
    query: dict[str, Any] = {"business_date": {"$lte": date} if first else date}
    async for entry in entries(query):
        trial_balance.add(entry)
        if entry["business_date"] != date:
            continue  # an entry of a day before the first closed one: in the balances only
        found.entries += 1
        found.movements.add(entry)
        if not entry.get("lines"):
            continue
        if entry["kind"] == JournalKind.REVERSAL.value:
            found.reversals.append(_line(entry))
        elif entry["kind"] in CASH:
            row = _line(entry)
            found.cash[(int(entry["lines"][0]["account_id"]), str(entry["kind"]))].append(row)
    return found


async def large_cash(found: DayPass) -> list[dict[str, Any]]:
    """Return the cash movements of accounts whose day's cash deposits or withdrawals reach
    the `deposit` / `withdrawal` threshold in force now."""
    thresholds = {kind: (await policies.get(action)).threshold or {}
                  for kind, action in CASH.items()}  # fmt: skip
    rows: list[dict[str, Any]] = []
    for (_account_id, kind), movements in found.cash.items():
        currency = movements[0]["currency"]
        total = sum((Decimal(row["amount"]) for row in movements), ZERO)
        threshold = thresholds[kind].get(currency)
        if threshold is not None and total >= threshold:
            rows.extend(movements)
    return sorted(rows, key=lambda row: (row["journal_id"], row["transaction_id"]))


async def customer_counts(before: datetime) -> dict[str, int]:
    """Count the customer accounts per currency opened before a moment."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"created_at": {"$lte": before}}},
        {"$group": {"_id": "$currency", "count": {"$sum": 1}}},
    ]
    counts: dict[str, int] = {}
    async for row in await Account.get_pymongo_collection().aggregate(pipeline):
        counts[str(row["_id"])] = int(row["count"])
    return counts


async def cash_position(trial_balance: dict[str, Any]) -> dict[str, Any]:
    """Return the vault's and every till's cash at the end of the day, per currency.

    API.md's `/cash-position` shape, read off the day's trial balance; every session is
    closed when a day closes, so no till has a session then.
    """
    names = {int(t["_id"]): str(t.get("name") or "") async for t in
             Till.get_pymongo_collection().find({}, projection={"name": 1})}  # fmt: skip
    position: dict[str, Any] = {}
    for currency, totals in trial_balance.items():
        vault = ZERO
        tills: list[CashPositionTill] = []
        for line in totals["accounts"]:
            code = str(line["account"])
            if code == codes.vault(currency):
                vault = Decimal(line["balance"])
            elif code.startswith("till:"):
                till_id = int(codes.parse(code)[1] or 0)
                tills.append(CashPositionTill(
                    till_id=till_id, name=names.get(till_id, f"Till {till_id}"),
                    cash=Decimal(line["balance"]), session_id=None, teller_id=None,
                ))  # fmt: skip
        accounts = {str(line["account"]) for line in totals["accounts"]}
        if codes.vault(currency) not in accounts and not tills:
            continue  # no cash of this currency was ever held
        tills.sort(key=lambda till: till.till_id)
        total = vault + sum((till.cash or ZERO for till in tills), ZERO)
        position[currency] = CashPositionCurrency(vault=vault, tills=tills, total=total).model_dump(
            mode="json"
        )
    return position


async def sessions_of(date: str) -> list[dict[str, Any]]:
    """Return the day's teller sessions (all closed by now), each with who approved its count."""
    docs = [doc async for doc in TellerSession.get_pymongo_collection().find(
        {"business_date": date}).sort("_id", 1)]  # fmt: skip
    approval_ids = sorted({int(d["approval_id"]) for d in docs if d.get("approval_id")})
    approvers: dict[int, int | None] = {}
    if approval_ids:
        async for approval in ApprovalDoc.get_pymongo_collection().find(
            {"_id": {"$in": approval_ids}}, projection={"status": 1, "decided_by": 1}
        ):
            executed = approval.get("status") == "executed"
            approvers[int(approval["_id"])] = approval.get("decided_by") if executed else None
    return [
        {
            "id": int(doc["_id"]), "till_id": int(doc["till_id"]),
            "teller_id": int(doc["teller_id"]), "opening": _money_map(doc.get("opening")) or {},
            "expected": _money_map(doc.get("expected_at_close", doc.get("expected"))),
            "counted": _money_map(doc.get("counted")),
            "variance": _money_map(doc.get("variance")),
            "approval_id": doc.get("approval_id"),
            "approved_by": approvers.get(int(doc["approval_id"])) if doc.get("approval_id")
            else None,
        }
        for doc in docs
    ]  # fmt: skip


async def vault_count(date: str) -> dict[str, Any] | None:
    """Return the day's last vault count (collection `vault_counts`), or None."""
    collection = ClosedDayDoc.get_pymongo_collection().database["vault_counts"]
    cursor = collection.find({"business_date": date}).sort("_id", -1).limit(1)
    async for doc in cursor:
        return {"id": json_safe(doc["_id"]), **json_safe(doc)}
    return None


async def approval_counts(date: str, session: AsyncClientSession) -> dict[str, int]:
    """Count the day's approvals by how they ended (read in the close's transaction)."""
    counts = dict.fromkeys(APPROVAL_OUTCOMES, 0)
    pipeline: list[dict[str, Any]] = [
        {"$match": {"business_date": date, "status": {"$in": list(APPROVAL_OUTCOMES)}}},
        {"$group": {"_id": "$status", "count": {"$sum": 1}}},
    ]
    cursor = await ApprovalDoc.get_pymongo_collection().aggregate(pipeline, session=session)
    async for row in cursor:
        counts[str(row["_id"])] = int(row["count"])
    return counts


async def previous_day(date: str) -> dict[str, Any] | None:
    """Return the closed day before `date` (the chain's last link), if any."""
    cursor = ClosedDayDoc.get_pymongo_collection().find({"_id": {"$lt": date}})
    async for doc in cursor.sort("_id", -1).limit(1):
        return dict(doc)
    return None


@dataclass
class Figures:
    """The parts of a day's report taken before its last transaction."""

    trial_balance: dict[str, Any]
    cash_position: dict[str, Any]
    vault_count: dict[str, Any] | None
    sessions: list[dict[str, Any]]
    movements: dict[str, Any]
    reversals: list[dict[str, Any]]
    large_cash: list[dict[str, Any]]
    previous_hash: str | None
    entries: int


async def compute(date: str, *, closing_since: datetime) -> Figures:
    """Take the day's figures: every entry dated `date` has committed by now."""
    previous = await previous_day(date)
    if previous is None:
        running = TrialBalance()
    else:
        running = TrialBalance.from_json(previous["report"]["trial_balance"])
    found = await day_pass(date, running, first=previous is None)
    found.reversals.sort(key=lambda row: (row["journal_id"], row["transaction_id"]))
    trial_balance = running.as_json(await customer_counts(closing_since))
    return Figures(
        trial_balance=trial_balance, cash_position=await cash_position(trial_balance),
        vault_count=await vault_count(date), sessions=await sessions_of(date),
        movements=found.movements.as_json(), reversals=found.reversals,
        large_cash=await large_cash(found),
        previous_hash=str(previous["hash"]) if previous is not None else None,
        entries=found.entries,
    )  # fmt: skip


def assemble(
    date: str,
    figures: Figures,
    *,
    closed_at: datetime,
    closed_by: int,
    approvals: dict[str, int],
) -> dict[str, Any]:
    """Return the whole report, hashed."""
    report: dict[str, Any] = {
        "date": date, "closed_at": iso_utc_ms(closed_at), "closed_by": closed_by,
        "trial_balance": figures.trial_balance, "cash_position": figures.cash_position,
        "vault_count": figures.vault_count, "sessions": figures.sessions,
        "movements": figures.movements, "reversals": figures.reversals,
        "large_cash": figures.large_cash, "approvals": approvals,
        "previous_hash": figures.previous_hash,
    }  # fmt: skip
    report["hash"] = hash_of(report)
    return report
