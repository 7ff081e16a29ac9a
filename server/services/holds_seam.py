"""The seam between holds and the services that end holds on their behalf.

- API.md "Reversals": an active hold whose `reference` is the reversed Transaction's id is
  released in the reversal's transaction (`release_referencing`).
- API.md "Holds": `hold.expired` is written at the latest by the day's close
  (`sweep_expired`, in the close's transaction).

Holds are built beside this (branch `holds`: `holds.release_for_reversal` and
`hold_expiry.sweep_expired`). When those modules are there, this seam calls them; until
they are merged it does the same on the same documents (the hold, and the account's
`held` and `hold_expires_at`), so the reversal and the close never change either way.
Once both branches are in, the fallbacks below can go.
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import ModuleType
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents import Account
from server.documents.branch import Hold
from server.services import audit
from server.services.audit import Action
from server.services.context import Ctx
from server.services.ledger.posting import dec
from shared.schemas.common import now_ms


def _service(name: str) -> ModuleType | None:
    """Return server.services.<name> when the holds service provides it, else None."""
    try:
        return importlib.import_module(f"server.services.{name}")
    except ModuleNotFoundError:
        return None


async def release_for_reversal(
    ctx: Ctx, session: AsyncClientSession, transaction_ids: list[int]
) -> int:
    """Release the active holds whose `reference` is one of the reversed Transactions' ids.

    Call it after posting the reversal: it changes the accounts' `held`, which the
    reversal's legs guard on.
    """
    holds = _service("holds")
    if holds is not None and hasattr(holds, "release_for_reversal"):
        released = 0
        for transaction_id in transaction_ids:
            released += len(await holds.release_for_reversal(ctx, session, transaction_id))
        return released
    return await release_referencing(ctx, session, [str(t) for t in transaction_ids])


async def sweep_expired(ctx: Ctx, session: AsyncClientSession, *, at: Any) -> int:
    """Expire every hold past its `expires_at` (the day's close calls it in its transaction)."""
    expiry = _service("hold_expiry")
    if expiry is not None and hasattr(expiry, "sweep_expired"):
        return int(await expiry.sweep_expired(ctx, session, at=at))
    return await _sweep_expired(ctx, session, at=at)


async def release_referencing(
    ctx: Ctx, session: AsyncClientSession, references: list[str], *, reason: str = "reversal"
) -> int:
    """Release every active, unexpired hold whose reference is one of `references`."""
    if not references:
        return 0
    now = now_ms()
    holds = Hold.get_pymongo_collection()
    found = [doc async for doc in holds.find(
        {"reference": {"$in": references}, "status": "active"}, session=session
    )]  # fmt: skip
    released = 0
    for doc in found:
        if doc.get("expires_at") is not None and doc["expires_at"] <= now:
            continue  # an expired hold no longer counts: the holds sweep records it
        await holds.update_one(
            {"_id": doc["_id"], "status": "active"},
            {"$set": {"status": "released", "released_by": ctx.actor_id, "released_at": now,
                      "note": reason}},
            session=session,
        )  # fmt: skip
        await _recount(session, int(doc["account_id"]), dec(doc["amount"]), now)
        await audit.record(
            ctx, action=Action.HOLD_RELEASED, session=session, target_type="hold",
            target_id=int(doc["_id"]),
            details={"account_id": doc["account_id"], "amount": format(dec(doc["amount"]), "f"),
                     "reason": reason},
        )  # fmt: skip
        released += 1
    return released


async def _sweep_expired(ctx: Ctx, session: AsyncClientSession, *, at: Any) -> int:
    """Mark every active hold past its `expires_at` expired, with its `hold.expired` event."""
    holds = Hold.get_pymongo_collection()
    found = [doc async for doc in holds.find(
        {"status": "active", "expires_at": {"$ne": None, "$lte": at}}, session=session
    )]  # fmt: skip
    for doc in found:
        await holds.update_one({"_id": doc["_id"], "status": "active"},
                               {"$set": {"status": "expired"}}, session=session)  # fmt: skip
        await _recount(session, int(doc["account_id"]), dec(doc["amount"]), at)
        await audit.record(
            ctx, action=Action.HOLD_EXPIRED, session=session, target_type="hold",
            target_id=int(doc["_id"]),
            details={"account_id": doc["account_id"], "amount": format(dec(doc["amount"]), "f")},
        )  # fmt: skip
    return len(found)


async def _recount(session: AsyncClientSession, account_id: int, amount: Decimal, now: Any) -> None:
    """Take a hold that stopped counting off the account's `held`; recompute its next expiry."""
    nearest = None
    cursor = Hold.get_pymongo_collection().find(
        {"account_id": account_id, "status": "active"}, session=session
    )
    async for other in cursor:
        expires = other.get("expires_at")
        if expires is not None and expires > now and (nearest is None or expires < nearest):
            nearest = expires
    await Account.get_pymongo_collection().update_one(
        {"_id": account_id},
        {"$inc": {"held": Decimal128(-amount)}, "$set": {"hold_expires_at": nearest}},
        session=session,
    )
