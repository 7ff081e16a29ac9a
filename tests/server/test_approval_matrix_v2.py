"""The approval matrix for `reversal`, `till.variance` and `hold.release`, in-process.

The same cases as tests/server/test_approval_matrix.py (its World, Scenario and `decide`),
for the actions it leaves to their own engineers. `till.variance` has three requests: a
session's closing count, an opening count and a vault count. Outcomes that cannot happen
are left out, each with its reason in `OUTCOMES`; the maker's cancel of a `till.variance`
approval is refused (API.md "Tills and teller sessions"), so its `cancelled` case checks
that refusal instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from server.db import EmbeddedDatabase, init_database, make_client
from server.documents import Account
from server.documents.ledger import JournalEntry, TransactionRef
from server.errors import DomainError
from server.services import holds
from server.services.approvals import registry
from server.services.approvals.gate import ApprovalPending
from server.services.ledger.posting import dec
from server.services.tills import sessions as tills
from server.services.tills import vault, vault_count
from shared.schemas.approvals import ApprovalAction, ApprovalPublic
from shared.schemas.common import Role
from shared.schemas.holds import HoldCreate, HoldReason, HoldRelease
from shared.schemas.tills import SessionClose, SessionOpen, TillCashMove, VaultCountRequest
from shared.schemas.transactions import ReversalRequest, TransferCreate
from tests.ledger_checks import check_ledger
from tests.server.approval_world import World, build, frozen
from tests.server.test_approval_matrix import (
    AMOUNT,
    Scenario,
    checker_for,
    decide,
    events_of,
    journals_of,
)

A = ApprovalAction


@pytest.fixture(scope="module")
async def world(wire_db: EmbeddedDatabase) -> AsyncIterator[World]:
    """The module's branch on its own database."""
    client = make_client(wire_db.url)
    database = await init_database(client, "t_approval_matrix_v2")
    yield await build(database)
    await client.close()


async def send(world: World, name: str, method: str, path: str, body: BaseModel) -> Any:
    """Send a request as its route does: frozen on the context, the route's service body.

    The covered routes' registry (server/services/covered.py) names that body; the route
    runs it in one transaction, as here.
    """
    ctx = replace(world.ctx(name), request=frozen(method, path, body))
    route, params = registry.route_for(method, path)
    return await ctx.db.transaction(lambda session: route.execute(ctx, session, params, body))


def maker_named(world: World, role: str) -> str:
    """Return the name of the world's maker of a role."""
    maker = world.by_role(role)
    return next(name for name, ctx in world.people.items() if ctx is maker)


async def stocked_till(world: World, stock: Decimal) -> int:
    """Create a till holding `stock` USD from the vault, with no session on it."""
    manager = world.ctx("admin")
    till = await tills.create_till(manager, name=f"Spare till {stock}", cash_limit=None)
    till_id = int(till["_id"])
    move = TillCashMove(direction="to_till", currency="USD", amount=stock)
    await world.db.transaction(lambda s: vault.till_cash_body(manager, s, till_id, move))
    return till_id


async def session_doc(session_id: int) -> dict[str, Any]:
    """Return a teller session as stored."""
    found = await tills.sessions().find_one({"_id": session_id})
    assert found is not None
    return dict(found)


async def reversal(world: World, role: str) -> Scenario:
    """Reversing a customer's incoming transfer of 150.00; meanwhile that money leaves."""
    await world.thresholds(None)
    name = maker_named(world, role)
    account = await world.account()
    moved = await world.ask("admin", "POST", "/transfers", TransferCreate(
        from_account_id=world.float_id, to_account_id=account, amount=AMOUNT))  # fmt: skip
    assert not isinstance(moved, ApprovalPending), moved
    ref = await TransactionRef.get_pymongo_collection().find_one(
        {"journal_id": moved.journal_id, "account_id": account}
    )
    assert ref is not None
    journal_id = moved.journal_id

    async def spoil() -> None:  # the customer sends the 150.00 on (no approval needed)
        body = TransferCreate(from_account_id=account, to_account_id=world.float_id,
                              amount=AMOUNT)  # fmt: skip
        assert not isinstance(await world.ask("admin", "POST", "/transfers", body),
                              ApprovalPending)  # fmt: skip

    async def reversed_by() -> Any:
        entry = await JournalEntry.get_pymongo_collection().find_one({"_id": journal_id})
        assert entry is not None
        return entry.get("reversed_by")

    async def done() -> None:
        assert await world.balance(account) == 0
        assert await reversed_by() is not None

    async def untouched() -> None:
        assert await world.balance(account) in (AMOUNT, Decimal("0.00"))
        assert await reversed_by() is None

    body = ReversalRequest(reason_code="teller_error", note="keyed into the wrong account")
    return Scenario(maker=name, method="POST", path=f"/transactions/{ref['_id']}/reverse",
                    body=body, checker=checker_for(name), spoil=spoil,
                    refusal="insufficient_funds", done=done, untouched=untouched)  # fmt: skip


async def _nothing() -> None:
    return None


async def closing_count(world: World, role: str) -> Scenario:
    """A session closed with a count 1.00 short: by its teller, or by a supervisor or admin."""
    await world.thresholds(None)
    teller = await world.person("closer", Role.TELLER)
    till = await world.till_for("closer", Decimal("100.00"))
    current = await tills.sessions().find_one({"till_id": till, "status": "open"})
    assert current is not None
    session_id = int(current["_id"])
    maker = {"teller": "closer", "supervisor": "super1", "admin": "admin"}[role]
    checker = "super1" if maker == "closer" else checker_for(maker)
    over_short = await world.ledger_balance("over_short:USD")
    assert teller.actor_id is not None

    async def done() -> None:
        closed = await session_doc(session_id)
        assert closed["status"] == "closed"
        assert closed["approval_id"] is not None
        assert (await tills.till_cash(till)).get("USD") == Decimal("99.00")
        assert await world.ledger_balance("over_short:USD") == over_short + Decimal("1.00")

    async def untouched() -> None:
        now = await session_doc(session_id)
        assert now["status"] in ("closing", "open")
        if now["status"] == "open":  # rejected: the count is kept in `counts`
            assert [count["status"] for count in now["counts"]] == ["rejected"]
        assert (await tills.till_cash(till)).get("USD") == Decimal("100.00")
        assert await world.ledger_balance("over_short:USD") == over_short

    body = SessionClose(counted={"USD": Decimal("99.00")}, note="one short")
    return Scenario(maker=maker, method="POST", path=f"/sessions/{session_id}/close", body=body,
                    checker=checker, spoil=_nothing, refusal="", done=done,
                    untouched=untouched, success=200)  # fmt: skip


async def opening_count(world: World, role: str) -> Scenario:
    """Opening a session on a till of 100.00 counted as 98.00; meanwhile another opens on it."""
    await world.thresholds(None)
    maker = {"teller": "opener", "supervisor": "super2"}[role]
    if maker == "opener":
        await world.person("opener", Role.TELLER)
    till = await stocked_till(world, Decimal("100.00"))
    over_short = await world.ledger_balance("over_short:USD")
    checker = "super1"
    opener_id = world.ctx(maker).actor_id

    async def spoil() -> None:  # another teller takes the till
        await world.person("taker", Role.TELLER)
        await tills.open_session(world.ctx("taker"), till_id=till)

    async def mine() -> dict[str, Any] | None:
        found = await tills.sessions().find_one({"till_id": till, "teller_id": opener_id})
        return dict(found) if found is not None else None

    async def done() -> None:
        opened = await mine()
        assert opened is not None
        assert opened["status"] == "open"
        assert opened["opening_approval_id"] is not None
        assert (await tills.till_cash(till)).get("USD") == Decimal("98.00")
        assert await world.ledger_balance("over_short:USD") == over_short + Decimal("2.00")
        if maker == "super2":  # super2 is a checker elsewhere: free them of their session
            closing = SessionClose(counted={"USD": Decimal("98.00")})
            world.after.append(lambda: send(world, "super2", "POST",
                                            f"/sessions/{opened['_id']}/close",
                                            closing))  # fmt: skip

    async def untouched() -> None:
        assert await mine() is None
        assert (await tills.till_cash(till)).get("USD") == Decimal("100.00")
        assert await world.ledger_balance("over_short:USD") == over_short

    body = SessionOpen(counted={"USD": Decimal("98.00")})
    return Scenario(maker=maker, method="POST", path=f"/tills/{till}/sessions", body=body,
                    checker=checker, spoil=spoil, refusal="till_in_use", done=done,
                    untouched=untouched)  # fmt: skip


async def vault_count_short(world: World, role: str) -> Scenario:
    """A vault count 100.00 short; meanwhile all but 50.00 of the vault goes into a till."""
    await world.thresholds(None)
    maker = maker_named(world, role)
    before = await world.ledger_balance("vault:USD")
    over_short = await world.ledger_balance("over_short:USD")

    async def spoil() -> None:  # put back after the decision, before `untouched` looks
        await world.move("super1", "to_till", before - Decimal("50.00"))
        world.after.append(lambda: world.move("super1", "to_vault", before - Decimal("50.00")))

    async def done() -> None:
        assert await world.ledger_balance("vault:USD") == before - Decimal("100.00")
        assert await world.ledger_balance("over_short:USD") == over_short + Decimal("100.00")
        world.after.append(lambda: world.vault_in(Decimal("100.00")))

    async def untouched() -> None:
        assert await world.ledger_balance("vault:USD") == before
        assert await world.ledger_balance("over_short:USD") == over_short

    body = VaultCountRequest(counted={"USD": before - Decimal("100.00")}, note="short")
    return Scenario(maker=maker, method="POST", path="/vault/count", body=body,
                    checker=checker_for(maker), spoil=spoil, refusal="insufficient_funds",
                    done=done, untouched=untouched, success=200)  # fmt: skip


async def hold_release(world: World, role: str) -> Scenario:
    """Releasing a legal hold of 150.00; meanwhile another request releases it first."""
    await world.thresholds(None)
    maker = maker_named(world, role)
    account = await world.account(fund=Decimal("200.00"))
    placer = world.ctx("admin")
    place = HoldCreate(amount=AMOUNT, reason_code=HoldReason.LEGAL, reference="court order")
    hold = await world.db.transaction(lambda s: holds.place_body(placer, s, account, place))
    maker_id = world.ctx(maker).actor_id
    # The first release comes from the supervisor who is neither this maker nor its checker.
    other, other_checker = ("super2", "admin") if maker == "super1" else ("super2", "super1")

    async def spoil() -> None:
        first = await send(world, other, "POST", f"/holds/{hold.id}/release",
                           HoldRelease(note="the court lifted it"))  # fmt: skip
        assert isinstance(first, ApprovalPending), first
        assert (await world.approve(other_checker, first.approval)).status.value == "executed"

    async def read() -> dict[str, Any]:
        found = await holds.holds().find_one({"_id": hold.id})
        assert found is not None
        return dict(found)

    async def held() -> Decimal:
        account_doc = await Account.get_pymongo_collection().find_one({"_id": account})
        assert account_doc is not None
        return dec(account_doc.get("held"))

    async def done() -> None:
        now = await read()
        assert (now["status"], now["released_by"]) == ("released", maker_id)
        assert await held() == 0

    async def untouched() -> None:
        now = await read()
        if now["status"] == "active":
            assert await held() == AMOUNT
        else:  # released by the other request, not this one
            assert now["released_by"] != maker_id
            assert await held() == 0

    return Scenario(maker=maker, method="POST", path=f"/holds/{hold.id}/release",
                    body=HoldRelease(note="cleared"), checker=checker_for(maker), spoil=spoil,
                    refusal="hold_not_active", done=done, untouched=untouched,
                    success=200)  # fmt: skip


Builder = Callable[[World, str], Awaitable[Scenario]]
ALL = ("executed", "failed", "rejected", "cancelled", "expired")
# Each request, its action, who may ask for it, and its outcomes.
CASES_BY_REQUEST: dict[str, tuple[A, Builder, tuple[str, ...], tuple[str, ...]]] = {
    "reversal": (A.REVERSAL, reversal, ("teller", "supervisor", "admin"), ALL),
    # A closing session accepts no cash (409 session_closing) and its maker's deactivation
    # cancels the approval, so nothing can make its execution fail; the day's close refuses
    # while it is `closing` (409 sessions_open), so it never expires either.
    "close-count": (
        A.TILL_VARIANCE,
        closing_count,
        ("teller", "supervisor", "admin"),
        ("executed", "rejected", "cancelled"),
    ),
    "open-count": (A.TILL_VARIANCE, opening_count, ("teller", "supervisor"), ALL),
    "vault-count": (A.TILL_VARIANCE, vault_count_short, ("supervisor", "admin"), ALL),
    # Tellers release only the holds they placed, and never a legal or fraud one.
    "hold-release": (A.HOLD_RELEASE, hold_release, ("supervisor", "admin"), ALL),
}
CASES = [
    pytest.param(request, role, outcome, id=f"{request}-{role}-{outcome}")
    for request, (_action, _builder, roles, outcomes) in CASES_BY_REQUEST.items()
    for role in roles
    for outcome in outcomes
]


def test_the_three_actions_left_by_the_first_matrix_are_here() -> None:
    assert {action for action, *_ in CASES_BY_REQUEST.values()} == {
        A.REVERSAL, A.TILL_VARIANCE, A.HOLD_RELEASE,
    }  # fmt: skip


async def maker_cancels_variance(
    world: World, scenario: Scenario, approval: ApprovalPublic
) -> ApprovalPublic:
    """The maker tries to cancel a till count's approval: 403, and it stays pending."""
    with pytest.raises(DomainError) as refused:
        await world.cancel(scenario.maker, approval)
    assert refused.value.code.value == "forbidden"
    still = await world.reject(scenario.checker, approval)  # the count goes back to its teller
    assert still.status.value == "rejected"
    return still


@pytest.mark.parametrize(("request_name", "role", "outcome"), CASES)
async def test_covered_request(world: World, request_name: str, role: str, outcome: str) -> None:
    action, builder, _roles, _outcomes = CASES_BY_REQUEST[request_name]
    scenario = await builder(world, role)
    asked = await send(world, scenario.maker, scenario.method, scenario.path, scenario.body)
    assert isinstance(asked, ApprovalPending), asked
    approval = asked.approval
    assert approval.action is action
    assert approval.maker_id == world.ctx(scenario.maker).actor_id
    await scenario.untouched()
    variance_cancel = outcome == "cancelled" and action is A.TILL_VARIANCE
    try:
        if variance_cancel:
            decided = await maker_cancels_variance(world, scenario, approval)
        else:
            decided = await decide(world, scenario, approval, outcome)
    finally:
        for step in world.after:
            await step()
        world.after.clear()
    events = await events_of(approval.id)
    names = [event["action"] for event in events]
    assert names[0] == "approval.requested"
    # A closing count marks its session `closing` at request (session.closing): that is the
    # request's one visible step before a decision, and it names the approval too.
    marked = [event for event in events if event["action"] == "session.closing"]
    assert len(marked) == (1 if request_name == "close-count" else 0), names
    own = [event for event in events
           if not event["action"].startswith("approval.") and event not in marked]  # fmt: skip
    if outcome == "executed":
        assert decided.status.value == "executed"
        assert decided.result is not None
        assert decided.result.status == scenario.success
        assert names[-1] == "approval.executed"
        # The request's own events were written as the maker, naming the approval.
        assert own, names
        assert {event["actor_id"] for event in own} == {approval.maker_id}
        assert all(event["details"]["approval_id"] == approval.id for event in own)
        # One journal entry (the reversal, or the over/short posting); a release moves no money.
        assert await journals_of(approval.id) == (0 if action is A.HOLD_RELEASE else 1)
        return
    assert own == [], names
    assert await journals_of(approval.id) == 0
    await scenario.untouched()
    if outcome == "failed":
        assert decided.status.value == "failed"
        assert decided.result is not None
        assert decided.result.body["code"] == scenario.refusal, decided.result
        assert names[-2:] == ["approval.approved", "approval.failed"]
    elif variance_cancel:
        assert names[-1] == "approval.rejected"
        assert "approval.cancelled" not in names
    else:
        assert decided.status.value == outcome
        assert names[-1] == f"approval.{outcome}"
    if request_name == "vault-count":  # the count is marked with how its approval ended
        stored = await vault_count.vault_counts().find_one({"approval_id": approval.id})
        assert stored is not None
        if outcome == "failed":
            assert stored["status"] != "posted"
        else:
            assert stored["status"] == ("rejected" if variance_cancel else outcome)


def test_the_ledger_holds_after_every_case(world: World, wire_db: EmbeddedDatabase) -> None:
    from pymongo import MongoClient

    client: MongoClient[Any] = MongoClient(wire_db.url, tz_aware=True)
    try:
        check_ledger(client["t_approval_matrix_v2"])
    finally:
        client.close()
