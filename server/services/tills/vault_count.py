"""Counting the vault (POST /vault/count): compare with the ledger, post a difference.

Every count is stored in `vault_counts` ({_id, business_date, counted, expected, variance,
note, at, by, approval_id, journal_id, status}) so the day's report carries the last one.
A count equal to the vault's cash is `balanced`. A difference waits for approval
`till.variance` (`pending`); its execution posts exactly the difference found at the count
(later cash moves change the vault and the ledger alike) to over/short (`posted`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.branch import VaultCount
from server.documents.ledger import LedgerAccount
from server.errors import forbidden, refused
from server.services import audit, calendar
from server.services.approvals.gate import ApprovalPending, Covered, executing, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.ledger.posting import dec
from server.services.tills import counts
from shared.errors import ErrorCode
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import iso_utc_ms, now_ms
from shared.schemas.tills import VaultCountRequest, VaultCountResult

VAULT_PATH = re.compile(r"^/vault/count$")
# The statuses of a count that stands (the report's "last vault count").
EFFECTIVE = ("balanced", "posted")


def vault_counts() -> Any:
    """Return the vault counts collection."""
    return VaultCount.get_pymongo_collection()


async def vault_cash(session: AsyncClientSession | None = None) -> dict[str, Decimal]:
    """Return the vault's cash per currency (currencies it never held are left out)."""
    cash: dict[str, Decimal] = {}
    cursor = LedgerAccount.get_pymongo_collection().find({"kind": "asset"}, session=session)
    async for account in cursor:
        if str(account["_id"]).startswith("vault:"):
            cash[account["currency"]] = dec(account["balance"])
    return cash


def _result(doc: dict[str, Any]) -> VaultCountResult:
    return VaultCountResult(counted=counts.loaded(doc["counted"]),
                            expected=counts.loaded(doc["expected"]),
                            variance=counts.loaded(doc["variance"]))  # fmt: skip


async def _record(
    ctx: Ctx, session: AsyncClientSession, doc: dict[str, Any], journal_id: int | None
) -> None:
    await audit.record(
        ctx, action=Action.VAULT_COUNTED, session=session, target_type="vault_count",
        target_id=int(doc["_id"]),
        details={"status": doc["status"], "approval_id": doc.get("approval_id"),
                 "journal_id": journal_id,
                 "variance": {c: format(v, "f")
                              for c, v in counts.loaded(doc["variance"]).items() if v != 0}},
    )  # fmt: skip


async def _post(
    ctx: Ctx, session: AsyncClientSession, variance: dict[str, Decimal], count_id: int
) -> int | None:
    counts.require_cover(variance, await vault_cash(session), vault=True, blind=False)
    posted = await counts.post_variance(
        ctx, session, variance, till=None, session_id=None,
        description=f"Vault count {count_id}: {counts.describe(variance)}",
    )  # fmt: skip
    return int(posted.journal["_id"]) if posted is not None else None


async def vault_count_body(
    ctx: Ctx, session: AsyncClientSession, data: VaultCountRequest
) -> VaultCountResult | ApprovalPending:
    """Count the vault: store the count; post a difference, through approval when covered."""
    if not ctx.is_supervisor:  # re-checked at execution: the maker may have been demoted
        raise forbidden("only supervisors and admins count the vault")
    counts.check_count_amounts(data.counted)
    if executing(ctx, ApprovalAction.TILL_VARIANCE) and ctx.approval is not None:
        found = await vault_counts().find_one(
            {"approval_id": ctx.approval["_id"], "status": "pending"}, session=session
        )
        if found is None:  # never a fresh count in place of the one that was approved
            raise refused(ErrorCode.APPROVAL_NOT_PENDING, "the vault count is no longer pending",
                          approval_id=ctx.approval["_id"])  # fmt: skip
        journal_id = await _post(ctx, session, counts.loaded(found["variance"]),
                                 int(found["_id"]))  # fmt: skip
        await vault_counts().update_one(
            {"_id": found["_id"]},
            {"$set": {"status": "posted", "journal_id": journal_id}}, session=session,
        )  # fmt: skip
        done = {**found, "status": "posted"}
        await _record(ctx, session, done, journal_id)
        return _result(done)
    expected = await vault_cash(session)
    counts.require_complete(data.counted, expected)
    variance = counts.differences(data.counted, expected)
    doc: dict[str, Any] = {
        "business_date": await calendar.posting_date(session),
        "counted": counts.stored(data.counted), "expected": counts.stored(expected),
        "variance": counts.stored(variance), "note": data.note, "at": now_ms(),
        "by": ctx.actor_id, "approval_id": None, "journal_id": None, "status": "balanced",
    }  # fmt: skip
    pending = None
    if counts.differs(variance):
        counts.require_cover(variance, expected, vault=True, blind=False)
        moved = [(c, v) for c, v in variance.items() if v != 0]
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.TILL_VARIANCE,
            amount=abs(moved[0][1]) if len(moved) == 1 else None,
            currency=moved[0][0] if len(moved) == 1 else None,
            summary=f"Vault count: {counts.describe(variance)}",
        ))  # fmt: skip
    count_id = await ctx.db.next_id("vault_counts", session=session)
    doc["_id"] = count_id
    if pending is not None:
        doc.update(status="pending", approval_id=pending.approval.id)
        await vault_counts().insert_one(doc, session=session)
        return pending
    if counts.differs(variance):  # till.variance is turned off: post at once
        doc.update(status="posted", journal_id=await _post(ctx, session, variance, count_id))
    await vault_counts().insert_one(doc, session=session)
    await _record(ctx, session, doc, doc["journal_id"])
    return _result(doc)


async def count_ended(ctx: Ctx, session: AsyncClientSession, approval: dict[str, Any]) -> None:
    """Mark a vault count whose approval was rejected, cancelled or expired."""
    if not VAULT_PATH.match(str(approval["request"]["path"])):
        return
    await vault_counts().update_one(
        {"approval_id": approval["_id"], "status": "pending"},
        {"$set": {"status": approval["status"]}}, session=session,
    )  # fmt: skip


def count_public(doc: dict[str, Any]) -> dict[str, Any]:
    """Return a stored vault count as JSON (money as strings): what the day's report carries."""
    return {
        "id": int(doc["_id"]), "business_date": doc["business_date"],
        "counted": {c: format(v, "f") for c, v in counts.loaded(doc["counted"]).items()},
        "expected": {c: format(v, "f") for c, v in counts.loaded(doc["expected"]).items()},
        "variance": {c: format(v, "f") for c, v in counts.loaded(doc["variance"]).items()},
        "note": doc.get("note"), "at": iso_utc_ms(doc["at"]), "by": doc.get("by"),
        "approval_id": doc.get("approval_id"), "journal_id": doc.get("journal_id"),
        "status": doc["status"],
    }  # fmt: skip


async def last_vault_count(
    business_date: str, session: AsyncClientSession | None = None
) -> dict[str, Any] | None:
    """Return the last count of a business date that stands (balanced or posted), or None."""
    found = await vault_counts().find_one(
        {"business_date": business_date, "status": {"$in": list(EFFECTIVE)}},
        sort=[("_id", -1)], session=session,
    )  # fmt: skip
    return count_public(dict(found)) if found is not None else None
