"""Cash between the cash centre, the vault and the tills.

- `/vault/cash`: cash delivered by or returned to the cash centre, against `head_office`;
  admins only, always through approval `vault.cash`.
- `/tills/{id}/cash`: cash between the vault and a till. Supervisors and admins move it;
  a teller only for the till of their own open session, through approval `vault.transfer`.
  On a till whose open session is someone else's, the move waits for that teller's
  acceptance (approval `till.receive`, whose only checker is that teller), and then counts
  in the session's expected cash and journal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo.asynchronous.client_session import AsyncClientSession

from server.documents.branch import TellerSession, Till
from server.documents.ledger import LedgerAccount
from server.errors import forbidden, not_found, refused
from server.services import audit, calendar
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.audit import Action
from server.services.context import Ctx
from server.services.ledger import codes, posting, reading
from server.services.ledger.posting import LegSpec, Posting, dec
from server.services.tills.cash import open_session_of, require_cash_amount
from shared.errors import ErrorCode
from shared.money import SUPPORTED_CURRENCIES, format_money
from shared.schemas.approvals import ApprovalAction
from shared.schemas.ledger import JournalKind, JournalPublic, Side
from shared.schemas.tills import TillCashMove, VaultCash

ZERO = Decimal("0.00")


def require_currency(currency: str) -> None:
    """Refuse a currency the bank does not keep (422 unsupported_currency)."""
    if currency not in SUPPORTED_CURRENCIES:
        raise refused(ErrorCode.UNSUPPORTED_CURRENCY, f"currency {currency!r} is not supported",
                      currency=currency, supported=list(SUPPORTED_CURRENCIES))  # fmt: skip


async def balance_of(code: str, session: AsyncClientSession) -> Decimal:
    """Return an internal account's balance (zero before its first leg)."""
    raw = await LedgerAccount.get_pymongo_collection().find_one({"_id": code}, session=session)
    return dec(raw["balance"]) if raw is not None else ZERO


def _guarded_credit(code: str, amount: Decimal, currency: str, **extra: Any) -> LegSpec:
    return LegSpec(code, Side.CREDIT, amount, currency, upsert=False,
                   guard={"balance": {"$gte": Decimal128(amount)}}, **extra)  # fmt: skip


async def vault_cash_body(
    ctx: Ctx, session: AsyncClientSession, data: VaultCash
) -> JournalPublic | ApprovalPending:
    """Take cash into the vault from the cash centre, or send it back."""
    if not ctx.is_admin:
        raise forbidden("only admins move cash between the vault and the cash centre")
    require_currency(data.currency)
    require_cash_amount(data.amount, data.currency)
    vault = codes.vault(data.currency)
    if data.direction == "out":
        held = await balance_of(vault, session)
        if data.amount > held:
            raise refused(ErrorCode.INSUFFICIENT_FUNDS, "the vault does not hold that much",
                          available=held, requested=data.amount,
                          currency=data.currency)  # fmt: skip
    word = "into" if data.direction == "in" else "out of"
    pending = await gate(ctx, session, Covered(
        action=ApprovalAction.VAULT_CASH, only_through_approval=True, amount=data.amount,
        currency=data.currency,
        summary=f"Cash {format_money(data.amount, data.currency)} {word} the vault "
                f"({data.reference})",
    ))  # fmt: skip
    if pending is not None:
        return pending
    office = codes.head_office(data.currency)
    if data.direction == "in":
        legs = [LegSpec(vault, Side.DEBIT, data.amount, data.currency),
                LegSpec(office, Side.CREDIT, data.amount, data.currency)]  # fmt: skip
        kind, action = JournalKind.VAULT_IN, Action.VAULT_CASH_IN
    else:
        legs = [LegSpec(office, Side.DEBIT, data.amount, data.currency),
                _guarded_credit(vault, data.amount, data.currency)]  # fmt: skip
        kind, action = JournalKind.VAULT_OUT, Action.VAULT_CASH_OUT
    posted = await posting.post(ctx, session, Posting(
        kind=kind, legs=legs, business_date=await calendar.posting_date(session),
        performed_by=ctx.actor_id, reference=data.reference, description=data.reference,
        approval_id=int(ctx.approval["_id"]) if ctx.approval else None,
    ))  # fmt: skip
    await audit.record(
        ctx, action=action, session=session, target_type="journal",
        target_id=posted.journal["_id"],
        details={"amount": format(data.amount, "f"), "currency": data.currency,
                 "reference": data.reference},
    )  # fmt: skip
    return reading.journal_public(posted.journal)


async def till_cash_body(
    ctx: Ctx, session: AsyncClientSession, till_id: int, data: TillCashMove
) -> JournalPublic | ApprovalPending:
    """Move cash between the vault and a till."""
    assert ctx.actor is not None
    require_currency(data.currency)
    till = await Till.get_pymongo_collection().find_one({"_id": till_id}, session=session)
    if till is None:
        raise not_found("till not found")
    current = None
    if till.get("session_id") is not None:
        found = await TellerSession.get_pymongo_collection().find_one(
            {"_id": till["session_id"]}, session=session
        )
        current = dict(found) if found is not None else None
    teller_move = not ctx.is_supervisor
    if teller_move:
        mine = await open_session_of(ctx.actor.id, session)
        if mine is None or mine["till_id"] != till_id:
            raise forbidden("tellers move cash only for the till of their own open session")
    if till.get("status") != "active":
        raise refused(ErrorCode.TILL_IN_USE, "the till is retired", till_id=till_id)
    if current is not None and current["status"] == "closing":
        raise refused(ErrorCode.SESSION_CLOSING, "the till's session is being closed",
                      session_id=current["_id"])  # fmt: skip
    require_cash_amount(data.amount, data.currency)
    till_code = codes.till(till_id, data.currency)
    vault = codes.vault(data.currency)
    if data.direction == "to_till":
        held = await balance_of(vault, session)
        if data.amount > held:
            raise refused(ErrorCode.INSUFFICIENT_FUNDS, "the vault does not hold that much",
                          available=held, requested=data.amount,
                          currency=data.currency)  # fmt: skip
    else:
        held = await balance_of(till_code, session)
        if data.amount > held:
            blind = current is not None and current["teller_id"] == ctx.actor.id
            raise refused(ErrorCode.TILL_INSUFFICIENT_CASH, "the till does not hold that much",
                          currency=data.currency, requested=data.amount,
                          available=None if blind or not ctx.is_supervisor else held)  # fmt: skip
    someone_else = current is not None and current["teller_id"] != ctx.actor.id
    word = "to" if data.direction == "to_till" else "from"
    summary = (f"Move {format_money(data.amount, data.currency)} {word} "
               f"{till.get('name') or f'till {till_id}'} {'from' if word == 'to' else 'to'} "
               "the vault")  # fmt: skip
    if someone_else and current is not None:
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.TILL_RECEIVE, always=True, amount=data.amount,
            currency=data.currency, session_id=int(current["_id"]),
            checker_id=int(current["teller_id"]), summary=summary,
        ))  # fmt: skip
    else:
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.VAULT_TRANSFER, amount=data.amount, currency=data.currency,
            session_id=int(current["_id"]) if current else None, summary=summary,
            only_through_approval=True,
        )) if teller_move else None  # fmt: skip
    if pending is not None:
        return pending
    till_name = str(till.get("name") or "")
    if data.direction == "to_till":
        legs = [LegSpec(till_code, Side.DEBIT, data.amount, data.currency, till_id=till_id,
                        till_name=till_name),
                _guarded_credit(vault, data.amount, data.currency)]  # fmt: skip
        kind, action = JournalKind.VAULT_TO_TILL, Action.CASH_TO_TILL
    else:
        legs = [LegSpec(vault, Side.DEBIT, data.amount, data.currency),
                _guarded_credit(till_code, data.amount, data.currency, till_id=till_id,
                                till_name=till_name)]  # fmt: skip
        kind, action = JournalKind.TILL_TO_VAULT, Action.CASH_TO_VAULT
    posted = await posting.post(ctx, session, Posting(
        kind=kind, legs=legs, business_date=await calendar.posting_date(session),
        performed_by=ctx.actor_id, reference=data.reference, description=data.reference,
        session_id=int(current["_id"]) if current else None,
        approval_id=int(ctx.approval["_id"]) if ctx.approval else None,
    ))  # fmt: skip
    await audit.record(
        ctx, action=action, session=session, target_type="till", target_id=till_id,
        details={"amount": format(data.amount, "f"), "currency": data.currency,
                 "journal_id": posted.journal["_id"],
                 "session_id": current["_id"] if current else None},
    )  # fmt: skip
    return reading.journal_public(posted.journal)
