"""The covered routes an approval can execute: registered here, executed by the registry.

Each entry parses the frozen body with its route's schema and calls the very service body
the route calls, so an approved request obeys every rule the direct one does.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.services import audit, holds, movements
from server.services.approvals import policies
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.approvals.registry import CoveredRoute, register
from server.services.audit import Action
from server.services.context import Ctx
from server.services.tills import vault
from shared.schemas.approvals import ApprovalAction, PolicyPublic, PolicyUpdate
from shared.schemas.holds import HoldRelease
from shared.schemas.tills import TillCashMove, VaultCash
from shared.schemas.transactions import MovementRequest, TransactionType, TransferCreate


async def _cash(
    ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any, kind: TransactionType
) -> Any:
    return await movements.cash_body(
        ctx, ctx.settings, session, account_id=int(params["account_id"]), kind=kind,
        amount=body.amount, description=body.description,
    )  # fmt: skip


async def _deposit(ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any) -> Any:
    return await _cash(ctx, session, params, body, TransactionType.DEPOSIT)


async def _withdraw(
    ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any
) -> Any:
    return await _cash(ctx, session, params, body, TransactionType.WITHDRAWAL)


async def _transfer(
    ctx: Ctx, session: AsyncClientSession, _params: dict[str, str], body: Any
) -> Any:
    return await movements.transfer_body(ctx, session, body)


async def update_policy_body(
    ctx: Ctx, session: AsyncClientSession, action: ApprovalAction, data: PolicyUpdate
) -> PolicyPublic | ApprovalPending:
    """Change a policy; a change that weakens it waits for approval `policy.update`."""
    current = await policies.get(action, session)
    policies.check_update(action, current, data)
    if policies.weakens(current, data):
        pending = await gate(ctx, session, Covered(
            action=ApprovalAction.POLICY_UPDATE, always=True,
            summary=f"Weaken the approval policy {action.value}",
        ))  # fmt: skip
        if pending is not None:
            return pending
    updated = await policies.apply(action, data, session)
    await audit.record(
        ctx, action=Action.POLICY_UPDATED, session=session, target_type="policy",
        details={"action": action.value, "version": updated.version,
                 "changes": data.model_dump(mode="json", exclude={"version"},
                                            exclude_none=True)},
    )  # fmt: skip
    return updated


async def _policy(ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any) -> Any:
    return await update_policy_body(ctx, session, ApprovalAction(params["action"]), body)


async def _vault_cash(
    ctx: Ctx, session: AsyncClientSession, _params: dict[str, str], body: Any
) -> Any:
    return await vault.vault_cash_body(ctx, session, body)


async def _till_cash(
    ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any
) -> Any:
    return await vault.till_cash_body(ctx, session, int(params["till_id"]), body)


async def _release_hold(
    ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any
) -> Any:
    return await holds.release_body(ctx, session, int(params["hold_id"]), body)


def register_all() -> None:
    """Register every covered route (idempotent)."""
    register(CoveredRoute("POST", "/accounts/{account_id}/deposit", MovementRequest, _deposit))
    register(CoveredRoute("POST", "/accounts/{account_id}/withdraw", MovementRequest, _withdraw))
    register(CoveredRoute("POST", "/transfers", TransferCreate, _transfer))
    register(CoveredRoute("PUT", "/approval-policies/{action}", PolicyUpdate, _policy, status=200))
    register(CoveredRoute("POST", "/vault/cash", VaultCash, _vault_cash))
    register(CoveredRoute("POST", "/tills/{till_id}/cash", TillCashMove, _till_cash))
    register(CoveredRoute("POST", "/holds/{hold_id}/release", HoldRelease, _release_hold,
                          status=200))  # fmt: skip


register_all()
