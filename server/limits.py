"""Abuse limits and revoked sessions: in this process's memory, or in Redis for every process.

- Sign-in attempts are counted per client IP and per folded username (per minute), and
  failures per (username, IP or remembered device), per IP and per username in a moving
  window (`LOGIN_WINDOW_SECONDS`); see `AbuseLimits.login_attempt` for what each refuses.
  A wrong `current_password` on a password change counts as a failed sign-in.
- Sign-ups and account openings are counted per IP and per signed-in user (per hour).
- Money movements are counted per acting user (`MOVEMENT_RATE_PER_MINUTE`), and so are
  statements (`STATEMENT_RATE_PER_MINUTE`) and payee lookups (`PAYEE_RATE_PER_MINUTE`).
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
from dataclasses import dataclass
from functools import partial
from typing import Any

from limits import (
    RateLimitItem,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
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


@dataclass(frozen=True)
class LoginKeys:
    """The counters one sign-in attempt (or password check) is held to."""

    user: str  # failures for the username from anywhere
    origin: str  # failures for the username from this IP, or from this remembered device
    ip: str | None  # failures from this IP for any username (None for a remembered device)
    attempts: tuple[str, ...]  # attempts, failed or not: per IP and username, or per device


@dataclass(frozen=True)
class LoginGate:
    """A sign-in attempt counted and not refused early: who, from where, which device."""

    ip: str | None
    username: str
    device: str | None


class LoginAttempt:
    """A sign-in attempt the limits admitted; report a wrong password with `failed()`."""

    def __init__(self, limits: AbuseLimits, keys: LoginKeys) -> None:
        self._limits = limits
        self.keys = keys

    async def failed(self) -> list[str]:
        """Count one failure; return the locks this failure started (for the audit trail).

        A lock starts when a counter reaches its limit with this failure: `username` (from
        anywhere), `origin` (this username from this IP or device) or `ip` (any username).
        """
        limits = self._limits
        counted = [("origin", limits.login_item, self.keys.origin),
                   ("username", limits.login_item, self.keys.user)]  # fmt: skip
        if self.keys.ip is not None:
            counted.append(("ip", limits.login_ip_item, self.keys.ip))
        started = []
        for name, item, key in counted:
            if await limits.run(partial(_hit, item=item, key=key)) and not await limits.run(
                partial(_test, item=item, key=key)
            ):
                started.append(name)
        return started

    async def succeeded(self) -> None:
        """Forget this origin's failures; the username's too unless it is locked.

        A username under lock stays locked after a sign-in from a remembered device (its
        owner got in, the guesser must not get a fresh allowance); the window or an
        admin's unlock ends it.
        """
        limits = self._limits
        await limits.run(lambda limiter: limiter.clear(limits.login_item, self.keys.origin))
        if await limits.run(partial(_test, item=limits.login_item, key=self.keys.user)):
            await limits.run(lambda limiter: limiter.clear(limits.login_item, self.keys.user))


class AbuseLimits:
    """The server's limits and revoked-session list; one per process, built in the lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.login_item: RateLimitItem = RateLimitItemPerSecond(
            settings.login_max_failures, settings.login_window_seconds
        )
        self.login_ip_item: RateLimitItem = RateLimitItemPerSecond(
            settings.login_max_failures_per_ip, settings.login_window_seconds
        )
        self.attempt_ip_item = RateLimitItemPerMinute(settings.login_attempts_per_minute_per_ip)
        self.attempt_user_item = RateLimitItemPerMinute(settings.login_attempts_per_minute_per_user)
        self.login_delay = settings.login_delay_seconds
        self.signup_item = RateLimitItemPerHour(settings.signup_rate_per_hour)
        self.open_item = RateLimitItemPerHour(settings.open_rate_per_hour)
        self.open_ip_item = RateLimitItemPerHour(settings.open_rate_per_hour_per_ip)
        self.movement_item: RateLimitItem = RateLimitItemPerMinute(
            settings.movement_rate_per_minute
        )
        self.statement_item = RateLimitItemPerMinute(settings.statement_rate_per_minute)
        self.payee_item = RateLimitItemPerMinute(settings.payee_rate_per_minute)
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
        """Return a folded username as a key part (hashed if it cannot be a username)."""
        if _USERNAME.match(username):
            return username
        return "#" + hashlib.sha256(username.encode()).hexdigest()[:32]

    def login_keys(
        self, *, ip: str | None, username: str, epoch: int = 0, device: str | None = None
    ) -> LoginKeys:
        """Return the counters of an attempt from `ip`, or from a remembered `device`.

        `epoch` is the user's unlock count: an admin's unlock starts every per-origin
        counter of the username afresh.
        """
        name = self.username_key(username)
        user = f"login-user/{name}"
        if device is not None:
            return LoginKeys(user=user, origin=f"login-device/{name}/{epoch}/{device}", ip=None,
                             attempts=(f"attempt-device/{device}",))  # fmt: skip
        where = ip or "unknown"
        return LoginKeys(
            user=user, origin=f"login-pair/{name}/{epoch}/{where}", ip=f"login-ip/{where}",
            attempts=(f"attempt-ip/{where}", f"attempt-user/{name}"),
        )  # fmt: skip

    async def _count_attempt(self, keys: LoginKeys) -> None:
        """Count an attempt, failed or not, or raise 429 when there were too many."""
        for key in keys.attempts:
            item = self.attempt_ip_item if key.startswith("attempt-ip/") else self.attempt_user_item
            if not await self.run(partial(_hit, item=item, key=key)):
                raise RateLimited(
                    "too many sign-in attempts; wait a moment", await self._retry_after(item, key)
                )

    async def _locked_delay(self, keys: LoginKeys) -> float:
        """Return how long a remembered device waits while its username is locked.

        It doubles with each of this device's own recent failures (1, 2, 4, ... times
        LOGIN_DELAY_SECONDS), until the device itself is locked out.
        """
        if await self.run(partial(_test, item=self.login_item, key=keys.user)):
            return 0.0
        stats = await self.run(lambda limiter: limiter.get_window_stats(self.login_item,
                                                                        keys.origin))  # fmt: skip
        failures = self.login_item.amount - stats.remaining
        return float(self.login_delay * 2 ** max(0, failures))

    async def admit_login(
        self, *, ip: str | None, username: str, device: str | None = None
    ) -> LoginGate:
        """Count a sign-in attempt and refuse it early (429) when the limits already say no.

        Runs before anything is read from the database, so a flood of refused attempts
        costs no database work: too many attempts per minute from the IP or for the
        username (a remembered device: from that device); too many failures from this IP
        for any username; too many failures for the username from anywhere, for a client
        that is not a remembered device. A remembered device is slowed down instead
        (`_locked_delay`), so five wrong passwords from elsewhere do not lock its owner out.
        """
        gate = LoginGate(ip=ip, username=username, device=device)
        keys = self.login_keys(ip=ip, username=username, device=device)
        await self._count_attempt(keys)
        if device is not None:
            delay = await self._locked_delay(keys)
            if delay:
                await asyncio.sleep(delay)  # holding no lock: nobody waits behind it
        else:
            await self._refuse_if_locked(self._early_locks(keys))
        return gate

    def _early_locks(self, keys: LoginKeys) -> list[tuple[RateLimitItem, str]]:
        """The failure counters an attempt from an unknown client is refused by, bar its pair."""
        assert keys.ip is not None
        return [(self.login_ip_item, keys.ip), (self.login_item, keys.user)]

    async def _refuse_if_locked(self, locks: list[tuple[RateLimitItem, str]]) -> None:
        waits = [
            await self._retry_after(item, key)
            for item, key in locks
            if not await self.run(partial(_test, item=item, key=key))
        ]
        if waits:
            raise RateLimited(
                "too many failed sign-ins; try again later or ask an administrator to "
                "unlock the account",
                max(waits),
            )

    @asynccontextmanager
    async def login_attempt(
        self, gate: LoginGate, *, epoch: int = 0
    ) -> AsyncIterator[LoginAttempt]:
        """Hold an admitted attempt until its password has been checked, or raise 429.

        `epoch` is the user's unlock count (0 for a name nobody has). The checks of
        `admit_login` are repeated under per-counter locks, with the username's failures
        from this IP (or this remembered device): within a process, attempts sharing a
        counter run one at a time, so concurrent requests cannot all pass the check before
        the first failure is counted; across processes the overshoot is at most one
        attempt per process.
        """
        keys = self.login_keys(ip=gate.ip, username=gate.username, epoch=epoch,
                               device=gate.device)  # fmt: skip
        locks = [(self.login_item, keys.origin)]
        if keys.ip is not None:
            locks += self._early_locks(keys)
        async with AsyncExitStack() as stack:
            for key in sorted({key for _item, key in locks} | {keys.user}):
                await stack.enter_async_context(self._locks.hold(key))  # one order: no deadlock
            await self._refuse_if_locked(locks)
            yield LoginAttempt(self, keys)

    async def clear_username(self, username: str) -> None:
        """Clear a username's failures from anywhere (`POST /users/{id}/unlock`).

        The per-origin counters are left to the user's unlock epoch, which the unlock bumps.
        """
        key = f"login-user/{self.username_key(username)}"
        await self.run(lambda limiter: limiter.clear(self.login_item, key))

    # --- creating users and accounts -----------------------------------------------------

    async def check_rate(self, item: RateLimitItem, key: str, message: str) -> None:
        """Count one request against a rate, or raise 429 when over it."""
        if not await self.run(partial(_hit, item=item, key=key)):
            raise RateLimited(message, await self._retry_after(item, key))

    async def check_opening(self, *, ip: str | None, user_id: int | None) -> None:
        """Count a sign-up or an account opening: per IP, and per user when signed in.

        Anonymous sign-ups have their own, lower rate per IP (SIGNUP_RATE_PER_HOUR).
        """
        where = ip or "unknown"
        if user_id is None:
            message = "too many sign-ups from this address; try again later"
            await self.check_rate(self.signup_item, f"signup-ip/{where}", message)
            return
        message = "too many new users and accounts; slow down"
        await self.check_rate(self.open_ip_item, f"open-ip/{where}", message)
        await self.check_rate(self.open_item, f"open-user/{user_id}", message)

    # --- money movement ------------------------------------------------------------------

    async def check_movement(self, user_id: int | None) -> None:
        """Count one money movement request of a user, or raise 429 when over the rate."""
        key = f"movement/{user_id}"
        if not await self.run(lambda limiter: limiter.hit(self.movement_item, key)):
            retry_after = await self._retry_after(self.movement_item, key)
            raise RateLimited("too many money movements; slow down", retry_after)

    # --- reading: statements and payees -------------------------------------------------

    async def check_statement(self, user_id: int | None) -> None:
        """Count one statement request of a user, or raise 429 when over the rate."""
        message = "too many statements; wait a moment"
        await self.check_rate(self.statement_item, f"statement/{user_id}", message)

    async def check_payee(self, user_id: int | None) -> None:
        """Count one payee lookup of a user, found or not, or raise 429 when over the rate."""
        message = "too many payee lookups; wait a moment"
        await self.check_rate(self.payee_item, f"payee/{user_id}", message)

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
