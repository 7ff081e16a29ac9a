"""The workload's checkers: approve what waits, racing each other, then read how it ended."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.workload import WorkloadResult


MOVEMENT_ACTIONS = frozenset({"deposit", "withdrawal", "transfer"})


async def approve_pending(
    client: httpx.AsyncClient, result: WorkloadResult, makers_done: asyncio.Event, give_up_at: float
) -> None:
    """Approve whatever waits, oldest first, until the makers are done and nothing waits."""
    while time.monotonic() < give_up_at:
        done = makers_done.is_set()  # read before the list: a later 202 is in a later list
        try:
            page = await client.get("/approvals", params={"status": "pending", "limit": 200,
                                                          "order": "asc"})  # fmt: skip
        except httpx.HTTPError as error:
            result.checker_errors[type(error).__name__] += 1
            await asyncio.sleep(0.2)
            continue
        pending = page.json()["items"] if page.status_code == 200 else None
        if pending is not None:  # the branch's own approvals are its supervisor's to decide
            pending = [a for a in pending if a["action"] in MOVEMENT_ACTIONS]
        if pending == [] and done:
            return
        for approval in pending or []:
            try:
                answer = await client.post(f"/approvals/{approval['id']}/approve", json={})
            except httpx.HTTPError as error:
                result.checker_errors[type(error).__name__] += 1
                continue
            result.decisions[answer.status_code] += 1
        await asyncio.sleep(0.25)  # a list read waits behind every money transaction


async def final_approvals(client: httpx.AsyncClient, result: WorkloadResult) -> None:
    """Read how every approval ended and hang it on its outcome."""
    found: dict[int, dict[str, Any]] = {}
    skip = 0
    while True:
        answer = await client.get("/approvals", params={"skip": skip, "limit": 200})
        answer.raise_for_status()
        page = answer.json()
        found.update({item["id"]: item for item in page["items"]})
        skip += len(page["items"])
        if skip >= page["total"] or not page["items"]:
            break
    for outcome in result.outcomes:
        if outcome.status == 202:
            outcome.approval = found.get(outcome.body["approval"]["id"])
