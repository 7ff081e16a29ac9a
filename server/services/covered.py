"""The covered routes an approval can execute: registered here, executed by the registry.

Each entry parses the frozen body with its route's schema and calls the very service body
the route calls, so an approved request obeys every rule the direct one does.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.errors import forbidden
from server.services import accounts, audit, holds, movements, reversals, users
from server.services.approvals import policies
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.approvals.registry import CoveredRoute, on_cancel, on_reject, register
from server.services.audit import Action
from server.services.context import Ctx
from server.services.tills import closing, vault, vault_count
from server.services.tills import sessions as tills
from shared.schemas.accounts import AccountAdminUpdate
from shared.schemas.approvals import ApprovalAction, PolicyPublic, PolicyUpdate
from shared.schemas.holds import HoldRelease
from shared.schemas.tills import (
    SessionClose,
    SessionOpen,
    TillCashMove,
    VaultCash,
    VaultCountRequest,
)
from shared.schemas.transactions import (
    MovementRequest,
    ReversalRequest,
    TransactionType,
    TransferCreate,
)
from shared.schemas.users import UserUpdate


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


async def _open(ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any) -> Any:
    return await tills.open_public_body(ctx, session, int(params["till_id"]), body)


async def _close(ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any) -> Any:
    return await closing.close_public_body(ctx, session, int(params["session_id"]), body)


async def _vault_count(
    ctx: Ctx, session: AsyncClientSession, _params: dict[str, str], body: Any
) -> Any:
    return await vault_count.vault_count_body(ctx, session, body)


async def _variance_ended(ctx: Ctx, session: AsyncClientSession, approval: dict[str, Any]) -> None:
    # A count that was not approved: the session reopens with it in `counts`; a vault
    # count is marked with how its approval ended. An opening count leaves nothing behind.
    await closing.reopen(ctx, session, approval)
    await vault_count.count_ended(ctx, session, approval)


async def _account_settings(
    ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any
) -> Any:
    if not ctx.is_admin:  # the route's own role check (AdminCtx), for a maker demoted since
        raise forbidden("only admins change an account's settings")
    return await accounts.admin_update(ctx, int(params["account_id"]), body, session=session)


async def _user_update(
    ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any
) -> Any:
    return await users.update_user(ctx, int(params["user_id"]), body, session=session)


async def _reverse(ctx: Ctx, session: AsyncClientSession, params: dict[str, str], body: Any) -> Any:
    return await reversals.reversal_body(ctx, session, int(params["transaction_id"]), body)


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
    register(CoveredRoute("POST", "/tills/{till_id}/sessions", SessionOpen, _open))
    register(CoveredRoute("POST", "/sessions/{session_id}/close", SessionClose, _close,
                          status=200))  # fmt: skip
    register(CoveredRoute("POST", "/vault/count", VaultCountRequest, _vault_count, status=200))
    on_reject(ApprovalAction.TILL_VARIANCE.value, _variance_ended)
    on_cancel(ApprovalAction.TILL_VARIANCE.value, _variance_ended)
    register(CoveredRoute("PUT", "/accounts/{account_id}/admin", AccountAdminUpdate,
                          _account_settings, status=200))  # fmt: skip
    # POST /users with a staff role never waits: it carries a password (422 while covered).
    register(CoveredRoute("PUT", "/users/{user_id}", UserUpdate, _user_update, status=200))
    register(CoveredRoute("POST", "/transactions/{transaction_id}/reverse", ReversalRequest,
                          _reverse))  # fmt: skip
    register(CoveredRoute("POST", "/holds/{hold_id}/release", HoldRelease, _release_hold,
                          status=200))  # fmt: skip


register_all()
