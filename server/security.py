"""Password hashing (argon2id via pwdlib) and JWTs (PyJWT, HS256 only).

PyJWT rather than python-jose: it has no dependencies for HMAC (python-jose pulls ecdsa,
rsa and pyasn1 for algorithms this server never accepts), it is maintained, and its
`decode` checks what we need in one call: the algorithm against an allow-list, `exp`,
`nbf`, `iat`, `iss`, `aud`, the required claims and that `sub` and `jti` are strings.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh", "device"]
REQUIRED_CLAIMS = ("sub", "sid", "jti", "type", "exp", "iat", "iss", "aud")

_STANDARD = frozenset({*REQUIRED_CLAIMS, "nbf"})

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when a username does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Return an argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; spend the same effort when there is no hash to check."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:
        return False


def default_hash_concurrency() -> int:
    """Return how many argon2 computations may run at once by default: half the cores.

    Each one takes 64 MiB and a core for tens of milliseconds; the rest of the machine is
    left to the event loop (argon2-cffi releases the GIL), so a burst of sign-ins queues
    here instead of stalling every other request.
    """
    return max(1, (os.cpu_count() or 2) // 2)


_slots = asyncio.Semaphore(default_hash_concurrency())


def set_hash_concurrency(concurrency: int) -> None:
    """Bound how many password hashes and checks run at once (PASSWORD_HASH_CONCURRENCY)."""
    global _slots
    _slots = asyncio.Semaphore(max(1, concurrency))


async def check_password(password: str, password_hash: str | None) -> bool:
    """Verify a password off the event loop, within the bound; see `verify_password`."""
    async with _slots:
        return await asyncio.to_thread(verify_password, password, password_hash)


async def make_password_hash(password: str) -> str:
    """Hash a password off the event loop, within the bound."""
    async with _slots:
        return await asyncio.to_thread(hash_password, password)


@dataclass(frozen=True)
class TokenClaims:
    """The claims this server puts in and reads out of a JWT."""

    sub: int
    sid: str
    jti: str
    type: TokenType
    exp: datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenBinding:
    """Who signs and who accepts the tokens: the key, `iss` and `aud` of this deployment."""

    key: str
    issuer: str
    audience: str


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or of the wrong kind."""


def create_token(
    binding: TokenBinding,
    *,
    user_id: int,
    sid: str,
    token_type: TokenType,
    lifetime: timedelta,
    extra: dict[str, Any] | None = None,
) -> tuple[str, TokenClaims]:
    """Sign a token for a user and login session (or, for `device`, a device id).

    `extra` claims (a device token's `usr`) may not replace the standard ones.
    """
    now = datetime.now(UTC)
    expires = now + lifetime
    claims = TokenClaims(
        sub=user_id, sid=sid, jti=secrets.token_hex(16), type=token_type, exp=expires
    )
    payload: dict[str, Any] = {
        **(extra or {}),
        "sub": str(user_id),
        "sid": sid,
        "jti": claims.jti,
        "type": token_type,
        "exp": int(expires.timestamp()),
        "iat": int(now.timestamp()),
        "iss": binding.issuer,
        "aud": binding.audience,
    }
    return jwt.encode(payload, binding.key, algorithm=ALGORITHM), claims


def decode_token(token: str, binding: TokenBinding, *, expected: TokenType) -> TokenClaims:
    """Verify a token's signature (HS256 only), expiry, issuer, audience and type."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected algorithm")
        payload = jwt.decode(
            token,
            binding.key,
            algorithms=[ALGORITHM],
            issuer=binding.issuer,
            audience=binding.audience,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    try:
        claims = TokenClaims(
            sub=int(payload["sub"]),
            sid=str(payload["sid"]),
            jti=str(payload["jti"]),
            type=payload["type"],
            exp=datetime.fromtimestamp(int(payload["exp"]), UTC),
            extra={key: value for key, value in payload.items() if key not in _STANDARD},
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidToken("missing or malformed claims") from exc
    if claims.type != expected:
        raise InvalidToken(f"a {claims.type} token where a {expected} token belongs")
    return claims


def unverified_subject(token: str) -> int:
    """Return the user id of a token this server has just signed (not checked again)."""
    return int(jwt.decode(token, options={"verify_signature": False})["sub"])
