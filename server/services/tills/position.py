"""The bank's cash position: per currency, the vault, every till that held it, and the total.

One function serves `GET /cash-position` and the end-of-day report. The route blinds the
till of the caller's own open session (its cash and the currency's total are null); the
report, computed when every session is closed, sees everything.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.ledger import LedgerAccount
from server.services.ledger.posting import dec
from server.services.tills.sessions import sessions, tills
from shared.schemas.tills import CashPositionCurrency, CashPositionTill

ZERO = Decimal("0.00")


async def cash_position(
    session: AsyncClientSession | None = None, *, blind_till_id: int | None = None
) -> dict[str, CashPositionCurrency]:
    """Return the cash in the vault and the tills per currency, read in `session` if given."""
    vault: dict[str, Decimal] = {}
    held: dict[str, dict[int, Decimal]] = defaultdict(dict)
    # Cash accounts are assets; the (kind, _id) index serves this on MongoDB too.
    cursor = LedgerAccount.get_pymongo_collection().find({"kind": "asset"}, session=session)
    async for account in cursor:
        code = str(account["_id"])
        if code.startswith("vault:"):
            vault[account["currency"]] = dec(account["balance"])
        elif account.get("till_id") is not None:
            held[account["currency"]][int(account["till_id"])] = dec(account["balance"])
    known = {int(t["_id"]): dict(t) async for t in tills().find({}, session=session)}
    tellers: dict[int, int] = {}
    for known_till in known.values():  # by `_id`: a branch runs a few sessions at once
        if known_till.get("session_id") is not None:
            found = await sessions().find_one({"_id": known_till["session_id"]}, session=session)
            if found is not None:
                tellers[int(found["_id"])] = int(found["teller_id"])
    position: dict[str, CashPositionCurrency] = {}
    for currency in sorted(set(vault) | set(held)):
        lines: list[CashPositionTill] = []
        total: Decimal | None = vault.get(currency, ZERO)
        for till_id, cash in sorted(held[currency].items()):
            till: dict[str, Any] = known.get(till_id, {"name": f"Till {till_id}"})
            session_id = till.get("session_id")
            blind = till_id == blind_till_id
            lines.append(CashPositionTill(
                till_id=till_id, name=str(till["name"]), cash=None if blind else cash,
                session_id=session_id,
                teller_id=tellers.get(int(session_id)) if session_id is not None else None,
            ))  # fmt: skip
            total = None if blind or total is None else total + cash
        position[currency] = CashPositionCurrency(
            vault=vault.get(currency, ZERO), tills=lines, total=total
        )
    return position
