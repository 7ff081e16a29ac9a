"""The business-day part of the bank workload: reversals of confirmed movements, and a close.

`DayRun` rides along `run_workload` (tests/workload.py): a reverser client reverses a share
of the cash movements the bank confirmed (each with its own Idempotency-Key, retried until
a final answer; a reversal that waits for approval is approved by the supervisor), and once
during the run the supervisor closes the business day. Cash needs an open till session and
the close needs every session closed, so the close first holds new cash movements, waits for
those in flight, closes every open session with its expected cash, closes the day, and
reopens the sessions for their tellers; transfers and reversals go on all the while, so the
close is raced by postings. `check_day` then checks what the bank confirmed against the
ledger, and that `GET /business-days/verify` finds the chain valid.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

UNKNOWN = frozenset({500, 502, 503, 504})
# Final refusals of a reversal: nothing moved.
REVERSAL_REFUSALS = frozenset({"insufficient_funds", "already_reversed", "no_open_session",
                               "till_insufficient_cash", "account_not_active", "session_closed",
                               "session_closing"})  # fmt: skip


@dataclass
class Reversal:
    """What the reverser was finally told about one reversal."""

    original_id: int
    status: int
    code: str | None
    transaction: dict[str, Any] = field(default_factory=dict)


@dataclass
class DayRun:
    """Reversals and one close of the business day during a workload run."""

    supervisor_token: str
    staff_token: str  # the workload's cash client: its sessions are reopened after the close
    share: float = 0.15  # of the confirmed cash movements, reversed
    close_after: float = 0.5  # of the run's seconds
    reversals: list[Reversal] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    _cash_open: asyncio.Event = field(default_factory=asyncio.Event)
    _in_flight: int = 0
    _idle: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self._cash_open.set()

    @contextlib.asynccontextmanager
    async def cash(self) -> AsyncIterator[None]:
        """Hold a cash movement while the day closes; count it while it runs."""
        await self._cash_open.wait()
        self._in_flight += 1
        try:
            yield
        finally:
            async with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    async def _hold_cash(self) -> None:
        self._cash_open.clear()
        async with self._idle:
            await self._idle.wait_for(lambda: self._in_flight == 0)


async def _call(
    clients: Sequence[httpx.AsyncClient],
    rng: random.Random,
    day: DayRun,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    give_up_at: float,
) -> tuple[int, dict[str, Any]]:
    """Send until a final answer (one Idempotency-Key for a POST); (0, {}) after giving up."""
    headers = {"Idempotency-Key": f"day-{uuid.UUID(int=rng.getrandbits(128))}"}
    delay = 0.05
    while True:
        client = rng.choice(clients)
        try:
            sent = headers if method == "POST" else None
            response = await client.request(method, path, json=body, headers=sent)
        except httpx.HTTPError as error:
            day.errors[type(error).__name__] += 1
        else:
            payload = response.json() if response.content else {}
            in_use = response.status_code == 409 and payload.get("code") == "idempotency_key_in_use"
            if response.status_code in UNKNOWN:
                day.errors[str(response.status_code)] += 1
            elif not in_use:
                return response.status_code, payload
        if time.monotonic() > give_up_at:
            day.unresolved.append(f"{method} {path}")
            return 0, {}
        await asyncio.sleep(delay * (0.5 + rng.random()))
        delay = min(delay * 2, 1.0)


def _clients(urls: Sequence[str], token: str) -> list[httpx.AsyncClient]:
    return [httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                              timeout=30) for url in urls]  # fmt: skip


async def reverse_some(
    urls: Sequence[str],
    day: DayRun,
    confirmed: list[Any],
    *,
    seed: int,
    stop_at: float,
    give_up_at: float,
) -> None:
    """Reverse a share of the confirmed cash movements (`Outcome`s of tests/workload.py)."""
    rng = random.Random(seed)
    staff = _clients(urls, day.staff_token)
    checker = _clients(urls, day.supervisor_token)
    seen = 0
    try:
        while time.monotonic() < stop_at:
            fresh = confirmed[seen:]
            seen += len(fresh)
            for outcome in fresh:
                if outcome.status != 201 or outcome.kind == "transfer" or rng.random() > day.share:
                    continue
                original = int(outcome.body["id"])
                # A cash reversal posts on the till of the session it asked in: no close
                # of the sessions until its approval executed.
                async with day.cash():
                    status, body = await _call(
                        staff, rng, day, "POST", f"/transactions/{original}/reverse",
                        {"reason_code": "teller_error"}, give_up_at,
                    )  # fmt: skip
                    if status == 202:
                        approval = body["approval"]["id"]
                        status, body = await _call(checker, rng, day, "POST",
                                                   f"/approvals/{approval}/approve", {},
                                                   give_up_at)  # fmt: skip
                        result = body.get("result") or {}
                        status, body = int(result.get("status", status)), result.get("body", {})
                day.reversals.append(Reversal(original, status, body.get("code"),
                                              body if status == 201 else {}))  # fmt: skip
            await asyncio.sleep(0.2)
    finally:
        for client in staff + checker:
            await client.aclose()


async def close_midway(
    urls: Sequence[str], day: DayRun, *, at: float, seed: int, give_up_at: float
) -> None:
    """At `at` (monotonic), close every open session and the business day, then reopen them."""
    rng = random.Random(seed * 104729 + 1)  # not reverse_some's keys (the same staff user)
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    checker = _clients(urls, day.supervisor_token)
    staff = _clients(urls, day.staff_token)
    await day._hold_cash()
    reopen: list[int] = []
    try:
        status, current = await _call(checker, rng, day, "GET", "/business-day", None, give_up_at)
        assert status == 200, current
        while True:
            status, body = await _call(checker, rng, day, "POST", "/business-day/close",
                                       {"date": current["date"]}, give_up_at)  # fmt: skip
            if status != 409 or body.get("code") != "sessions_open":
                break
            for session_id in body["context"]["session_ids"]:
                path = f"/sessions/{session_id}"
                status, session = await _call(checker, rng, day, "GET", path, None, give_up_at)
                counted = dict(session.get("expected") or {})
                status, closed = await _call(checker, rng, day, "POST",
                                             f"/sessions/{session_id}/close",
                                             {"counted": counted}, give_up_at)  # fmt: skip
                assert status == 200, closed
                reopen.append(int(session["till_id"]))
        assert status == 200, body
        day.reports.append(body)
        for till_id in reopen:
            status, opened = await _call(staff, rng, day, "POST", f"/tills/{till_id}/sessions", {},
                                         give_up_at)  # fmt: skip
            assert status == 201, opened
    finally:
        day._cash_open.set()
        for client in checker + staff:
            await client.aclose()


def check_day(db: Any, day: DayRun, verified: dict[str, Any]) -> dict[str, int]:
    """Assert every confirmed reversal is in the ledger once, refusals moved nothing, and the
    closed days verify."""
    assert not day.unresolved, day.unresolved[:5]
    assert day.reports, "the business day was not closed during the run"
    assert verified["valid"] is True, verified
    done = [r for r in day.reversals if r.status == 201]
    for reversal in day.reversals:
        assert reversal.status == 201 or reversal.code in REVERSAL_REFUSALS, reversal
    by_original = Counter(r.original_id for r in done)
    assert all(n == 1 for n in by_original.values()), "a movement was reversed twice"
    for reversal in done:
        ref = db.transaction_refs.find_one({"_id": reversal.transaction["id"]})
        assert ref is not None, reversal
        original = db.transaction_refs.find_one({"_id": reversal.original_id})
        entry = db.journal.find_one({"_id": original["journal_id"]})
        assert entry["reversed_by"] == ref["journal_id"], reversal
    reversal_entries = db.journal.count_documents({"kind": "reversal"})
    assert reversal_entries >= len(done)
    report = day.reports[0]
    assert report["hash"] == report.get("hash")
    return {"reversals": len(done), "refused": len(day.reversals) - len(done),
            "closed_days": len(day.reports)}  # fmt: skip
