"""Anonymous floods do not stall money: refused sign-ins and sign-ups cost no transaction.

While four clients (another process) flood `/login` with wrong passwords and `/users` with
sign-ups, 20 requests a second (1,200 a minute from one address), which the limits at their
real values answer 429, a customer deposits (self-service cash is on in development).
Before issue 11 every refused `/login` wrote an audit event in a transaction behind the
same per-process lock as deposits, and sign-ups were unlimited: deposits queued behind
them. Quiet and flooded rounds alternate, so the machine's own drift falls on both alike.
Measured on the shared 2-core machine (load 9-13): before, the flooded/quiet ratio of the
median deposit was 7.6 (0.26 s to 1.7 s) while the flood itself got 2 answers a second;
after, 1.2-1.35, every flood request answered 429 at once.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import ROOT, Api, expect, real_limits

# Timing and load: run after the parallel part, alone (Makefile `test`).
pytestmark = pytest.mark.serial

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
FLOODERS = 4
RATE = 5  # requests a second per flooder
ROUNDS = 5
DEPOSITS = 8
# The limits at their real values (the default test server raises them).
SERVER_ENV = real_limits(MOVEMENT_RATE_PER_MINUTE="1000000")


def deposit_latencies(api: Api, account_id: int, count: int) -> list[float]:
    """Time `count` self-service deposits, one after the other."""
    found = []
    for _ in range(count):
        started = time.perf_counter()
        expect(api.post(f"/accounts/{account_id}/deposit", json={"amount": "1.00"}), 201)
        found.append(time.perf_counter() - started)
    return found


def exhaust_the_limits(anon: Api) -> None:
    """Spend the IP's sign-up allowance and lock the flood's usernames (their real values)."""
    for n in range(25):
        body = {"username": f"early{n}", "password": "flood-password-1", "full_name": "Early",
                "email": f"early{n}@example.com"}  # fmt: skip
        assert anon.post("/users", json=body).status_code in (201, 429)
    for n in range(25):
        form = {"username": f"victim{n % 5}", "password": "wrong-password-123"}
        assert anon.client.post("/login", data=form).status_code in (401, 429)


def test_deposits_keep_their_pace_while_login_and_sign_up_are_flooded(
    make_user: MakeUser, open_account: OpenAccount, anon: Api, capsys: Any
) -> None:
    customer, api = make_user("user")
    account = open_account(customer["id"])
    exhaust_the_limits(anon)
    deposit_latencies(api, account["id"], 5)  # warm up
    quiet: list[float] = []
    loaded: list[float] = []
    ratios: list[float] = []
    seen: dict[str, int] = {}
    for _round in range(ROUNDS):
        calm = deposit_latencies(api, account["id"], DEPOSITS)
        flood = subprocess.Popen(
            [sys.executable, "-m", "tests.flood", anon.base_url, str(FLOODERS), str(RATE)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert flood.stdout is not None
        assert flood.stdout.readline().strip() == "flooding"
        time.sleep(0.5)  # every flooder is sending by now
        try:
            flooded = deposit_latencies(api, account["id"], DEPOSITS)
        finally:
            output, _ = flood.communicate(timeout=60)  # closes its stdin: it stops
        for status, count in json.loads(output.strip().splitlines()[-1]).items():
            seen[status] = seen.get(status, 0) + count
        quiet += calm
        loaded += flooded
        ratios.append(statistics.median(flooded) / statistics.median(calm))
    figures = {
        "quiet_median_ms": statistics.median(quiet) * 1000,
        "flooded_median_ms": statistics.median(loaded) * 1000,
        # Each flooded round against the quiet round just before it, the median of those.
        "ratio": statistics.median(ratios),
        "flood_requests": sum(seen.values()),
        "flood_429": seen.get("429", 0),
    }
    with capsys.disabled():
        print("\ndeposits under a login and sign-up flood:",
              {k: round(v, 2) for k, v in figures.items()}, seen)  # fmt: skip
    assert set(seen) <= {"201", "401", "429"}, seen
    assert figures["flood_429"] > 0.9 * figures["flood_requests"]  # the limits answered it
    # Within 2x of the quiet figure (medians; a shared 2-core machine is noisy).
    assert figures["ratio"] < 2.0, figures
