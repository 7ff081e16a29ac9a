"""The bank workload (after Jepsen's `bank`): concurrent clients moving money, then invariants.

Each client repeatedly picks a random deposit, withdrawal or transfer, gives it a fresh
Idempotency-Key (also written into the description, so the ledger shows which key moved
money), and sends it to a random server. An unknown outcome — timeout, connection error,
5xx, 409 `idempotency_key_in_use` — is retried with the same key until a final answer comes.
At quiescence `check_invariants` compares the database with what the clients were told.
Used by the test suite (short form), `make soak` (long form) and `make bench`.

With a `Branch` (tests/workload_branch.py), teller clients also work tills in sessions and a
supervisor decides their approvals; their cash movements are outcomes like the others.

With `approvers` (checkers' tokens), a movement may answer 202: it waits for approval, and
every approver keeps approving the pending ones, all at once on their own servers, so two
checkers race for each; an approval executes once or fails (its money rule refused it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.ledger_checks import all_customer_legs, check_ledger
from tests.workload_branch import Branch, run_branch
from tests.workload_checkers import approve_pending, final_approvals
from tests.workload_day import DayRun, close_midway, reverse_some

UNKNOWN_STATUSES = frozenset({500, 502, 503, 504})
MONEY_CODES = frozenset({"insufficient_funds", "limit_exceeded"})
LEGS = {"deposit": 1, "withdraw": 1, "transfer": 2}
MONEY_KINDS = frozenset({"deposit", "withdraw", "transfer"})
# Holds the clients place and release alongside the movements (`holds=True`): an everyday
# reason (the admin's releases then need no approval), some expiring within seconds.
HOLD_REASONS = ("cheque_clearing", "dispute", "other")


@dataclass
class Outcome:
    """What a client was finally told about one movement."""

    key: str
    kind: str
    amount: Decimal
    account_id: int
    to_account_id: int | None
    status: int
    code: str | None
    attempts: int
    latency_ms: float
    body: dict[str, Any] = field(default_factory=dict)
    approval: dict[str, Any] | None = None  # a 202's approval, as it finally ended

    @property
    def executed(self) -> bool:
        """Tell whether the movement happened: at once (201) or by its approval."""
        if self.status == 201:
            return True
        return self.approval is not None and self.approval["status"] == "executed"

    hold_id: int | None = None  # the hold placed or released


@dataclass
class WorkloadResult:
    """Every outcome, plus what went wrong on the way."""

    outcomes: list[Outcome]
    seconds: float
    server_errors: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    unresolved: list[str] = field(default_factory=list)
    # The approvers' answers: 200 (their approval counted), 409 (another came first), ...
    decisions: Counter[int] = field(default_factory=Counter)
    checker_errors: Counter[str] = field(default_factory=Counter)  # the approvers' own

    @property
    def committed(self) -> list[Outcome]:
        """The movements the bank confirmed at once."""
        return [o for o in self.outcomes if o.status == 201 and o.kind in MONEY_KINDS]

    @property
    def hold_outcomes(self) -> list[Outcome]:
        """The holds placed and released (with `holds=True`)."""
        return [o for o in self.outcomes if o.kind not in MONEY_KINDS]

    @property
    def approved(self) -> list[Outcome]:
        """The movements that waited for approval and then happened."""
        return [o for o in self.outcomes if o.status == 202 and o.executed]

    def committed_per_second(self) -> float:
        """Confirmed movements per second of workload."""
        return len(self.committed) / self.seconds if self.seconds else 0.0

    def latency_ms(self, q: float) -> float:
        """A latency percentile of confirmed movements (first attempt to final answer)."""
        values = sorted(o.latency_ms for o in self.committed)
        if not values:
            return 0.0
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    def net_cash(self) -> Decimal:
        """Deposits minus withdrawals the clients were told about."""
        total = Decimal("0.00")
        for outcome in [*self.committed, *self.approved]:
            if outcome.kind == "deposit":
                total += outcome.amount
            elif outcome.kind == "withdraw":
                total -= outcome.amount
        return total

    def summary(self) -> dict[str, Any]:
        """Figures to print."""
        kinds = Counter((o.kind, o.status) for o in self.outcomes)
        return {
            "movements": len(self.outcomes),
            "committed": len(self.committed),
            "committed_per_s": round(self.committed_per_second(), 1),
            "p50_ms": round(self.latency_ms(0.5), 1),
            "p99_ms": round(self.latency_ms(0.99), 1),
            "mean_attempts": round(statistics.fmean(o.attempts for o in self.outcomes), 2)
            if self.outcomes
            else 0,
            "by_kind_status": {f"{k}:{s}": n for (k, s), n in sorted(kinds.items())},
            "approved": len(self.approved),
            "decisions": dict(self.decisions),
            "checker_errors": dict(self.checker_errors),
            "server_errors": dict(self.server_errors),
            "transport_errors": dict(self.transport_errors),
            "unresolved": len(self.unresolved),
        }


async def _send_until_final(
    clients: Sequence[httpx.AsyncClient],
    rng: random.Random,
    path: str,
    body: dict[str, Any],
    key: str,
    result: WorkloadResult,
    give_up_at: float,
) -> tuple[int, dict[str, Any], int]:
    attempts = 0
    delay = 0.05
    while True:
        attempts += 1
        client = rng.choice(clients)
        try:
            response = await client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as error:
            result.transport_errors[type(error).__name__] += 1
        else:
            status = response.status_code
            payload = response.json() if response.content else {}
            if status in UNKNOWN_STATUSES:
                result.server_errors[status] += 1
            elif status == 409 and payload.get("code") == "idempotency_key_in_use":
                pass
            else:
                return status, payload, attempts
        if time.monotonic() > give_up_at:
            result.unresolved.append(key)
            return 0, {}, attempts
        await asyncio.sleep(delay * (0.5 + rng.random()))
        delay = min(delay * 2, 1.0)


async def run_workload(
    urls: Sequence[str],
    token: str,
    accounts: Sequence[int],
    *,
    clients: int = 16,
    seconds: float = 20.0,
    seed: int = 1,
    settle_seconds: float = 90.0,
    timeout: float = 10.0,
    branch: Branch | None = None,
    approvers: Sequence[str] = (),
    currencies: Mapping[int, str] | None = None,
    day: DayRun | None = None,
    holds: bool = False,
) -> WorkloadResult:
    """Run `clients` concurrent clients for `seconds`, then let in-flight retries settle.

    With a `branch`, its tellers and supervisor run alongside (tellers close their sessions
    after `seconds`, within the settle time).
    `approvers`: checkers' tokens, each approving pending approvals on its own server
    (round robin over `urls`) until the clients are done and nothing waits any more.
    `currencies`: each account's currency, so transfers stay within one.
    With `day` (tests/workload_day.py), a share of the confirmed cash movements is reversed
    and the business day is closed once during the run.
    With `holds`, a fifth of the requests place a hold or release one placed before.
    """
    result = WorkloadResult(outcomes=[], seconds=seconds)
    headers = {"Authorization": f"Bearer {token}"}
    http = [
        httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=clients),
        )
        for url in urls
    ]
    checkers = [
        httpx.AsyncClient(
            base_url=urls[n % len(urls)],
            timeout=timeout,
            headers={"Authorization": f"Bearer {checker}"},
        )
        for n, checker in enumerate(approvers)
    ]
    started = time.monotonic()
    stop_at = started + seconds
    give_up_at = stop_at + settle_seconds
    makers_done = asyncio.Event()

    placed: list[int] = []  # holds placed so far, for releases to pick from

    async def client_loop(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        kinds = ("deposit", "withdraw", "transfer", "hold", "release")
        weights = (3, 3, 4, 2, 1) if holds else (3, 3, 4, 0, 0)
        while time.monotonic() < stop_at:
            kind = rng.choices(kinds, weights=weights)[0]
            if kind == "release" and not placed:
                kind = "hold"
            amount = Decimal(rng.randint(1, 5000)) / 100
            source = rng.choice(accounts)
            key = f"wl-{uuid.UUID(int=rng.getrandbits(128))}"
            description = f"wl:{key}"
            target: int | None = None
            hold_id: int | None = None
            if kind == "hold":
                path = f"/accounts/{source}/holds"
                body = {"amount": str(amount), "reason_code": rng.choice(HOLD_REASONS),
                        "reference": description}  # fmt: skip
                if rng.random() < 0.3:
                    # Expires within the run, yet after a slow request (seconds, under load) lands.
                    expires = datetime.now(UTC) + timedelta(seconds=rng.uniform(8, 15))
                    body["expires_at"] = expires.isoformat()
            elif kind == "release":
                hold_id = rng.choice(placed)
                path = f"/holds/{hold_id}/release"
                body = {"note": description}
            elif kind == "transfer":
                target = rng.choice([a for a in accounts if a != source and (
                    currencies is None or currencies[a] == currencies[source])])  # fmt: skip
                path = "/transfers"
                body = {
                    "from_account_id": source,
                    "to_account_id": target,
                    "amount": str(amount),
                    "description": description,
                }
            else:
                path = f"/accounts/{source}/{kind}"
                body = {"amount": str(amount), "description": description}
            async with day.cash() if day is not None and kind != "transfer" else _no_hold():
                began = time.monotonic()
                status, payload, attempts = await _send_until_final(
                    http, rng, path, body, key, result, give_up_at
                )
            if kind == "hold":
                hold_id = int(payload["id"]) if status == 201 else None
                if hold_id is not None:
                    placed.append(hold_id)
            result.outcomes.append(
                Outcome(
                    key=key,
                    kind=kind,
                    amount=amount,
                    account_id=source,
                    to_account_id=target,
                    status=status,
                    code=payload.get("code"),
                    attempts=attempts,
                    latency_ms=(time.monotonic() - began) * 1000,
                    body=payload,
                    hold_id=hold_id,
                )
            )

    extra = []
    if day is not None:
        extra = [
            reverse_some(urls, day, result.outcomes, seed=seed, stop_at=stop_at,
                         give_up_at=give_up_at),
            close_midway(urls, day, at=started + seconds * day.close_after, seed=seed,
                         give_up_at=give_up_at),
        ]  # fmt: skip

    async def makers() -> None:
        tasks = [*(client_loop(n) for n in range(clients)), *extra]
        if branch is not None:
            tasks.append(run_branch(branch, urls, result, seed=seed, stop_at=stop_at,
                                    give_up_at=give_up_at))  # fmt: skip
        try:
            await asyncio.gather(*tasks)
        finally:
            makers_done.set()

    try:
        await asyncio.gather(
            makers(), *(approve_pending(c, result, makers_done, give_up_at) for c in checkers)
        )
        result.seconds = time.monotonic() - started
        if any(outcome.status == 202 for outcome in result.outcomes):
            await final_approvals(http[0], result)
    finally:
        for client in [*http, *checkers]:
            await client.aclose()
    return result


@contextlib.asynccontextmanager
async def _no_hold() -> AsyncIterator[None]:
    yield


def _dec(value: Any) -> Decimal:
    return value.to_decimal() if hasattr(value, "to_decimal") else Decimal(str(value))


def check_invariants(db: Any, result: WorkloadResult, opening_total: Decimal) -> dict[str, Any]:
    """Assert the bank's invariants over a PyMongo database after a workload; return counts.

    The ledger's own invariants are `tests.ledger_checks.check_ledger`'s; these compare the
    customer legs with what the clients were told.
    """
    accounts = {doc["_id"]: doc for doc in db.accounts.find()}
    entries = all_customer_legs(db)
    transfers = list(db.transfers.find())
    # No unknown outcome is left: every movement got a final answer, every approval ended.
    assert not result.unresolved, f"{len(result.unresolved)} movements never got a final answer"
    for outcome in result.outcomes:
        if outcome.kind not in MONEY_KINDS:
            continue  # holds: check_holds
        if outcome.status == 202:
            approval = outcome.approval
            assert approval is not None, outcome
            assert approval["status"] in ("executed", "failed"), approval
            if approval["status"] == "failed":
                assert approval["result"]["body"]["code"] in MONEY_CODES, approval
            continue
        assert outcome.status == 201 or (outcome.status == 409 and outcome.code in MONEY_CODES), (
            outcome
        )
        if outcome.code == "insufficient_funds":
            # No refusal was wrong: the facts say what was available, and it was too little.
            facts = outcome.body["context"]
            assert Decimal(facts["available"]) < Decimal(facts["requested"]), outcome
    # Ids are unique, and each account's ledger is gap-free and sums to its balance.
    assert len({e["_id"] for e in entries}) == len(entries)
    assert len({t["_id"] for t in transfers}) == len(transfers)
    by_account: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        by_account.setdefault(entry["account_id"], []).append(entry)
    total = Decimal("0.00")
    for account_id, account in accounts.items():
        mine = sorted(by_account.get(account_id, []), key=lambda e: e["seq"])
        assert [e["seq"] for e in mine] == list(range(1, len(mine) + 1)), account_id
        running = Decimal("0.00")
        for entry in mine:
            sign = 1 if entry["direction"] == "credit" else -1
            running += sign * _dec(entry["amount"])
            assert running == _dec(entry["balance_after"]), (account_id, entry["seq"])
        balance = _dec(account["balance"])
        assert balance == running, (account_id, balance, running)
        assert balance >= -_dec(account["overdraft_limit"]), account_id
        ids = [e["_id"] for e in mine]
        assert ids == sorted(ids), f"ids of account {account_id} do not increase with seq"
        total += balance
    # Money is conserved: opening + deposits - withdrawals the clients were told about.
    assert total == opening_total + result.net_cash(), (total, opening_total, result.net_cash())
    # Every transfer has exactly its two legs.
    legs = Counter(e["transfer_id"] for e in entries if e.get("transfer_id") is not None)
    assert all(legs[t["_id"]] == 2 for t in transfers)
    assert set(legs) == {t["_id"] for t in transfers}
    # No key moved money twice, and every confirmed movement is in the ledger; a movement
    # that waited is there exactly once if its approval executed, else not at all.
    per_key = Counter(
        e["description"] for e in entries if str(e.get("description", "")).startswith("wl:")
    )
    per_approval = Counter(e["approval_id"] for e in entries if e.get("approval_id") is not None)
    for outcome in [o for o in result.outcomes if o.kind in MONEY_KINDS]:
        found = per_key.get(f"wl:{outcome.key}", 0)
        assert found == (LEGS[outcome.kind] if outcome.executed else 0), (outcome, found)
        if outcome.status == 202:
            assert outcome.approval is not None
            made = per_approval.get(outcome.approval["id"], 0)
            assert made == (LEGS[outcome.kind] if outcome.executed else 0), (outcome, made)
    # And the double-entry ledger's own invariants (DESIGN.md "Money"), tills included.
    check_ledger(db)
    return {"accounts": len(accounts), "entries": len(entries), "transfers": len(transfers),
            "approved": len(result.approved)}  # fmt: skip


def check_holds(db: Any, result: WorkloadResult) -> dict[str, int]:
    """Assert the holds' invariants after a workload with `holds=True`; return counts.

    Every hold got its answer (placing 201; releasing 200, or 409 hold_not_active when it
    had expired or been released first); each account's `held` is the sum of its active
    holds; every hold answered released is stored released; and an account's available
    balance (balance + overdraft - held) is below zero only if a lien was placed on it:
    a hold whose `hold.placed` event shows it exceeded what was available. A debit never
    took `available` below zero.
    """
    placed = 0
    released: list[int] = []
    for outcome in result.hold_outcomes:
        if outcome.kind == "hold":
            assert outcome.status == 201, outcome
            placed += 1
        else:
            assert outcome.status == 200 or (
                outcome.status == 409 and outcome.code == "hold_not_active"), outcome  # fmt: skip
            if outcome.status == 200:
                assert outcome.hold_id is not None
                released.append(outcome.hold_id)
                stored = db.holds.find_one({"_id": outcome.hold_id})
                assert stored is not None, outcome
                assert stored["status"] == "released", outcome
    # A release answered 200 is released once, by one event (a retried key replays).
    assert len(set(released)) == len(released), "a hold was released twice"
    liens = {
        event["target_id"]
        for event in db.audit_events.find({"action": "hold.placed", "outcome": "ok"})
        if Decimal(event["details"]["available_after"]) < 0
    }
    for account in db.accounts.find():
        active = sum((_dec(h["amount"]) for h in
                      db.holds.find({"account_id": account["_id"], "status": "active"})),
                     Decimal("0.00"))  # fmt: skip
        assert _dec(account["held"]) == active, (account["_id"], account["held"], active)
        available = _dec(account["balance"]) + _dec(account["overdraft_limit"]) - active
        assert available >= 0 or account["_id"] in liens, (account["_id"], available)
    # Each successful release is one hold.released event; each expired hold one hold.expired.
    for hold_id in released:
        assert (
            db.audit_events.count_documents(
                {"action": "hold.released", "outcome": "ok", "details.hold_id": hold_id}
            )
            == 1
        )
    for hold in db.holds.find({"status": "expired"}):
        assert db.audit_events.count_documents(
            {"action": "hold.expired", "details.hold_id": hold["_id"]}) == 1, hold  # fmt: skip
    return {"placed": placed, "released": len(released), "liens": len(liens)}


def open_workload_accounts(
    admin: Any, count: int, *, username: str = "wlcustomer", currencies: Sequence[str] = ("USD",)
) -> list[int]:
    """Create a customer with `count` funded accounts (some with overdraft) for the workload.

    The accounts take `currencies` in turn. The admin needs an open till session holding
    each currency, and no approval on raising limits (`relax_settings_policies`).
    """
    customer = admin.post(
        "/users",
        json={
            "username": username,
            "password": "workload-pass-1",
            "full_name": "Work Load",
            "email": f"{username}@example.com",
        },
    )
    assert customer.status_code == 201, customer.text
    owner = customer.json()["id"]
    accounts = []
    for n in range(count):
        currency = currencies[n % len(currencies)]
        body = {"account_type": "checking", "owner_id": owner, "currency": currency}
        account = admin.post("/accounts", json=body)
        assert account.status_code == 201, account.text
        account_id = account.json()["id"]
        settings: dict[str, Any] = {"daily_withdrawal_limit": None}
        if n % 3 == 0:
            settings["overdraft_limit"] = "200.00"
        assert admin.put(f"/accounts/{account_id}/admin", json=settings).status_code == 200
        funded = admin.post(f"/accounts/{account_id}/deposit", json={"amount": "1000.00"})
        assert funded.status_code == 201, funded.text
        accounts.append(account_id)
    return accounts
