"""A small branch on the real embedded database, driven in-process through the services.

For the approval matrix (tests/server/test_approval_matrix.py): users of every role, tills
with open sessions, a stocked vault, and `ask`, which sends a request the way its route
does (the request frozen on the context, the route's own service call), so an approval
stores and later executes exactly what HTTP would have.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from server.config import Settings
from server.db import Database
from server.documents import User
from server.documents.ledger import LedgerAccount
from server.services import accounts, calendar, covered, idempotency, movements, users
from server.services.approvals import decisions, policies
from server.services.approvals.gate import ApprovalPending
from server.services.context import Ctx, Frozen
from server.services.ledger.posting import dec
from server.services.tills import sessions as tills
from server.services.tills import vault
from shared.money import SUPPORTED_CURRENCIES
from shared.schemas.accounts import AccountAdminUpdate, AccountCreate
from shared.schemas.approvals import ApprovalAction, ApprovalPublic, PolicyUpdate
from shared.schemas.common import AccountType, Role
from shared.schemas.tills import TillCashMove, VaultCash
from shared.schemas.transactions import MovementRequest, TransactionType, TransferCreate

LOW = Decimal("100.00")
NO_THRESHOLD = Decimal("9999999999.99")
THRESHOLDS = (ApprovalAction.DEPOSIT, ApprovalAction.WITHDRAWAL, ApprovalAction.TRANSFER)
_names = itertools.count(1)


def frozen(method: str, path: str, body: BaseModel, *, partial: bool = False) -> Frozen:
    """Freeze a request as `idempotent_answer` does for its route."""
    data = body.model_dump(mode="json", exclude_unset=partial)
    return Frozen(method=method, path=path, body=data,
                  fingerprint=idempotency.fingerprint(method, path, data))  # fmt: skip


@dataclass
class World:
    """The branch: a database, its people (as contexts) and their tills."""

    db: Database
    settings: Settings
    people: dict[str, Ctx] = field(default_factory=dict)
    tills: dict[str, int] = field(default_factory=dict)
    low: ApprovalAction | None = None
    float_id: int = 0  # a well-funded account that pays the cases' accounts in
    # Steps to run after a case's decision (putting back what a case borrowed).
    after: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def ctx(self, name: str) -> Ctx:
        """Return the context of a person by name."""
        return self.people[name]

    def by_role(self, role: str) -> Ctx:
        """Return the maker of a role: a customer, a teller, a supervisor or the admin."""
        return self.people[{"user": "customer", "teller": "teller", "supervisor": "super1",
                            "admin": "admin"}[role]]  # fmt: skip

    async def person(self, name: str, role: Role) -> Ctx:
        """Create a user and remember their context."""
        made = await users.insert_user(
            Ctx(db=self.db), username=f"{name}{next(_names)}", password_hash="x",
            full_name=f"{name.title()} Person", email=f"{name}{next(_names)}@example.com",
            role=role, staff_strength=True,  # as if their password met the staff rule (12+)
        )  # fmt: skip
        actor = await User.get(made.id)
        assert actor is not None
        self.people[name] = Ctx(db=self.db, actor=actor, settings=self.settings)
        return self.people[name]

    async def refresh(self, name: str) -> Ctx:
        """Re-read a person (their role or state changed)."""
        actor = await User.get(self.people[name].actor_id)
        assert actor is not None
        self.people[name] = replace(self.people[name], actor=actor)
        return self.people[name]

    async def till_for(self, name: str, stock: Decimal) -> int:
        """Give a staff member a till stocked with `stock` USD and open their session on it."""
        manager = self.ctx("admin")
        till = await tills.create_till(manager, name=f"Till {name}", cash_limit=None)
        till_id = int(till["_id"])
        move = TillCashMove(direction="to_till", currency="USD", amount=stock)
        await self.db.transaction(lambda s: vault.till_cash_body(manager, s, till_id, move))
        await tills.open_session(self.ctx(name), till_id=till_id)
        self.tills[name] = till_id
        return till_id

    async def thresholds(self, low: ApprovalAction | None) -> None:
        """Put `low` at 100.00 in every currency and the other threshold actions out of reach."""
        if self.low == low and low is not None:
            return
        for action in THRESHOLDS:
            amount = LOW if action == low else NO_THRESHOLD
            await self.set_policy(action, threshold=dict.fromkeys(SUPPORTED_CURRENCIES, amount))
        self.low = low

    async def set_policy(self, action: ApprovalAction, **changes: Any) -> None:
        """Change a policy directly (the test's own setup, not a request)."""

        async def body(session: Any) -> None:
            current = await policies.get(action, session)
            await policies.apply(action, PolicyUpdate(**changes, version=current.version),
                                 session)  # fmt: skip

        await self.db.transaction(body)

    async def account(self, owner: str = "customer", fund: Decimal | None = None) -> int:
        """Open an account for `owner`, funded by a transfer from the float (or a deposit)."""
        admin = self.ctx("admin")
        owner_id = self.ctx(owner).actor_id
        made = await accounts.open_account(admin, AccountCreate(account_type=AccountType.CHECKING,
                                                                owner_id=owner_id))  # fmt: skip
        if fund is not None:
            await self.fund(made.id, fund)
        return made.id

    async def fund(self, account_id: int, amount: Decimal) -> None:
        """Pay money in without asking anyone: by transfer, or by deposit when transfers wait."""
        if self.low is ApprovalAction.TRANSFER:
            body = MovementRequest(amount=amount)
            done = await self.ask("admin", "POST", f"/accounts/{account_id}/deposit", body)
        else:
            body = TransferCreate(from_account_id=self.float_id, to_account_id=account_id,
                                  amount=amount)  # fmt: skip
            done = await self.ask("admin", "POST", "/transfers", body)
        assert not isinstance(done, ApprovalPending), done

    async def admin_settings(self, account_id: int, **changes: Any) -> Any:
        """Change an account's settings as the admin, with no approval (e.g. freeze it)."""
        result = await accounts.admin_update(self.ctx("admin"), account_id,
                                             AccountAdminUpdate(**changes))  # fmt: skip
        assert not isinstance(result, ApprovalPending), result
        return result

    async def ledger_balance(self, code: str) -> Decimal:
        """Return a bank account's balance (e.g. `vault:USD`)."""
        raw = await LedgerAccount.get_pymongo_collection().find_one({"_id": code})
        return dec(raw["balance"]) if raw is not None else Decimal("0.00")

    async def move(self, name: str, direction: str, amount: Decimal) -> None:
        """Move USD between the vault and a staff member's own till (no approval needed)."""
        body = TillCashMove(direction=direction, currency="USD", amount=amount)  # type: ignore[arg-type]
        done = await self.ask(name, "POST", f"/tills/{self.tills[name]}/cash", body)
        assert not isinstance(done, ApprovalPending), done

    async def vault_in(self, amount: Decimal) -> None:
        """Bring USD into the vault from the cash centre (the admin, approved by super1)."""
        body = VaultCash(direction="in", currency="USD", amount=amount, reference="restock")
        pending = await self.ask("admin", "POST", "/vault/cash", body)
        assert isinstance(pending, ApprovalPending)
        assert (await self.approve("super1", pending.approval)).status.value == "executed"

    async def balance(self, account_id: int) -> Decimal:
        """Return an account's balance."""
        return dec((await accounts.visible_account(self.ctx("admin"), account_id)).balance)

    async def ask(self, name: str, method: str, path: str, body: BaseModel) -> Any:
        """Send a request as its route does; return the result (an ApprovalPending when 202)."""
        ctx = self.ctx(name)
        partial = method == "PUT"
        ctx = replace(ctx, request=frozen(method, path, body, partial=partial))
        return await ROUTES[(method, _pattern(path))](ctx, path, body)

    async def approve(self, name: str, approval: ApprovalPublic) -> ApprovalPublic:
        """Approve as a person."""
        return await decisions.approve(self.ctx(name), approval.id)

    async def reject(self, name: str, approval: ApprovalPublic) -> ApprovalPublic:
        """Reject as a person."""
        return await decisions.reject(self.ctx(name), approval.id, "not today")

    async def cancel(self, name: str, approval: ApprovalPublic) -> ApprovalPublic:
        """Cancel as its maker."""
        return await decisions.cancel(self.ctx(name), approval.id)


def _pattern(path: str) -> str:
    parts = path.strip("/").split("/")
    names = {"accounts": "{account_id}", "users": "{user_id}", "tills": "{till_id}",
             "approval-policies": "{action}"}  # fmt: skip
    out = []
    for index, part in enumerate(parts):
        previous = parts[index - 1] if index else ""
        out.append(names.get(previous, part))
    return "/" + "/".join(out)


def _segment(path: str, index: int) -> str:
    return path.strip("/").split("/")[index]


type Call = Callable[[Ctx, str, Any], Awaitable[Any]]


async def _deposit(ctx: Ctx, path: str, body: Any) -> Any:
    return await movements.cash_movement(
        ctx, ctx.settings, account_id=int(_segment(path, 1)), kind=TransactionType.DEPOSIT,
        amount=body.amount, description=body.description,
    )  # fmt: skip


async def _withdraw(ctx: Ctx, path: str, body: Any) -> Any:
    return await movements.cash_movement(
        ctx, ctx.settings, account_id=int(_segment(path, 1)), kind=TransactionType.WITHDRAWAL,
        amount=body.amount, description=body.description,
    )  # fmt: skip


async def _transfer(ctx: Ctx, path: str, body: Any) -> Any:
    return await movements.transfer(ctx, body)


async def _vault_cash(ctx: Ctx, path: str, body: Any) -> Any:
    return await ctx.db.transaction(lambda s: vault.vault_cash_body(ctx, s, body))


async def _till_cash(ctx: Ctx, path: str, body: Any) -> Any:
    till_id = int(_segment(path, 1))
    return await ctx.db.transaction(lambda s: vault.till_cash_body(ctx, s, till_id, body))


async def _policy(ctx: Ctx, path: str, body: Any) -> Any:
    action = ApprovalAction(_segment(path, 1))
    return await ctx.db.transaction(lambda s: covered.update_policy_body(ctx, s, action, body))


async def _account_settings(ctx: Ctx, path: str, body: Any) -> Any:
    return await accounts.admin_update(ctx, int(_segment(path, 1)), body)


async def _user(ctx: Ctx, path: str, body: Any) -> Any:
    return await users.update_user(ctx, int(_segment(path, 1)), body)


# The call each route makes (server/api/routes/*): the same service functions.
ROUTES: dict[tuple[str, str], Call] = {
    ("POST", "/accounts/{account_id}/deposit"): _deposit,
    ("POST", "/accounts/{account_id}/withdraw"): _withdraw,
    ("POST", "/transfers"): _transfer,
    ("POST", "/vault/cash"): _vault_cash,
    ("POST", "/tills/{till_id}/cash"): _till_cash,
    ("PUT", "/approval-policies/{action}"): _policy,
    ("PUT", "/accounts/{account_id}/admin"): _account_settings,
    ("PUT", "/users/{user_id}"): _user,
}


async def build(db: Database) -> World:
    """Make the branch: staff and a customer, a stocked vault, tills with open sessions."""
    await calendar.ensure("UTC")
    world = World(db=db, settings=Settings(self_service_cash=True))
    for name, role in (("admin", Role.ADMIN), ("super1", Role.SUPERVISOR),
                       ("super2", Role.SUPERVISOR), ("teller", Role.TELLER),
                       ("customer", Role.USER)):  # fmt: skip
        await world.person(name, role)
    await world.vault_in(Decimal("1000000.00"))
    for name in ("teller", "super1", "admin"):
        await world.till_for(name, Decimal("50000.00"))
    await world.thresholds(None)
    world.float_id = await world.account()
    await world.set_policy(ApprovalAction.ACCOUNT_LIMITS, enabled=False)
    await world.admin_settings(world.float_id, daily_withdrawal_limit=None)  # it pays everyone
    await world.set_policy(ApprovalAction.ACCOUNT_LIMITS, enabled=True)
    stock = MovementRequest(amount=Decimal("500000.00"))
    done = await world.ask("admin", "POST", f"/accounts/{world.float_id}/deposit", stock)
    assert not isinstance(done, ApprovalPending)
    return world
