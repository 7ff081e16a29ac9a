"""Login sessions and tokens: login, refresh with rotation, logout, and who is calling."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.config import Settings
from server.documents import LoginSession, User
from server.errors import DomainError
from server.limits import AbuseLimits, LoginGate, RateLimited
from server.observability import count_login
from server.security import InvalidToken, check_password, create_token, decode_token
from server.services import audit
from server.services.audit import Action
from server.services.context import Ctx
from shared.errors import ErrorCode
from shared.schemas.auth import TokenPair
from shared.schemas.common import now_ms


def invalid_token(detail: str = "the token is invalid or expired; sign in again") -> DomainError:
    """Return the refusal of a token that cannot be used."""
    return DomainError(ErrorCode.INVALID_TOKEN, detail)


def _invalid_credentials() -> DomainError:
    return DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong username or password")


def _issue(settings: Settings, user_id: int, sid: str) -> tuple[TokenPair, str]:
    binding = settings.token_binding()
    access, _ = create_token(
        binding, user_id=user_id, sid=sid, token_type="access",
        lifetime=timedelta(seconds=settings.access_token_seconds),
    )  # fmt: skip
    refresh, refresh_claims = create_token(
        binding, user_id=user_id, sid=sid, token_type="refresh",
        lifetime=timedelta(seconds=settings.refresh_token_seconds),
    )  # fmt: skip
    pair = TokenPair(
        access_token=access, expires_in=settings.access_token_seconds, refresh_token=refresh
    )
    return pair, refresh_claims.jti


DEVICE_HEADER = "X-Device-Token"


async def _record_lockout(ctx: Ctx, *, folded: str, user: User | None, locks: list[str]) -> None:
    """Audit the start of a lockout (one event per lock, not one per refused attempt)."""
    details = {"username": folded[:64], "locks": locks, "kind": "lockout"}
    await ctx.db.transaction(
        lambda s: audit.record(
            ctx, action=Action.LOGIN_FAILED, session=s, outcome="refused",
            code=ErrorCode.RATE_LIMITED.value, target_type="user",
            target_id=user.id if user else None, details=details,
            actor_id=user.id if user else None,
        )
    )  # fmt: skip


def device_id(settings: Settings, token: str | None, username: str) -> tuple[str, int] | None:
    """Return the device id and user id of a device token this server gave `username`.

    The token names the username (`usr`), so it is checked before anything is read from
    the database; the user id is compared once the user is read. Usernames are never
    reused (deleted users' names stay taken).
    """
    if not token or len(token) > 2048:
        return None
    try:
        claims = decode_token(token, settings.token_binding(), expected="device")
    except InvalidToken:
        return None
    if claims.extra.get("usr") != username:
        return None
    return claims.sid, claims.sub


def device_token(settings: Settings, user: User, device: str | None) -> str:
    """Sign a device token for a user: the same device id again, or a new one."""
    token, _claims = create_token(
        settings.token_binding(), user_id=user.id, sid=device or secrets.token_hex(16),
        token_type="device", lifetime=timedelta(days=settings.device_token_days),
        extra={"usr": user.username},
    )  # fmt: skip
    return token


async def admit(
    ctx: Ctx, limits: AbuseLimits, *, username: str, kind: str, device: str | None = None
) -> LoginGate:
    """Count a password check as a sign-in attempt; 429 early, before any database read."""
    try:
        return await limits.admit_login(ip=ctx.ip, username=username, device=device)
    except RateLimited:
        count_login(kind, ErrorCode.RATE_LIMITED.value)
        raise


async def check_counted_password(
    ctx: Ctx,
    limits: AbuseLimits,
    gate: LoginGate,
    *,
    user: User | None,
    password: str,
    kind: str,
) -> bool:
    """Check a password as a sign-in attempt admitted by `admit`: counted, lockouts audited.

    Raise 429 (`RateLimited`) without looking at the password while the limits refuse it.
    The hash is checked off the event loop, a few at a time (PASSWORD_HASH_CONCURRENCY).
    """
    usable = user is not None and user.deleted_at is None and user.is_active
    epoch = user.login_epoch if user is not None else 0
    started: list[str] = []
    try:
        async with limits.login_attempt(gate, epoch=epoch) as attempt:
            ok = await check_password(password, user.password_hash if usable and user else None)
            if not ok:
                started = await attempt.failed()
    except RateLimited:
        count_login(kind, ErrorCode.RATE_LIMITED.value)
        raise
    if not ok:
        count_login(kind, ErrorCode.INVALID_CREDENTIALS.value)
        if started:
            await _record_lockout(ctx, folded=gate.username, user=user, locks=started)
        return False
    await attempt.succeeded()
    count_login(kind, "ok")
    return True


async def login(
    ctx: Ctx,
    settings: Settings,
    *,
    username: str,
    password: str,
    limits: AbuseLimits,
    device: str | None = None,
) -> tuple[TokenPair, str]:
    """Check credentials and open a login session; one answer for every kind of failure.

    `device` is the `X-Device-Token` the client sent; the answer's second part is the one
    to send next time (README "Abuse limits": a remembered device is not locked out by
    others' failures). Refused attempts are counted in metrics; only the start of a
    lockout is audited. A user's oldest sessions beyond MAX_SESSIONS_PER_USER are revoked.
    """
    folded = username.strip().lower()
    found = device_id(settings, device, folded)
    gate = await admit(ctx, limits, username=folded, kind="login",
                       device=found[0] if found else None)  # fmt: skip
    user = await User.find_one({"username": folded}) if 0 < len(folded) <= 64 else None
    if found is not None and (user is None or user.id != found[1]):
        raise _invalid_credentials()  # a device token of a name since given to no one
    if not await check_counted_password(
        ctx, limits, gate, user=user, password=password, kind="login"
    ):
        raise _invalid_credentials()
    assert user is not None
    sid = secrets.token_hex(16)
    pair, refresh_jti = _issue(settings, user.id, sid)
    now = now_ms()
    expires = now + timedelta(seconds=settings.refresh_token_seconds)
    sessions = LoginSession.get_pymongo_collection()
    ended: list[str] = []

    async def body(session: AsyncClientSession) -> None:
        ended.clear()
        # Keep at most MAX_SESSIONS_PER_USER open: the oldest make room for this one.
        open_now = [
            raw["_id"]
            async for raw in sessions.find(
                {"user_id": user.id, "revoked_at": None, "expires_at": {"$gt": now}},
                projection={"_id": 1}, sort=[("created_at", 1)], session=session,
            )
        ]  # fmt: skip
        surplus = open_now[: max(0, len(open_now) - settings.max_sessions_per_user + 1)]
        if surplus:
            await sessions.update_many(
                {"_id": {"$in": surplus}, "revoked_at": None},
                {"$set": {"revoked_at": now, "revoked_reason": "session limit"}},
                session=session,
            )
            ended.extend(surplus)
        await sessions.insert_one(
            {
                "_id": sid, "user_id": user.id, "created_at": now,
                "expires_at": expires, "refresh_jti": refresh_jti,
                "revoked_at": None, "revoked_reason": None, "ip": ctx.ip,
            },
            session=session,
        )  # fmt: skip
        await audit.record(
            ctx, action=Action.LOGIN_SUCCEEDED, session=session, target_type="user",
            target_id=user.id, actor_id=user.id,
            details={"sid": sid, **({"ended_sessions": len(surplus)} if surplus else {})},
        )  # fmt: skip

    await ctx.db.transaction(body)
    for old in ended:
        await limits.revoke_session(old)
    return pair, device_token(settings, user, gate.device)


def _session_open(session: dict[str, Any] | None, user_id: int) -> bool:
    """Tell whether a stored login session belongs to the user, is not revoked and not over.

    `expires_at` is checked here: MongoDB's TTL monitor removes expired sessions only once
    a minute (and the embedded database may not run one), so a session past its end would
    otherwise keep working until it is swept.
    """
    if session is None or session.get("revoked_at") is not None:
        return False
    if session.get("user_id") != user_id:
        return False
    expires = session.get("expires_at")
    return isinstance(expires, datetime) and expires > now_ms()


async def _usable_user(user_id: int) -> User:
    user = await User.get(user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        raise invalid_token()
    return user


async def refresh(
    ctx: Ctx,
    settings: Settings,
    *,
    refresh_token: str,
    revocations: AbuseLimits | None = None,
) -> TokenPair:
    """Rotate a refresh token; a reused one revokes its whole login session."""
    try:
        claims = decode_token(refresh_token, settings.token_binding(), expected="refresh")
    except InvalidToken as exc:
        raise invalid_token() from exc
    if revocations is not None and await revocations.is_revoked(claims.sid):
        raise invalid_token()
    sessions = LoginSession.get_pymongo_collection()
    current = await sessions.find_one({"_id": claims.sid})
    if not _session_open(current, claims.sub):
        raise invalid_token()
    await _usable_user(claims.sub)
    pair, new_jti = _issue(settings, claims.sub, claims.sid)
    rotated = await sessions.update_one(
        {"_id": claims.sid, "refresh_jti": claims.jti, "revoked_at": None},
        {"$set": {"refresh_jti": new_jti}},
    )
    if rotated.modified_count != 1:
        # The token was already used: someone else holds a copy. End the session.
        await sessions.update_one(
            {"_id": claims.sid, "revoked_at": None},
            {"$set": {"revoked_at": now_ms(), "revoked_reason": "refresh token reused"}},
        )
        if revocations is not None:
            await revocations.revoke_session(claims.sid)
        raise invalid_token("this refresh token was already used; the session is ended")
    return pair


async def authenticate(
    settings: Settings, token: str, *, revocations: AbuseLimits | None = None
) -> tuple[User, str]:
    """Return the user and login session id of an access token, read fresh from the database.

    With `revocations`, a session another process revoked through Redis is refused first.
    """
    try:
        claims = decode_token(token, settings.token_binding(), expected="access")
    except InvalidToken as exc:
        raise invalid_token() from exc
    if revocations is not None and await revocations.is_revoked(claims.sid):
        raise invalid_token()
    current = await LoginSession.get_pymongo_collection().find_one(
        {"_id": claims.sid}, projection={"user_id": 1, "revoked_at": 1, "expires_at": 1}
    )
    if not _session_open(current, claims.sub):
        raise invalid_token()
    return await _usable_user(claims.sub), claims.sid


async def logout(ctx: Ctx, *, sid: str, revocations: AbuseLimits | None = None) -> None:
    """End one login session: every token carrying its sid stops working, in every process."""
    assert ctx.actor is not None
    actor = ctx.actor

    async def body(session: AsyncClientSession) -> None:
        await LoginSession.get_pymongo_collection().update_one(
            {"_id": sid, "revoked_at": None},
            {"$set": {"revoked_at": now_ms(), "revoked_reason": "logout"}},
            session=session,
        )
        await audit.record(
            ctx, action=Action.LOGOUT, session=session, target_type="user",
            target_id=actor.id, details={"sid": sid},
        )  # fmt: skip

    await ctx.db.transaction(body)
    if revocations is not None:
        await revocations.revoke_session(sid)


async def revoke_user_sessions(
    user_id: int, *, reason: str, session: AsyncClientSession | None
) -> int:
    """End every open login session of a user; return how many were open."""
    result = await LoginSession.get_pymongo_collection().update_many(
        {"user_id": user_id, "revoked_at": None},
        {"$set": {"revoked_at": now_ms(), "revoked_reason": reason}},
        session=session,
    )
    return int(result.modified_count)
