"""The branch part of the bank workload: tellers with tills and sessions, and a supervisor.

Each teller client works its own till in sessions: it opens one (sometimes with a count,
sometimes a count that is off by a little), deposits and withdraws cash for customers,
asks for cash from or to the vault (approval `vault.transfer`), and closes the session
with a count that is exact or off (approval `till.variance`). A supervisor client decides
those approvals as they come (rejecting some counts, so the teller recounts). Every request
carries its own Idempotency-Key and is retried with it until a final answer comes, through
server and database kills alike.

The teller cannot see what its till holds (blind balancing), so each client keeps the
till's cash from what the bank confirmed to it; after the run the ledger must agree with
every client to the cent (`check_branch`).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

ZERO = Decimal("0.00")
UNKNOWN = frozenset({500, 502, 503, 504})
MONEY_CODES = frozenset({"insufficient_funds", "limit_exceeded"})


@dataclass
class Teller:
    """A teller client's till and what the bank confirmed to it."""

    token: str
    till_id: int
    cash: Decimal  # the till's USD cash as far as the confirmed answers go
    session_id: int | None = None
    sessions: int = 0
    differences: int = 0
    moves: int = 0


@dataclass
class Branch:
    """Who works the branch, and what their runs confirmed."""

    supervisor_token: str
    tellers: list[Teller]
    accounts: list[int]
    currency: str = "USD"
    # The net over/short the confirmed counts posted (shortages minus overages).
    over_short: Decimal = ZERO
    decisions: Counter[str] = field(default_factory=Counter)
    unresolved: list[str] = field(default_factory=list)


class GaveUp(Exception):
    """A request got no final answer before the workload's deadline."""


class Caller:
    """Send a request to a random server until a final answer, as one user."""

    def __init__(
        self, urls: Sequence[str], token: str, rng: random.Random, give_up_at: float
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self.clients = [httpx.AsyncClient(base_url=u, headers=headers, timeout=10) for u in urls]
        self.rng = rng
        self.give_up_at = give_up_at
        self.errors: Counter[str] = Counter()
        self.server_errors: Counter[int] = Counter()

    async def close(self) -> None:
        """Close the connection pools."""
        for client in self.clients:
            await client.aclose()

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: bool = True
    ) -> tuple[int, dict[str, Any]]:
        """Return the final status and body (unknown outcomes retried with the same key)."""
        headers = {"Idempotency-Key": f"br-{uuid.UUID(int=self.rng.getrandbits(128))}"}
        delay = 0.05
        while True:
            client = self.rng.choice(self.clients)
            try:
                response = await client.request(
                    method, path, json=body, headers=headers if key and method != "GET" else None
                )
            except httpx.HTTPError as error:
                self.errors[type(error).__name__] += 1
            else:
                payload = response.json() if response.content else {}
                code = payload.get("code") if isinstance(payload, dict) else None
                if response.status_code in UNKNOWN:
                    self.server_errors[response.status_code] += 1
                elif not (response.status_code == 409 and code == "idempotency_key_in_use"):
                    return response.status_code, payload
            if time.monotonic() > self.give_up_at:
                raise GaveUp(f"{method} {path}")
            await asyncio.sleep(delay * (0.5 + self.rng.random()))
            delay = min(delay * 2, 1.0)

    async def decided(self, approval_id: int) -> dict[str, Any]:
        """Wait until an approval is no longer pending and return it."""
        while True:
            status, body = await self.call("GET", f"/approvals/{approval_id}")
            assert status == 200, body
            if body["status"] != "pending":
                return body
            if time.monotonic() > self.give_up_at:
                raise GaveUp(f"approval {approval_id}")
            await asyncio.sleep(0.1)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


async def _open(branch: Branch, teller: Teller, caller: Caller, rng: random.Random) -> None:
    counted: dict[str, str] | None = None
    off = ZERO
    roll = rng.random()
    if roll < 0.3:
        counted = {branch.currency: _money(teller.cash)}
    elif roll < 0.45:
        off = Decimal(rng.choice([-1, 1])) * Decimal(rng.randint(1, 300)) / 100
        off = max(off, -teller.cash)
        counted = {branch.currency: _money(teller.cash + off)}
    status, body = await caller.call("POST", f"/tills/{teller.till_id}/sessions",
                                     {"counted": counted})  # fmt: skip
    if status == 202:
        approval = await caller.decided(body["approval"]["id"])
        if approval["status"] == "executed":
            body, status = approval["result"]["body"], 201
            teller.cash += off
            branch.over_short -= off
            teller.differences += 1
        else:  # rejected: open without a count
            status, body = await caller.call("POST", f"/tills/{teller.till_id}/sessions", {})
    assert status == 201, body
    assert Decimal(body["opening"].get(branch.currency, "0")) == teller.cash, (body, teller)
    teller.session_id = int(body["id"])
    teller.sessions += 1


async def _move_cash(teller: Teller, caller: Caller, rng: random.Random, currency: str) -> None:
    """Ask for cash from the vault, or send some back; a supervisor approves or not."""
    to_till = teller.cash < 200 or rng.random() < 0.5
    amount = Decimal(rng.randint(100, 20000)) / 100
    if not to_till:
        amount = min(amount, teller.cash)
        if amount <= 0:
            return
    body = {"direction": "to_till" if to_till else "to_vault", "currency": currency,
            "amount": _money(amount), "reference": "workload"}  # fmt: skip
    status, answer = await caller.call("POST", f"/tills/{teller.till_id}/cash", body)
    assert status == 202, answer
    # Wait for the decision: the teller's cash is known only once it is.
    approval = await caller.decided(answer["approval"]["id"])
    if approval["status"] == "executed":
        teller.cash += amount if to_till else -amount
        teller.moves += 1


async def _close(branch: Branch, teller: Teller, caller: Caller, rng: random.Random) -> None:
    assert teller.session_id is not None
    path = f"/sessions/{teller.session_id}/close"
    off = ZERO
    # A teller's first close always counts a difference, so every run posts one.
    if rng.random() < 0.35 or teller.sessions == 1:
        off = Decimal(rng.choice([-1, 1])) * Decimal(rng.randint(1, 500)) / 100
        off = max(off, -teller.cash)
        if off == 0:
            off = Decimal("0.01")
    body: dict[str, Any] = {"counted": {branch.currency: _money(teller.cash + off)}}
    if off != 0:
        body["note"] = "workload difference"
    status, answer = await caller.call("POST", path, body)
    if status == 202:
        approval = await caller.decided(answer["approval"]["id"])
        if approval["status"] == "executed":
            answer, status = approval["result"]["body"], 200
            teller.cash += off
            branch.over_short -= off
            teller.differences += 1
        else:  # rejected: the session is open again; recount exactly
            status, answer = await caller.call("POST", path,
                                               {"counted": {branch.currency:
                                                            _money(teller.cash)}})  # fmt: skip
    assert status == 200, answer
    assert answer["status"] == "closed", answer
    assert Decimal(answer["counted"][branch.currency]) == teller.cash, (answer, teller)
    teller.session_id = None


async def _teller_loop(
    branch: Branch,
    teller: Teller,
    urls: Sequence[str],
    result: Any,
    rng: random.Random,
    stop_at: float,
    give_up_at: float,
) -> None:
    from tests.workload import Outcome  # the workload's record of one movement

    caller = Caller(urls, teller.token, rng, give_up_at)
    try:
        while time.monotonic() < stop_at:
            await _open(branch, teller, caller, rng)
            for _step in range(rng.randint(3, 10)):
                if time.monotonic() >= stop_at:
                    break
                if rng.random() < 0.15:
                    await _move_cash(teller, caller, rng, branch.currency)
                    continue
                kind = "deposit" if teller.cash < 50 or rng.random() < 0.5 else "withdraw"
                amount = Decimal(rng.randint(1, 5000)) / 100
                if kind == "withdraw":
                    amount = min(amount, teller.cash)  # never more than the till holds
                account = rng.choice(branch.accounts)
                key = f"wl-{uuid.UUID(int=rng.getrandbits(128))}"
                began = time.monotonic()
                status, body = await caller.call(
                    "POST", f"/accounts/{account}/{kind}",
                    {"amount": _money(amount), "description": f"wl:{key}"},
                )  # fmt: skip
                if status == 201:
                    teller.cash += amount if kind == "deposit" else -amount
                result.outcomes.append(Outcome(
                    key=key, kind=kind, amount=amount, account_id=account, to_account_id=None,
                    status=status, code=body.get("code"), attempts=1,
                    latency_ms=(time.monotonic() - began) * 1000, body=body,
                ))  # fmt: skip
            await _close(branch, teller, caller, rng)
    except GaveUp as error:
        branch.unresolved.append(str(error))
    finally:
        result.transport_errors.update(caller.errors)
        result.server_errors.update(caller.server_errors)
        await caller.close()


async def _supervisor_loop(
    branch: Branch,
    urls: Sequence[str],
    result: Any,
    rng: random.Random,
    until: list[bool],
    give_up_at: float,
) -> None:
    caller = Caller(urls, branch.supervisor_token, rng, give_up_at)
    variances_approved = 0  # the first difference is always approved: the run posts one
    try:
        while not until or not until[0]:
            status, page = await caller.call("GET", "/approvals?status=pending&limit=200")
            assert status == 200, page
            for approval in page["items"]:
                if approval["action"] not in ("till.variance", "vault.transfer"):
                    continue
                variance = approval["action"] == "till.variance"
                reject = variance and variances_approved > 0 and rng.random() < 0.3
                variances_approved += variance and not reject
                verb = "reject" if reject else "approve"
                body = {"reason": "recount please"} if reject else {}
                status, decided = await caller.call(
                    "POST", f"/approvals/{approval['id']}/{verb}", body
                )
                if status == 200:
                    branch.decisions[f"{approval['action']}:{decided['status']}"] += 1
                else:  # decided meanwhile by a retry, or cancelled: not ours to count
                    assert status == 409, decided
                    assert decided["code"] == "approval_not_pending", decided
            await asyncio.sleep(0.5)
    except GaveUp as error:
        branch.unresolved.append(str(error))
    finally:
        result.transport_errors.update(caller.errors)
        result.server_errors.update(caller.server_errors)
        await caller.close()


async def run_branch(
    branch: Branch,
    urls: Sequence[str],
    result: Any,
    *,
    seed: int,
    stop_at: float,
    give_up_at: float,
) -> None:
    """Run every teller and the supervisor until `stop_at`; tellers then close their sessions."""
    done: list[bool] = []
    supervisor = asyncio.create_task(
        _supervisor_loop(branch, urls, result, random.Random(seed * 7919), done, give_up_at)
    )
    try:
        await asyncio.gather(*(
            _teller_loop(branch, teller, urls, result, random.Random(seed * 1009 + n), stop_at,
                         give_up_at)
            for n, teller in enumerate(branch.tellers)
        ))  # fmt: skip
    finally:
        done.append(True)
        await supervisor


def check_branch(db: Any, branch: Branch) -> dict[str, int]:
    """Assert the ledger agrees with every teller client, and every session is closed.

    The bank's over/short account moved by exactly the differences the clients were told
    were posted (the branch's runs are the only counts on its database).
    """
    assert not branch.unresolved, branch.unresolved
    for teller in branch.tellers:
        assert teller.session_id is None, teller
        raw = db.ledger_accounts.find_one({"_id": f"till:{teller.till_id}:{branch.currency}"})
        held = raw["balance"].to_decimal() if raw else ZERO
        assert held == teller.cash, (teller, held)
    assert db.teller_sessions.count_documents(
        {"till_id": {"$in": [t.till_id for t in branch.tellers]},
         "status": {"$ne": "closed"}}
    ) == 0  # fmt: skip
    raw = db.ledger_accounts.find_one({"_id": f"over_short:{branch.currency}"})
    now = raw["balance"].to_decimal() if raw else ZERO
    assert now == branch.over_short, (now, branch)
    # No approval executed twice: one over/short entry per executed count at most.
    per_approval = Counter(
        entry["approval_id"]
        for entry in db.journal.find({"kind": "over_short"})
        if entry.get("approval_id") is not None
    )
    assert all(n == 1 for n in per_approval.values()), per_approval
    return {"sessions": sum(t.sessions for t in branch.tellers),
            "differences": sum(t.differences for t in branch.tellers),
            "moves": sum(t.moves for t in branch.tellers)}  # fmt: skip
