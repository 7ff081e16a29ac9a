"""Password hashing (argon2id via pwdlib) and JWTs (python-jose, HS256 only)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]

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


@dataclass(frozen=True)
class TokenClaims:
    """The claims this server puts in and reads out of a JWT."""

    sub: int
    sid: str
    jti: str
    type: TokenType
    exp: datetime


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or of the wrong kind."""


def create_token(
    *, key: str, user_id: int, sid: str, token_type: TokenType, lifetime: timedelta
) -> tuple[str, TokenClaims]:
    """Sign a token for a user and login session."""
    expires = datetime.now(UTC) + lifetime
    claims = TokenClaims(
        sub=user_id, sid=sid, jti=secrets.token_hex(16), type=token_type, exp=expires
    )
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "sid": sid,
        "jti": claims.jti,
        "type": token_type,
        "exp": int(expires.timestamp()),
        "iat": int(datetime.now(UTC).timestamp()),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def decode_token(token: str, *, key: str, expected: TokenType) -> TokenClaims:
    """Verify a token's signature (HS256 only), expiry and type; raise InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected algorithm")
        payload = jwt.decode(token, key, algorithms=[ALGORITHM])
    except JWTError as exc:
        raise InvalidToken(str(exc)) from exc
    try:
        claims = TokenClaims(
            sub=int(payload["sub"]),
            sid=str(payload["sid"]),
            jti=str(payload["jti"]),
            type=payload["type"],
            exp=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("missing or malformed claims") from exc
    if claims.type != expected:
        raise InvalidToken(f"a {claims.type} token where a {expected} token belongs")
    return claims
