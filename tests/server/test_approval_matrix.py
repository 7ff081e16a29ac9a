"""Every covered action × every maker role that may ask for it × every outcome, in-process.

Each case sends the request the way its route does (tests/server/approval_world.py) and
checks that it answered 202 and did nothing yet; then one outcome:
- executed: a checker approves; the result is the maker's success answer, the effect is
  there, and the request's own audit events name the approval;
- failed: something the request relied on changed meanwhile, then a checker approves; the
  result is the refusal the maker would now get, and nothing of the request happened;
- rejected / cancelled: a checker rejects, or the maker cancels; nothing happened;
- expired: what the day's close does to its pending approvals (`end_pending`).
The real embedded database, no HTTP (DESIGN.md "Tests").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from server.db import EmbeddedDatabase, init_database, make_client
from server.documents.ledger import JournalEntry
from server.services import accounts, admin, users
from server.services.approvals import decisions, policies
from server.services.approvals.gate import ApprovalPending
from server.services.tills import sessions as tills
from server.services.views import ListParams
from shared.schemas.accounts import AccountAdminUpdate
from shared.schemas.approvals import ApprovalAction, ApprovalPublic, PolicyUpdate
from shared.schemas.common import AccountStatus, Role
from shared.schemas.tills import TillCashMove, VaultCash
from shared.schemas.transactions import MovementRequest, TransferCreate
from shared.schemas.users import UserUpdate
from tests.server.approval_world import World, build

AMOUNT = Decimal("150.00")
Check = Callable[[], Awaitable[None]]


@pytest.fixture(scope="module")
async def world(wire_db: EmbeddedDatabase) -> AsyncIterator[World]:
    """The module's branch on its own database."""
    client = make_client(wire_db.url)
    database = await init_database(client, "t_approval_matrix")
    yield await build(database)
    await client.close()


@dataclass
class Scenario:
    """One covered request, ready to send, and how to tell what became of it."""

    maker: str
    method: str
    path: str
    body: BaseModel
    checker: str
    spoil: Check  # change what the request relies on, so that its execution is refused
    refusal: str  # the code that execution then answers
    done: Check  # assert the request's effect
    untouched: Check  # assert the request had no effect
    success: int = 201


async def _nothing() -> None:
    return None


def checker_for(maker: str) -> str:
    """A supervisor who is not the maker."""
    return "super2" if maker == "super1" else "super1"


async def cash(world: World, role: str, action: ApprovalAction) -> Scenario:
    """A deposit or a withdrawal of 150.00 over a threshold of 100.00."""
    await world.thresholds(action)
    maker = world.by_role(role)
    name = next(n for n, c in world.people.items() if c is maker)
    deposit = action is ApprovalAction.DEPOSIT
    account = await world.account(fund=None if deposit else Decimal("1000.00"))
    before = await world.balance(account)
    change = AMOUNT if deposit else -AMOUNT

    async def spoil() -> None:
        if deposit:
            await world.admin_settings(account, status=AccountStatus.FROZEN)
        else:  # the money leaves by transfer (transfers need no approval in this case)
            body = TransferCreate(from_account_id=account, to_account_id=world.float_id,
                                  amount=Decimal("900.00"))  # fmt: skip
            assert not isinstance(await world.ask("admin", "POST", "/transfers", body),
                                  ApprovalPending)  # fmt: skip

    async def done() -> None:
        assert await world.balance(account) == before + change

    async def untouched() -> None:
        assert await world.balance(account) in (before, before - Decimal("900.00"))

    verb = "deposit" if deposit else "withdraw"
    return Scenario(
        maker=name, method="POST", path=f"/accounts/{account}/{verb}",
        body=MovementRequest(amount=AMOUNT), checker=checker_for(name), spoil=spoil,
        refusal="account_not_active" if deposit else "insufficient_funds", done=done,
        untouched=untouched,
    )  # fmt: skip


async def transfer(world: World, role: str) -> Scenario:
    """A transfer of 150.00 between two of the customer's accounts."""
    await world.thresholds(ApprovalAction.TRANSFER)
    maker = world.by_role(role)
    name = next(n for n, c in world.people.items() if c is maker)
    source = await world.account(fund=Decimal("1000.00"))
    target = await world.account()

    async def spoil() -> None:  # cash leaves by withdrawal (no approval in this case)
        body = MovementRequest(amount=Decimal("900.00"))
        assert not isinstance(await world.ask("admin", "POST", f"/accounts/{source}/withdraw",
                                              body), ApprovalPending)  # fmt: skip

    async def done() -> None:
        assert await world.balance(target) == AMOUNT

    async def untouched() -> None:
        assert await world.balance(target) == 0

    body = TransferCreate(from_account_id=source, to_account_id=target, amount=AMOUNT)
    return Scenario(maker=name, method="POST", path="/transfers", body=body,
                    checker=checker_for(name), spoil=spoil, refusal="insufficient_funds",
                    done=done, untouched=untouched)  # fmt: skip


async def vault_cash(world: World, role: str) -> Scenario:
    """An admin sends 100.00 back to the cash centre; meanwhile the vault is emptied."""
    await world.thresholds(None)
    code = "vault:USD"
    before = await world.ledger_balance(code)

    async def spoil() -> None:  # all but 50.00 into a till, and back after the decision
        await world.move("super1", "to_till", before - Decimal("50.00"))
        world.after.append(lambda: world.move("super1", "to_vault", before - Decimal("50.00")))

    async def done() -> None:
        assert await world.ledger_balance(code) == before - Decimal("100.00")
        world.after.append(lambda: world.vault_in(Decimal("100.00")))

    async def untouched() -> None:
        assert await world.ledger_balance(code) in (before, Decimal("50.00"))

    body = VaultCash(direction="out", currency="USD", amount=Decimal("100.00"), reference="back")
    return Scenario(maker="admin", method="POST", path="/vault/cash", body=body,
                    checker="super1", spoil=spoil, refusal="insufficient_funds", done=done,
                    untouched=untouched)  # fmt: skip


async def till_move(world: World, role: str, action: ApprovalAction) -> Scenario:
    """100.00 from a new teller's till to the vault: by that teller, or by someone else."""
    await world.thresholds(None)
    teller = await world.person("cashier", Role.TELLER)
    till = await world.till_for("cashier", Decimal("100.00"))
    account = await world.account(fund=Decimal("10.00"))
    maker = "cashier" if action is ApprovalAction.VAULT_TRANSFER else {
        "supervisor": "super1", "admin": "admin"}[role]  # fmt: skip
    checker = "super1" if maker == "cashier" else "cashier"
    assert teller.actor_id is not None

    async def spoil() -> None:  # the teller pays 1.00 out: the till no longer holds 100.00
        body = MovementRequest(amount=Decimal("1.00"))
        assert not isinstance(await world.ask("cashier", "POST",
                                              f"/accounts/{account}/withdraw", body),
                              ApprovalPending)  # fmt: skip

    async def done() -> None:
        assert (await tills.till_cash(till)).get("USD") == 0

    async def untouched() -> None:
        assert (await tills.till_cash(till)).get("USD") in (Decimal("100.00"), Decimal("99.00"))

    body = TillCashMove(direction="to_vault", currency="USD", amount=Decimal("100.00"))
    return Scenario(maker=maker, method="POST", path=f"/tills/{till}/cash", body=body,
                    checker=checker, spoil=spoil, refusal="till_insufficient_cash", done=done,
                    untouched=untouched)  # fmt: skip


async def policy_update(world: World, role: str) -> Scenario:
    """Lowering `hold.release` from 2 approvals to 1; meanwhile another change comes first."""
    action = ApprovalAction.HOLD_RELEASE
    await world.set_policy(action, approvals_required=2)
    current = await policies.get(action)

    async def spoil() -> None:
        await world.set_policy(action, approvals_required=3)

    async def done() -> None:
        assert (await policies.get(action)).approvals_required == 1

    async def untouched() -> None:
        assert (await policies.get(action)).approvals_required in (2, 3)

    body = PolicyUpdate(approvals_required=1, version=current.version)
    return Scenario(maker="admin", method="PUT", path=f"/approval-policies/{action.value}",
                    body=body, checker="super1", spoil=spoil, refusal="version_conflict",
                    done=done, untouched=untouched, success=200)  # fmt: skip


async def account_setting(world: World, role: str, action: ApprovalAction) -> Scenario:
    """Raising an overdraft, or unfreezing; meanwhile the account is closed."""
    account = await world.account()
    if action is ApprovalAction.ACCOUNT_UNFREEZE:
        await world.admin_settings(account, status=AccountStatus.FROZEN)
        body = AccountAdminUpdate(status=AccountStatus.ACTIVE)
    else:
        body = AccountAdminUpdate(overdraft_limit=Decimal("500.00"))

    async def read() -> Any:
        return await accounts.visible_account(world.ctx("admin"), account)

    async def spoil() -> None:
        await accounts.close_account(world.ctx("admin"), account)

    async def done() -> None:
        now = await read()
        assert (now.status, now.overdraft_limit) == (
            (AccountStatus.ACTIVE, Decimal("0.00"))
            if action is ApprovalAction.ACCOUNT_UNFREEZE
            else (AccountStatus.ACTIVE, Decimal("500.00"))
        )

    async def untouched() -> None:
        now = await read()
        assert now.overdraft_limit == 0
        assert now.status is not AccountStatus.ACTIVE or action is ApprovalAction.ACCOUNT_LIMITS

    return Scenario(maker="admin", method="PUT", path=f"/accounts/{account}/admin", body=body,
                    checker="super1", spoil=spoil, refusal="account_not_active", done=done,
                    untouched=untouched, success=200)  # fmt: skip


async def user_role(world: World, role: str) -> Scenario:
    """Making a customer a teller; meanwhile that customer is deleted."""
    target = await world.person("hire", Role.USER)
    target_id = target.actor_id
    assert target_id is not None

    async def spoil() -> None:
        await users.delete_user(world.ctx("admin"), target_id)

    async def role_now() -> Role:
        return (await world.refresh("hire")).role or Role.USER

    async def done() -> None:
        assert await role_now() is Role.TELLER

    async def untouched() -> None:
        assert await role_now() is Role.USER

    return Scenario(maker="admin", method="PUT", path=f"/users/{target_id}",
                    body=UserUpdate(role=Role.TELLER), checker="super1", spoil=spoil,
                    refusal="not_found", done=done, untouched=untouched,
                    success=200)  # fmt: skip


A = ApprovalAction
BUILDERS: dict[A, Callable[[World, str], Awaitable[Scenario]]] = {
    A.DEPOSIT: lambda w, r: cash(w, r, A.DEPOSIT),
    A.WITHDRAWAL: lambda w, r: cash(w, r, A.WITHDRAWAL),
    A.TRANSFER: transfer,
    A.VAULT_CASH: vault_cash,
    A.VAULT_TRANSFER: lambda w, r: till_move(w, r, A.VAULT_TRANSFER),
    A.TILL_RECEIVE: lambda w, r: till_move(w, r, A.TILL_RECEIVE),
    A.POLICY_UPDATE: policy_update,
    A.ACCOUNT_LIMITS: lambda w, r: account_setting(w, r, A.ACCOUNT_LIMITS),
    A.ACCOUNT_UNFREEZE: lambda w, r: account_setting(w, r, A.ACCOUNT_UNFREEZE),
    A.USER_ROLE: user_role,
}
# Who may ask for each covered action (API.md "Approvals" and each route's "who").
MAKERS: dict[A, tuple[str, ...]] = {
    A.DEPOSIT: ("user", "teller", "supervisor", "admin"),
    A.WITHDRAWAL: ("user", "teller", "supervisor", "admin"),
    A.TRANSFER: ("user", "teller", "supervisor", "admin"),
    A.VAULT_CASH: ("admin",),
    A.VAULT_TRANSFER: ("teller",),
    A.TILL_RECEIVE: ("supervisor", "admin"),
    A.POLICY_UPDATE: ("admin",),
    A.ACCOUNT_LIMITS: ("admin",),
    A.ACCOUNT_UNFREEZE: ("admin",),
    A.USER_ROLE: ("admin",),
}
OUTCOMES = ("executed", "failed", "rejected", "cancelled", "expired")
CASES = [
    pytest.param(action, role, outcome, id=f"{action.value}-{role}-{outcome}")
    for action, roles in MAKERS.items()
    for role in roles
    for outcome in OUTCOMES
]


async def events_of(approval_id: int) -> list[dict[str, Any]]:
    """The audit events of one approval, oldest first (GET /audit?approval_id=)."""
    page = await admin.list_audit(ListParams(limit=200), actor_id=None,
                                  action=None, target_type=None, target_id=None, since=None,
                                  until=None, approval_id=approval_id)  # fmt: skip
    return [event.model_dump() for event in page.items]


async def journals_of(approval_id: int) -> int:
    """How many journal entries an approval's execution posted."""
    count = await JournalEntry.get_pymongo_collection().count_documents(
        {"approval_id": approval_id}
    )
    return int(count)


def test_every_covered_action_is_in_the_matrix() -> None:
    built_elsewhere = {A.REVERSAL, A.TILL_VARIANCE, A.HOLD_RELEASE}  # their own engineers'
    assert set(MAKERS) == set(A) - built_elsewhere == set(BUILDERS)


@pytest.mark.parametrize(("action", "role", "outcome"), CASES)
async def test_covered_request(world: World, action: A, role: str, outcome: str) -> None:
    scenario = await BUILDERS[action](world, role)
    asked = await world.ask(scenario.maker, scenario.method, scenario.path, scenario.body)
    assert isinstance(asked, ApprovalPending), asked
    approval = asked.approval
    assert approval.action is action
    assert approval.maker_id == world.ctx(scenario.maker).actor_id
    await scenario.untouched()
    try:
        decided = await decide(world, scenario, approval, outcome)
    finally:
        for step in world.after:
            await step()
        world.after.clear()
    events = await events_of(approval.id)
    names = [event["action"] for event in events]
    assert names[0] == "approval.requested"
    own = [event for event in events if not event["action"].startswith("approval.")]
    if outcome == "executed":
        assert decided.status.value == "executed"
        assert decided.result is not None
        assert decided.result.status == scenario.success
        if action in (A.DEPOSIT, A.WITHDRAWAL):  # the maker's Transaction, made by approval
            assert decided.result.body["amount"] == "150.00"
            assert decided.result.body["approval_id"] == approval.id
        assert names[-1] == "approval.executed"
        # The request's own events were written as the maker, naming the approval.
        assert own, names
        assert {event["actor_id"] for event in own} == {approval.maker_id}
        assert all(event["details"]["approval_id"] == approval.id for event in own)
        return
    assert own == [], names
    assert await journals_of(approval.id) == 0
    await scenario.untouched()
    if outcome == "failed":
        assert decided.status.value == "failed"
        assert decided.result is not None
        assert decided.result.body["code"] == scenario.refusal, decided.result
        assert names[-2:] == ["approval.approved", "approval.failed"]
    else:
        assert decided.status.value == outcome
        assert names[-1] == f"approval.{outcome}"


async def decide(world: World, scenario: Scenario, approval: ApprovalPublic, outcome: str) -> Any:
    """Bring an approval to an outcome; for `executed`, check the effect."""
    if outcome == "executed":
        decided = await world.approve(scenario.checker, approval)
        await scenario.done()
        return decided
    if outcome == "failed":
        await scenario.spoil()
        return await world.approve(scenario.checker, approval)
    if outcome == "rejected":
        return await world.reject(scenario.checker, approval)
    if outcome == "cancelled":
        return await world.cancel(scenario.maker, approval)
    ctx = world.ctx("super1")
    ended = await ctx.db.transaction(lambda s: decisions.end_pending(
        ctx, s, {"_id": approval.id, "business_date": approval.business_date},
        status="expired", reason="day_closed",
    ))  # fmt: skip
    assert ended == 1
    expired = await decisions.get(ctx, approval.id)
    assert expired.expires_at is not None
    return expired
