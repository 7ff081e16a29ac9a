"""Users: registration, reading, changes, soft deletion and unlocking, with their rules."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.documents import Account, User, to_mongo
from server.errors import forbidden, invalid_field, not_found, refused
from server.limits import AbuseLimits
from server.security import hash_password, verify_password
from server.services import audit, customers, hold_expiry
from server.services.audit import Action
from server.services.auth import revoke_user_sessions
from server.services.context import Ctx
from server.services.views import ListParams, from_raw, user_public
from shared.errors import ErrorCode
from shared.money import to_cents_str
from shared.schemas.common import AccountStatus, Page, Role, now_ms
from shared.schemas.users import UserCreate, UserPublic, UserUpdate, UserWithAccounts

USER_SORT_FIELDS = ("id", "username", "full_name", "created_at")
_SELF_FIELDS = frozenset({"full_name", "email", "password"})
_TELLER_FIELDS = frozenset({"full_name", "email", "is_active"})


def _users() -> Any:
    return User.get_pymongo_collection()


def can_see_user(ctx: Ctx, user: User) -> bool:
    """Self, an admin, or a teller looking at a customer may see a user."""
    if ctx.actor is None:
        return False
    if ctx.actor.id == user.id:
        return True
    if ctx.is_admin:
        return True
    return ctx.role is Role.TELLER and user.role is Role.USER and user.deleted_at is None


async def visible_user(ctx: Ctx, user_id: int, *, allow_deleted: bool = False) -> User:
    """Return a user the caller may see, or answer 404."""
    user = await User.get(user_id)
    if user is None or not can_see_user(ctx, user):
        raise not_found("user not found")
    if user.deleted_at is not None and not (allow_deleted and ctx.is_admin):
        raise not_found("user not found")
    return user


async def create_user(ctx: Ctx, data: UserCreate) -> UserPublic:
    """Register a user; who may give which role follows API.md."""
    role = data.role or Role.USER
    if role is not Role.USER and not ctx.is_admin:
        raise forbidden(f"you may not create a user with role {role.value}")
    password_hash = await asyncio.to_thread(hash_password, data.password)
    return await insert_user(
        ctx,
        username=data.username,
        password_hash=password_hash,
        full_name=data.full_name,
        email=str(data.email),
        role=role,
    )


async def insert_user(
    ctx: Ctx, *, username: str, password_hash: str, full_name: str, email: str, role: Role
) -> UserPublic:
    """Insert a user and its `user.created` event in one transaction."""

    async def body(session: AsyncClientSession) -> User:
        user_id = await ctx.db.next_id("users", session=session)
        now = now_ms()
        user = User(
            id=user_id, username=username, full_name=full_name, email=email, role=role,
            password_hash=password_hash, created_at=now, updated_at=now,
            search_keys=customers.keys_for_new_user(full_name=full_name, username=username,
                                                    email=email),
        )  # fmt: skip
        await _users().insert_one(to_mongo(user), session=session)
        await audit.record(
            ctx, action=Action.USER_CREATED, session=session, target_type="user",
            target_id=user_id, details={"username": username, "role": role.value},
            actor_id=ctx.actor_id if ctx.actor is not None else user_id,
        )  # fmt: skip
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
    """List users; tellers see customers only, admins may include deleted users."""
    if include_deleted and not ctx.is_admin:
        raise forbidden("only admins may list deleted users")
    query: dict[str, Any] = {}
    if not include_deleted:
        query["deleted_at"] = None
    if ctx.role is Role.TELLER:
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
    if ctx.role is Role.TELLER and target.role is Role.USER:
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


async def update_user(ctx: Ctx, user_id: int, data: UserUpdate) -> UserPublic:
    """Change a user within what the caller's role allows."""
    assert ctx.actor is not None
    target = await visible_user(ctx, user_id)
    given = {name for name in data.model_fields_set if getattr(data, name) is not None}
    changes = given - {"current_password"}
    _check_allowed(ctx, target, changes)
    if "password" in changes and not ctx.is_admin:
        ok = data.current_password is not None and await asyncio.to_thread(
            verify_password, data.current_password, target.password_hash
        )
        if not ok:
            raise forbidden("current_password is missing or wrong")
    if data.password is not None and data.password.lower() == target.username:
        raise invalid_field("body", "password", "password must not equal the username")
    new_hash = (
        await asyncio.to_thread(hash_password, data.password) if data.password is not None else None
    )

    async def body(session: AsyncClientSession) -> User:
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
        sets["updated_at"] = now_ms()
        await _users().update_one({"_id": user_id}, {"$set": sets}, session=session)
        if "full_name" in sets:
            await Account.get_pymongo_collection().update_many(
                {"owner_id": user_id}, {"$set": {"owner_name": sets["full_name"]}},
                session=session,
            )  # fmt: skip
        if new_hash is not None or role_changed or deactivated:
            await revoke_user_sessions(user_id, reason="user changed", session=session)
        changed = sorted(name for name in sets if name not in ("updated_at", "password_hash"))
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
        return current.model_copy(update=sets)

    return await customers.user_view(await ctx.db.transaction(body))


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
        await audit.record(
            ctx, action=Action.USER_DELETED, session=session, target_type="user",
            target_id=user_id, details={"closed_accounts": [raw["_id"] for raw in open_accounts]},
        )  # fmt: skip

    await ctx.db.transaction(body)


async def unlock_user(ctx: Ctx, user_id: int, *, limits: AbuseLimits | None = None) -> None:
    """Clear a user's login lockout: the username's failure count (in Redis when set).

    Failures counted against client IPs stay: they expire with their window.
    """
    user = await visible_user(ctx, user_id, allow_deleted=True)

    async def body(session: AsyncClientSession) -> None:
        await _users().update_one(
            {"_id": user_id},
            {"$set": {"failed_logins": 0, "locked_until": None}},
            session=session,
        )
        await audit.record(
            ctx, action=Action.USER_UNLOCKED, session=session, target_type="user",
            target_id=user_id,
        )  # fmt: skip

    await ctx.db.transaction(body)
    if limits is not None:
        await limits.clear_username(user.username)
