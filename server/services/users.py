"""Users: registration, reading, changes, soft deletion and unlocking, with their rules."""

from __future__ import annotations

import re
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.config import STAFF_PASSWORD_MIN
from server.documents import Account, User, to_mongo
from server.errors import forbidden, invalid_field, not_found, refused
from server.limits import AbuseLimits
from server.security import make_password_hash
from server.services import audit, customers, hold_expiry
from server.services.accounts import set_owner_staff
from server.services.approvals import decisions
from server.services.approvals.gate import ApprovalPending, Covered, gate
from server.services.audit import Action
from server.services.auth import admit, check_counted_password, revoke_user_sessions
from server.services.context import Ctx
from server.services.idempotency import Claim
from server.services.tills.cash import open_session_of
from server.services.views import ListParams, from_raw, user_public
from shared.errors import ErrorCode
from shared.money import to_cents_str
from shared.schemas.approvals import ApprovalAction
from shared.schemas.common import AccountStatus, Page, Role, now_ms
from shared.schemas.users import UserCreate, UserPublic, UserUpdate, UserWithAccounts

USER_SORT_FIELDS = ("id", "username", "full_name", "created_at")
# API.md: passwords are 8-128 characters; staff hold more than their own money, so theirs
# need at least STAFF_PASSWORD_MIN (in production and development alike).
_SELF_FIELDS = frozenset({"full_name", "email", "password"})
_TELLER_FIELDS = frozenset({"full_name", "email", "is_active"})


def check_password_rules(password: str, *, role: Role, username: str) -> None:
    """Refuse (422) a password the rules of its user's role do not allow."""
    if role.is_staff and len(password) < STAFF_PASSWORD_MIN:
        raise invalid_field(
            "body", "password",
            f"a {role.value}'s password needs at least {STAFF_PASSWORD_MIN} characters",
        )  # fmt: skip
    if password.lower() == username.lower():
        raise invalid_field("body", "password", "password must not equal the username")


def _users() -> Any:
    return User.get_pymongo_collection()


def can_see_user(ctx: Ctx, user: User) -> bool:
    """Self, an admin, or a teller or supervisor looking at a customer may see a user."""
    if ctx.actor is None:
        return False
    if ctx.actor.id == user.id:
        return True
    if ctx.is_admin:
        return True
    return ctx.serves_customers and user.role is Role.USER and user.deleted_at is None


async def visible_user(
    ctx: Ctx,
    user_id: int,
    *,
    allow_deleted: bool = False,
    session: AsyncClientSession | None = None,
) -> User:
    """Return a user the caller may see, or answer 404."""
    user = await User.get(user_id, session=session)
    if user is None or not can_see_user(ctx, user):
        raise not_found("user not found")
    if user.deleted_at is not None and not (allow_deleted and ctx.is_admin):
        raise not_found("user not found")
    return user


async def create_user(
    ctx: Ctx, data: UserCreate, *, claim: Claim | None = None
) -> UserPublic | ApprovalPending:
    """Register a user; who may give which role follows API.md.

    Giving a role other than `user` is covered by approval `user.role`; a covered request may
    not carry a password, so while that policy is on this answers 422 and staff are made as
    customers whose role then changes (PUT, 202), or with `bank-server create-user`.
    """
    role = data.role or Role.USER
    if role is not Role.USER and not ctx.is_admin:
        raise forbidden(f"you may not create a user with role {role.value}")
    check_password_rules(data.password, role=role, username=data.username)
    if role is not Role.USER:
        pending = await ctx.db.transaction(lambda session: _gate_staff_creation(ctx, session, data))
        if pending is not None:
            return pending
    password_hash = await make_password_hash(data.password)
    return await insert_user(
        ctx,
        username=data.username,
        password_hash=password_hash,
        full_name=data.full_name,
        email=str(data.email),
        role=role,
        staff_strength=len(data.password) >= STAFF_PASSWORD_MIN,
        claim=claim,
    )


async def _gate_staff_creation(
    ctx: Ctx, session: AsyncClientSession, data: UserCreate
) -> ApprovalPending | None:
    """Check a staff user's creation in full, then ask approval `user.role`."""
    taken = await _users().find_one({"username": data.username}, {"_id": 1}, session=session)
    if taken is not None:
        raise refused(ErrorCode.USERNAME_TAKEN, f"the username {data.username!r} is taken",
                      username=data.username)  # fmt: skip
    role = (data.role or Role.USER).value
    return await gate(ctx, session, Covered(
        action=ApprovalAction.USER_ROLE, summary=f"Create {data.username} as {role}",
    ))  # fmt: skip


async def insert_user(
    ctx: Ctx,
    *,
    username: str,
    password_hash: str,
    full_name: str,
    email: str,
    role: Role,
    actor: str | None = None,
    staff_strength: bool = False,
    claim: Claim | None = None,
) -> UserPublic:
    """Insert a user and its `user.created` event in one transaction.

    `actor` names a caller that is not a user (`"cli"`: `bank-server create-user` on the
    host): the event then has no actor id and says who in `details.actor`.
    """

    async def body(session: AsyncClientSession) -> User:
        user_id = await ctx.db.next_id("users", session=session)
        now = now_ms()
        user = User(
            id=user_id, username=username, full_name=full_name, email=email, role=role,
            password_hash=password_hash, created_at=now, updated_at=now,
            password_fit_for_staff=staff_strength or role.is_staff,
            search_keys=customers.keys_for_new_user(full_name=full_name, username=username,
                                                    email=email),
        )  # fmt: skip
        await _users().insert_one(to_mongo(user), session=session)
        details: dict[str, Any] = {"username": username, "role": role.value}
        if actor is not None:
            details["actor"] = actor
        self_made = ctx.actor is None and actor is None  # a sign-up is its own actor
        await audit.record(
            ctx, action=Action.USER_CREATED, session=session, target_type="user",
            target_id=user_id, details=details,
            actor_id=user_id if self_made else ctx.actor_id,
        )  # fmt: skip
        if claim is not None:
            await claim.complete(session, user_public(user))
        return user

    try:
        user = await ctx.db.transaction(body)
    except DuplicateKeyError as exc:
        raise refused(
            ErrorCode.USERNAME_TAKEN, f"the username {username!r} is taken", username=username
        ) from exc
    return user_public(user)


def _contains(text: str) -> dict[str, Any]:
    return {"$regex": re.escape(text), "$options": "i"}


async def list_users(
    ctx: Ctx,
    params: ListParams,
    *,
    q: str | None,
    role: Role | None,
    include_deleted: bool,
    include_accounts: bool,
) -> Page[UserWithAccounts] | Page[UserPublic]:
    """List users; tellers and supervisors see customers only, admins may include deleted."""
    if include_deleted and not ctx.is_admin:
        raise forbidden("only admins may list deleted users")
    query: dict[str, Any] = {}
    if not include_deleted:
        query["deleted_at"] = None
    if ctx.serves_customers:
        if role is not None and role is not Role.USER:
            return Page(items=[], total=0, skip=params.skip, limit=params.limit)
        query["role"] = Role.USER.value
    elif role is not None:
        query["role"] = role.value
    if q:
        query["$or"] = [{"username": _contains(q)}, {"full_name": _contains(q)},
                        {"email": _contains(q)}]  # fmt: skip
    total = await _users().count_documents(query)
    sort = params.mongo_sort()
    today = await customers.open_date()
    if not include_accounts:
        cursor = _users().find(query).sort(sort).skip(params.skip).limit(params.limit)
        items = [user_public(from_raw(User, raw), business_date=today) async for raw in cursor]
        return Page[UserPublic](items=items, total=total, skip=params.skip, limit=params.limit)
    pipeline: list[dict[str, Any]] = [
        {"$match": query},
        {"$sort": dict(sort)},
        {"$skip": params.skip},
        {"$limit": params.limit},
        {
            "$lookup": {
                "from": "accounts",
                "localField": "_id",
                "foreignField": "owner_id",
                "as": "accounts",
            }
        },
    ]
    with_accounts: list[UserWithAccounts] = []
    async for raw in await _users().aggregate(pipeline):
        accounts = sorted(raw.pop("accounts", []), key=lambda a: a["_id"])
        public = user_public(from_raw(User, raw), business_date=today)
        with_accounts.append(
            UserWithAccounts(
                **public.model_dump(),
                accounts=[
                    {
                        "id": a["_id"],
                        "number": a["number"],
                        "balance": to_cents_str(a["balance"].to_decimal()),
                        "currency": a["currency"],
                        "status": a["status"],
                    }
                    for a in accounts
                ],
            )
        )
    return Page[UserWithAccounts](
        items=with_accounts, total=total, skip=params.skip, limit=params.limit
    )


def _allowed_fields(ctx: Ctx, target: User) -> frozenset[str]:
    assert ctx.actor is not None
    if ctx.is_admin:
        return frozenset(UserUpdate.model_fields) - {"current_password"}
    if ctx.actor.id == target.id:
        return _SELF_FIELDS
    if ctx.serves_customers and target.role is Role.USER:
        return _TELLER_FIELDS
    return frozenset()


def _check_allowed(ctx: Ctx, target: User, changes: set[str]) -> None:
    """Answer 403 naming the fields the caller may not change on this target."""
    refused = changes - _allowed_fields(ctx, target)
    if refused:
        raise forbidden("you may not change: " + ", ".join(sorted(refused)))


async def _guard_last_admin(ctx: Ctx, target: User, session: AsyncClientSession) -> None:
    """Refuse a change that leaves no active admin; the guard write serializes such changes."""
    await ctx.db.next_id("admin_guard", session=session)
    others = await _users().count_documents(
        {"role": Role.ADMIN.value, "is_active": True, "deleted_at": None,
         "_id": {"$ne": target.id}},
        session=session,
    )  # fmt: skip
    if others == 0:
        raise refused(ErrorCode.LAST_ADMIN, "this would leave the bank without an active admin")


def _needs_current_password(ctx: Ctx, target: User, changes: set[str]) -> bool:
    """Tell whether a change must be confirmed with the target's current password.

    Everyone changing their own password, and an admin changing their own role; an admin
    resetting someone else's password does not know it.
    """
    assert ctx.actor is not None
    if ctx.actor.id == target.id:
        return "password" in changes or (ctx.is_admin and "role" in changes)
    return "password" in changes and not ctx.is_admin


async def update_user(
    ctx: Ctx,
    user_id: int,
    data: UserUpdate,
    *,
    limits: AbuseLimits | None = None,
    session: AsyncClientSession | None = None,
    claim: Claim | None = None,
) -> UserPublic | ApprovalPending:
    """Change a user within what the caller's role allows.

    A role change waits for approval `user.role`; with `session` the change runs inside that
    transaction (an approval executing it: its body checks everything again).

    A `current_password` is checked as a sign-in is (counted with the sign-in failures,
    refused with 429 while the username is locked), so a stolen token cannot be used to
    guess the password.
    """
    assert ctx.actor is not None
    # Inside an approval's transaction every read goes through its session: the embedded
    # database holds other readers until the transaction ends.
    target = await visible_user(ctx, user_id, session=session)
    given = {name for name in data.model_fields_set if getattr(data, name) is not None}
    changes = given - {"current_password"}
    _check_allowed(ctx, target, changes)
    new_role = data.role if "role" in changes and data.role is not None else target.role
    if data.password is not None:
        check_password_rules(data.password, role=new_role, username=target.username)
    elif new_role.is_staff and not target.role.is_staff and not target.password_fit_for_staff:
        raise invalid_field(
            "body", "password",
            f"staff passwords need at least {STAFF_PASSWORD_MIN} characters: give the user "
            "a new password first (or with the role, while user.role needs no approval)",
        )  # fmt: skip
    if _needs_current_password(ctx, target, changes):
        if data.current_password is None:
            raise forbidden("give current_password to change this")
        if limits is None:
            raise forbidden("current_password cannot be checked here")
        admitted = await admit(ctx, limits, username=target.username, kind="password_change")
        if not await check_counted_password(
            ctx, limits, admitted, user=target, password=data.current_password,
            kind="password_change",
        ):  # fmt: skip
            raise forbidden("current_password is wrong")
    new_hash = await make_password_hash(data.password) if data.password is not None else None

    async def body(session: AsyncClientSession) -> User | ApprovalPending:
        raw = await _users().find_one({"_id": user_id, "deleted_at": None}, session=session)
        if raw is None:
            raise not_found("user not found")
        current = from_raw(User, raw)
        # Check again on the version this transaction writes: the target's role may have
        # changed since it was read (a customer promoted to staff is no longer a teller's).
        if not can_see_user(ctx, current):
            raise not_found("user not found")
        _check_allowed(ctx, current, changes)
        sets: dict[str, Any] = {}
        for name in ("full_name", "email", "role", "is_active"):
            value = getattr(data, name)
            if name in changes and value != getattr(current, name):
                sets[name] = value.value if isinstance(value, Role) else value
        if new_hash is not None:
            sets["password_hash"] = new_hash
            sets["password_fit_for_staff"] = len(data.password or "") >= STAFF_PASSWORD_MIN
        role_changed = "role" in sets
        deactivated = sets.get("is_active") is False
        losing_admin = (
            current.role is Role.ADMIN
            and current.is_active
            and ((role_changed and sets["role"] != Role.ADMIN.value) or deactivated)
        )
        if losing_admin:
            await _guard_last_admin(ctx, current, session)
        if not sets:
            return current
        if "full_name" in sets or "email" in sets:
            sets["search_keys"] = customers.keys_after(current, sets)
        if role_changed:
            pending = await gate(ctx, session, Covered(
                action=ApprovalAction.USER_ROLE, touches_users=frozenset({user_id}),
                summary=f"Change {current.username}'s role from {current.role.value} to "
                        f"{sets['role']}",
            ))  # fmt: skip
            if pending is not None:
                return pending
        sets["updated_at"] = now_ms()
        await _users().update_one({"_id": user_id}, {"$set": sets}, session=session)
        if "full_name" in sets:
            await Account.get_pymongo_collection().update_many(
                {"owner_id": user_id}, {"$set": {"owner_name": sets["full_name"]}},
                session=session,
            )  # fmt: skip
        if role_changed and Role(sets["role"]).is_staff != current.role.is_staff:
            await set_owner_staff(user_id, Role(sets["role"]).is_staff, session=session)
        if new_hash is not None or role_changed or deactivated:
            await revoke_user_sessions(user_id, reason="user changed", session=session)
        hidden = ("updated_at", "password_hash", "password_fit_for_staff", "search_keys")
        changed = sorted(name for name in sets if name not in hidden)
        if new_hash is not None:
            changed.append("password")
        await audit.record(
            ctx, action=Action.USER_UPDATED, session=session, target_type="user",
            target_id=user_id, details={"fields": changed},
        )  # fmt: skip
        if role_changed:
            await audit.record(
                ctx, action=Action.USER_ROLE_CHANGED, session=session, target_type="user",
                target_id=user_id, details={"from": current.role.value, "to": sets["role"]},
            )  # fmt: skip
        if deactivated:
            await audit.record(
                ctx, action=Action.USER_DEACTIVATED, session=session, target_type="user",
                target_id=user_id,
            )  # fmt: skip
        if deactivated or (role_changed and _demotes(current.role, Role(sets["role"]))):
            await decisions.cancel_for_maker(ctx, session, user_id)
        return current.model_copy(update=sets)

    async def answer(session: AsyncClientSession) -> UserPublic | ApprovalPending:
        result = await body(session)
        public = (result if isinstance(result, ApprovalPending)
                  else await customers.user_view(result, session))  # fmt: skip
        if claim is not None:
            await claim.complete(session, public)
        return public

    return await answer(session) if session is not None else await ctx.db.transaction(answer)


def _demotes(old: Role, new: Role) -> bool:
    """Tell whether a role change takes rights away (Role lists roles in order of rights)."""
    order = list(Role)
    return order.index(new) < order.index(old)


async def delete_user(ctx: Ctx, user_id: int) -> None:
    """Soft-delete a user and close their zero-balance accounts, or refuse with the reason."""
    await visible_user(ctx, user_id)
    accounts = Account.get_pymongo_collection()

    async def body(session: AsyncClientSession) -> None:
        # Read the target inside the transaction, so the last-admin guard sees its role now.
        stored = await _users().find_one({"_id": user_id, "deleted_at": None}, session=session)
        if stored is None:
            raise not_found("user not found")
        target = from_raw(User, stored)
        open_accounts = [
            raw async for raw in accounts.find(
                {"owner_id": user_id, "status": {"$ne": AccountStatus.CLOSED.value}},
                session=session,
            )
        ]  # fmt: skip
        holding = [raw["number"] for raw in open_accounts if raw["balance"].to_decimal() != 0]
        if holding:
            raise refused(
                ErrorCode.USER_HAS_OPEN_ACCOUNTS,
                "the user's accounts still hold money: " + ", ".join(holding),
                accounts=holding,
            )
        till_session = await open_session_of(user_id, session)
        if till_session is not None:  # a supervisor counts and closes it first
            raise refused(ErrorCode.SESSION_OPEN, "the user has a till session that is not closed",
                          session_id=till_session["_id"])  # fmt: skip
        if await hold_expiry.any_active(session, [raw["_id"] for raw in open_accounts]):
            raise refused(ErrorCode.HOLDS_ACTIVE, "the user's accounts have active holds",
                          user_id=user_id)  # fmt: skip
        if target.role is Role.ADMIN and target.is_active:
            await _guard_last_admin(ctx, target, session)
        now = now_ms()
        result = await _users().update_one(
            {"_id": user_id, "deleted_at": None},
            {"$set": {"deleted_at": now, "is_active": False, "updated_at": now}},
            session=session,
        )
        if result.modified_count != 1:
            raise not_found("user not found")
        for raw in open_accounts:
            await accounts.update_one(
                {"_id": raw["_id"]},
                {"$set": {"status": AccountStatus.CLOSED.value, "updated_at": now},
                 "$inc": {"version": 1}},
                session=session,
            )  # fmt: skip
            await audit.record(
                ctx, action=Action.ACCOUNT_CLOSED, session=session, target_type="account",
                target_id=raw["_id"], details={"reason": "owner deleted"},
            )  # fmt: skip
        await revoke_user_sessions(user_id, reason="user deleted", session=session)
        await decisions.cancel_for_maker(ctx, session, user_id)
        await audit.record(
            ctx, action=Action.USER_DELETED, session=session, target_type="user",
            target_id=user_id, details={"closed_accounts": [raw["_id"] for raw in open_accounts]},
        )  # fmt: skip

    await ctx.db.transaction(body)


async def unlock_user(ctx: Ctx, user_id: int, *, limits: AbuseLimits | None = None) -> None:
    """Clear a user's login lockout: the username's failures from anywhere, and (through
    the user's unlock epoch) those from each IP and remembered device.

    Failures counted against client IPs for any username stay: they expire with their window.
    """
    user = await visible_user(ctx, user_id, allow_deleted=True)

    async def body(session: AsyncClientSession) -> None:
        await _users().update_one(
            {"_id": user_id},
            {"$set": {"failed_logins": 0, "locked_until": None}, "$inc": {"login_epoch": 1}},
            session=session,
        )
        await audit.record(
            ctx, action=Action.USER_UNLOCKED, session=session, target_type="user",
            target_id=user_id,
        )  # fmt: skip

    await ctx.db.transaction(body)
    if limits is not None:
        await limits.clear_username(user.username)
