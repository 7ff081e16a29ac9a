"""Login sessions and tokens: login, refresh with rotation, logout, and who is calling."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.config import Settings
from server.documents import LoginSession, User
from server.errors import DomainError
from server.limits import AbuseLimits, RateLimited
from server.security import InvalidToken, create_token, decode_token, verify_password
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


async def _record_login_failure(
    ctx: Ctx, *, folded: str, user: User | None, code: ErrorCode
) -> None:
    await ctx.db.transaction(
        lambda s: audit.record(
            ctx, action=Action.LOGIN_FAILED, session=s, outcome="refused", code=code.value,
            target_type="user", target_id=user.id if user else None,
            details={"username": folded[:64]}, actor_id=user.id if user else None,
        )
    )  # fmt: skip


async def login(
    ctx: Ctx, settings: Settings, *, username: str, password: str, limits: AbuseLimits
) -> TokenPair:
    """Check credentials and open a login session; one answer for every kind of failure.

    While the client IP or the username has had too many failures, answer 429 without
    looking at the password. A success forgets the username's failures, not the IP's.
    """
    folded = username.strip().lower()
    user = await User.find_one({"username": folded}) if 0 < len(folded) <= 64 else None
    usable = user is not None and user.deleted_at is None and user.is_active
    try:
        async with limits.login_attempt(ip=ctx.ip, username=folded) as attempt:
            ok = verify_password(password, user.password_hash if usable and user else None)
            if not ok:
                await attempt.failed()
    except RateLimited:
        await _record_login_failure(ctx, folded=folded, user=user, code=ErrorCode.RATE_LIMITED)
        raise
    if not ok:
        await _record_login_failure(
            ctx, folded=folded, user=user, code=ErrorCode.INVALID_CREDENTIALS
        )
        raise _invalid_credentials()
    assert user is not None
    await limits.login_succeeded(folded)
    sid = secrets.token_hex(16)
    pair, refresh_jti = _issue(settings, user.id, sid)
    expires = now_ms() + timedelta(seconds=settings.refresh_token_seconds)

    async def body(session: AsyncClientSession) -> None:
        await LoginSession.get_pymongo_collection().insert_one(
            {
                "_id": sid, "user_id": user.id, "created_at": now_ms(),
                "expires_at": expires, "refresh_jti": refresh_jti,
                "revoked_at": None, "revoked_reason": None, "ip": ctx.ip,
            },
            session=session,
        )  # fmt: skip
        await audit.record(
            ctx, action=Action.LOGIN_SUCCEEDED, session=session, target_type="user",
            target_id=user.id, actor_id=user.id, details={"sid": sid},
        )  # fmt: skip

    await ctx.db.transaction(body)
    return pair


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
