"""Idempotency-Key: one answer per (user, key), written in the movement's own transaction.

1. The key is claimed (a `pending` record with a random claim token) before the movement runs.
2. The movement's transaction turns the claim into the stored answer with a conditional
   update on the claim token, so the money and the stored answer commit together, and a
   request whose claim lapsed (30 s) and was taken over can never commit a second movement.
3. A 409 refusal is stored in the transaction that records the refusal. Other failures
   (403, 404, 422, 5xx) release the claim so a corrected retry can run.
4. A retry with the same fingerprint gets the stored status and body back with
   `Idempotent-Replayed: true`; a different fingerprint answers 422; a retry while the
   first request still holds a live claim answers 409 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.documents import IdempotencyRecord
from server.errors import DomainError, answer, refused
from server.services.context import Ctx
from shared.errors import ErrorCode
from shared.schemas.common import now_ms

CLAIM_SECONDS = 30
RETENTION = timedelta(hours=48)
REPLAYED_HEADER = "Idempotent-Replayed"


def _records() -> Any:
    return IdempotencyRecord.get_pymongo_collection()


def check_key(key: str) -> str:
    """Return a valid key (1-255 visible ASCII characters) or answer 422."""
    if not 1 <= len(key) <= 255 or not all(0x21 <= ord(ch) <= 0x7E for ch in key):
        raise refused(
            ErrorCode.INVALID_IDEMPOTENCY_KEY,
            "Idempotency-Key must be 1-255 visible ASCII characters",
        )
    return key


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """Hash the method, the path and the canonical body (`10` and `"10.00"` are the same)."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path.rstrip("/") or "/", "body": body},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Replay:
    """The stored answer of an earlier request with the same key and fingerprint."""

    status: int
    body: dict[str, Any]


type Render = Callable[[Any], tuple[int, dict[str, Any]]]
"""How the route layer answers a service's result: its status and JSON body."""


@dataclass(frozen=True)
class Claim:
    """This request's hold on a key; `complete` stores the answer inside a transaction.

    The route that claimed the key gave `render`, so the stored answer is exactly the one the
    route sends: services hand over their result and never choose a status.
    """

    record_id: str
    token: str
    render: Render

    async def complete(self, session: AsyncClientSession, result: Any) -> None:
        """Store the answer to `result` in the caller's transaction."""
        status, body = self.render(result)
        await self._store(session, status, body)

    async def refuse(self, session: AsyncClientSession, error: DomainError) -> None:
        """Store a refusal (a 409) in the transaction that records it."""
        status, body, _headers = answer(error)
        await self._store(session, status, body)

    async def _store(self, session: AsyncClientSession, status: int, body: Any) -> None:
        """Store an answer in the caller's transaction, or refuse if the claim was lost."""
        result = await _records().update_one(
            {"_id": self.record_id, "state": "pending", "claim": self.token},
            {"$set": {"state": "done", "status": status, "body": body, "claim": None}},
            session=session,
        )
        if result.modified_count != 1:
            # Our claim lapsed and another request took the key over: it decides.
            raise key_in_use()

    async def release(self) -> None:
        """Give the key back after an answer that is not stored (4xx other than 409, 5xx)."""
        await _records().delete_one({"_id": self.record_id, "state": "pending",
                                     "claim": self.token})  # fmt: skip


def key_in_use() -> DomainError:
    """Return the refusal of a key whose first request is still running."""
    return DomainError(
        ErrorCode.IDEMPOTENCY_KEY_IN_USE,
        "a request with this Idempotency-Key is still running; retry shortly",
        retry_after=1,
    )


async def claim(ctx: Ctx, key: str, print_: str, render: Render) -> Claim | Replay:
    """Claim a key for this request, or return the stored answer to replay."""
    assert ctx.actor is not None
    record_id = f"{ctx.actor.id}:{hashlib.sha256(key.encode()).hexdigest()}"
    for _attempt in range(5):
        now = now_ms()
        token = secrets.token_hex(12)
        # Insert first: a new key is the common case, and looking up a missing key would
        # scan the collection on the embedded database; a duplicate says the key is known.
        try:
            await _records().insert_one({
                "_id": record_id, "user_id": ctx.actor.id, "fingerprint": print_,
                "state": "pending", "claim": token, "claimed_at": now, "status": None,
                "body": None, "created_at": now, "expires_at": now + RETENTION,
            })  # fmt: skip
        except DuplicateKeyError:
            existing = await _records().find_one({"_id": record_id})
        else:
            return Claim(record_id, token, render)
        if existing is None:
            continue  # it expired between the two: claim it afresh
        if existing["fingerprint"] != print_:
            raise refused(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used for a different request",
            )
        if existing["state"] == "done":
            return Replay(int(existing["status"]), dict(existing["body"]))
        if existing["claimed_at"] > now - timedelta(seconds=CLAIM_SECONDS):
            raise key_in_use()
        taken = await _records().update_one(
            {"_id": record_id, "state": "pending", "claim": existing["claim"]},
            {"$set": {"claim": token, "claimed_at": now}},
        )
        if taken.modified_count == 1:
            return Claim(record_id, token, render)
    raise key_in_use()


type Run = Callable[[Claim | None], Awaitable[Any]]


def is_stored_refusal(error: DomainError) -> bool:
    """Tell whether a refusal is the key's answer for good (a 409 other than "in use")."""
    return error.status == 409 and error.code is not ErrorCode.IDEMPOTENCY_KEY_IN_USE


async def run_idempotent(
    ctx: Ctx, key: str | None, print_: str, run: Run, render: Render
) -> tuple[int, dict[str, Any], bool]:
    """Run a request under an optional key; return (status, body, replayed).

    `run` gets the claim (None without a key) and returns the service's result, which
    `render` turns into the answer; the service stores that same answer through the claim
    inside its own transaction.
    """
    if key is None:
        status, body = render(await run(None))
        return status, body, False
    outcome = await claim(ctx, check_key(key), print_, render)
    if isinstance(outcome, Replay):
        return outcome.status, outcome.body, True
    try:
        result = await run(outcome)
    except DomainError as error:
        if not is_stored_refusal(error):
            await outcome.release()
        raise
    except BaseException:
        await outcome.release()
        raise
    status, body = render(result)
    return status, body, False


__all__ = ["Claim", "Render", "Replay", "claim", "fingerprint", "run_idempotent"]
