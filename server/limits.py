"""Abuse limits and revoked sessions: in this process's memory, or in Redis for every process.

- Failed logins are counted per client IP and per folded username in a moving window
  (`LOGIN_MAX_FAILURES` in `LOGIN_WINDOW_SECONDS`). While either count is at the limit,
  `/login` answers 429 before it looks at the password.
- Money movements are counted per acting user (`MOVEMENT_RATE_PER_MINUTE`).
- Logged-out sessions are also written to Redis (`REDIS_URL`), each key living as long as
  a refresh token, and checked before the database on every request.

The counters use the `limits` library's moving window (`MovingWindowRateLimiter`): exact,
and its cost grows with the limit, which is small here. On Redis the window is a list kept
by Lua scripts that take each server's own clock, so the servers' clocks must agree (NTP).

When Redis does not answer, nothing fails: the counters fall back to this process's memory
(so one process still limits what it sees) and the revocation check falls back to the
database, which is authoritative anyway. Redis is left alone for a few seconds after a
failure, so an outage costs one timeout, not one per request; a warning is logged once
per outage.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.config import Settings
from server.errors import DomainError
from shared.errors import ErrorCode

log = logging.getLogger("bank.limits")

REDIS_TIMEOUT_SECONDS = 1.0
REDIS_RETRY_SECONDS = 5.0
_REDIS_ERRORS = (StorageError, RedisError, OSError)
_USERNAME = re.compile(r"^[a-z0-9_.-]{1,64}$")


class RateLimited(DomainError):
    """The `rate_limited` refusal, with `retry_after` in whole seconds (at least 1)."""

    def __init__(self, detail: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(ErrorCode.RATE_LIMITED, detail, retry_after=self.retry_after)


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class _Breaker:
    """Remember that Redis failed, so it is retried after a pause instead of on every request."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.down = False

    def available(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, exc: BaseException) -> None:
        self.down_until = time.monotonic() + REDIS_RETRY_SECONDS
        if not self.down:
            self.down = True
            log.warning(
                "Redis does not answer (%s: %s); limits use this process's memory and "
                "revocations the database until it is back",
                type(exc).__name__, exc,
            )  # fmt: skip

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis answers again; limits and revocations are shared again")


async def _hit(limiter: MovingWindowRateLimiter, *, item: RateLimitItem, key: str) -> bool:
    return await limiter.hit(item, key)


async def _test(limiter: MovingWindowRateLimiter, *, item: RateLimitItem, key: str) -> bool:
    return await limiter.test(item, key)


class LoginAttempt:
    """A login attempt admitted by the limits; report a wrong password with `failed()`."""

    def __init__(self, limits: AbuseLimits, keys: tuple[str, ...]) -> None:
        self._limits = limits
        self._keys = keys

    async def failed(self) -> None:
        """Count one failure against the client IP and the username."""
        for key in self._keys:
            await self._limits.run(partial(_hit, item=self._limits.login_item, key=key))


class AbuseLimits:
    """The server's limits and revoked-session list; one per process, built in the lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.login_item: RateLimitItem = RateLimitItemPerSecond(
            settings.login_max_failures, settings.login_window_seconds
        )
        self.movement_item: RateLimitItem = RateLimitItemPerMinute(
            settings.movement_rate_per_minute
        )
        self.revocation_seconds = settings.refresh_token_seconds
        # One Redis may serve several banks (staging, production): keys carry the database.
        self.prefix = f"bank:{settings.database_name}"
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._locks = _KeyedLocks()
        self._breaker = _Breaker()
        self.redis: Redis | None = None
        self._shared: MovingWindowRateLimiter | None = None
        if settings.redis_url:
            url = settings.redis_url.removeprefix("async+")
            self.redis = Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            # One connection pool for both; `limits` types its options as scalars only.
            pool: dict[str, Any] = {"connection_pool": self.redis.connection_pool}
            storage = RedisStorage(
                f"async+{url}", implementation="redispy", wrap_exceptions=True,
                key_prefix=f"{self.prefix}:limits", **pool,
            )  # fmt: skip
            self._shared = MovingWindowRateLimiter(storage)

    @property
    def shared(self) -> bool:
        """Tell whether counters and revocations are shared through Redis."""
        return self.redis is not None

    async def close(self) -> None:
        """Close the Redis connections."""
        if self.redis is not None:
            await self.redis.aclose()

    async def redis_ok(self) -> bool | None:
        """Tell whether Redis answers a PING (None when REDIS_URL is not set)."""
        if self.redis is None:
            return None
        try:
            await self.redis.ping()
        except _REDIS_ERRORS:
            return False
        return True

    async def run[T](self, op: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """Run a limiter operation on Redis, or on this process's memory while Redis is down."""
        if self._shared is not None and self._breaker.available():
            try:
                result = await op(self._shared)
            except _REDIS_ERRORS as exc:
                self._breaker.failed(exc)
            else:
                self._breaker.succeeded()
                return result
        return await op(self._local)

    async def _retry_after(self, item: RateLimitItem, key: str) -> float:
        stats = await self.run(lambda limiter: limiter.get_window_stats(item, key))
        return stats.reset_time - time.time()

    # --- login ------------------------------------------------------------------------

    @staticmethod
    def username_key(username: str) -> str:
        """Return the counter key of a folded username (hashed if it cannot be a username)."""
        if _USERNAME.match(username):
            return f"login-user/{username}"
        return "login-user/#" + hashlib.sha256(username.encode()).hexdigest()[:32]

    @staticmethod
    def ip_key(ip: str | None) -> str:
        """Return the counter key of a client IP."""
        return f"login-ip/{ip or 'unknown'}"

    @asynccontextmanager
    async def login_attempt(self, *, ip: str | None, username: str) -> AsyncIterator[LoginAttempt]:
        """Admit a login attempt or raise 429; hold it until the password has been checked.

        Within a process, attempts from one IP or for one username run one at a time, so
        concurrent requests cannot all pass the check before the first failure is counted;
        across processes the overshoot is at most one attempt per process.
        """
        keys = (self.ip_key(ip), self.username_key(username))
        async with AsyncExitStack() as stack:
            for key in keys:  # always in this order, so two attempts never deadlock
                await stack.enter_async_context(self._locks.hold(key))
            waits = [
                await self._retry_after(self.login_item, key)
                for key in keys
                if not await self.run(partial(_test, item=self.login_item, key=key))
            ]
            if waits:
                raise RateLimited(
                    "too many failed sign-ins; try again later or ask an administrator to "
                    "unlock the account",
                    max(waits),
                )
            yield LoginAttempt(self, keys)

    async def login_succeeded(self, username: str) -> None:
        """Forget a username's failures once its owner has signed in (the IP's stay)."""
        await self.clear_username(username)

    async def clear_username(self, username: str) -> None:
        """Clear a username's failed-login count (`POST /users/{id}/unlock`)."""
        key = self.username_key(username)
        await self.run(lambda limiter: limiter.clear(self.login_item, key))

    # --- money movement ------------------------------------------------------------------

    async def check_movement(self, user_id: int | None) -> None:
        """Count one money movement request of a user, or raise 429 when over the rate."""
        key = f"movement/{user_id}"
        if not await self.run(lambda limiter: limiter.hit(self.movement_item, key)):
            retry_after = await self._retry_after(self.movement_item, key)
            raise RateLimited("too many money movements; slow down", retry_after)

    # --- revoked login sessions ------------------------------------------------------------

    def _revoked_key(self, sid: str) -> str:
        return f"{self.prefix}:revoked:{sid}"

    async def revoke_session(self, sid: str) -> None:
        """Publish a revoked login session to every process (no-op without Redis)."""
        if self.redis is None or not self._breaker.available():
            return
        try:
            await self.redis.set(self._revoked_key(sid), b"1", ex=self.revocation_seconds)
        except _REDIS_ERRORS as exc:
            self._breaker.failed(exc)
        else:
            self._breaker.succeeded()

    async def is_revoked(self, sid: str) -> bool:
        """Tell whether Redis lists a login session as revoked (False without Redis)."""
        if self.redis is None or not self._breaker.available():
            return False
        try:
            found = await self.redis.exists(self._revoked_key(sid))
        except _REDIS_ERRORS as exc:
            self._breaker.failed(exc)
            return False
        self._breaker.succeeded()
        return bool(found)
