"""Payee lookups are rate-limited per user (issue 11): PAYEE_RATE_PER_MINUTE lookups a
minute, found or not, then 429 `rate_limited` with `Retry-After`, so nobody can try account
numbers in bulk. The module's server allows a few lookups a minute; each test looks up as a
user of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.config import Settings
from tests.support import Api, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

RATE = 4
SERVER_ENV = {"PAYEE_RATE_PER_MINUTE": str(RATE)}
UNKNOWN = "0000000000"


def test_the_default_rate_is_set() -> None:
    assert Settings.model_fields["payee_rate_per_minute"].default == 30


def test_lookups_past_the_rate_answer_429_per_user(
    make_user: MakeUser, open_account: OpenAccount
) -> None:
    owner, _ = make_user()
    number = open_account(owner["id"])["number"]
    _, payer = make_user()
    for _ in range(RATE):
        found = expect(payer.get(f"/payees/{number}"), 200)
        assert found["number"] == number
    refused = payer.get(f"/payees/{number}")
    body = expect(refused, 429, "rate_limited")
    assert body["context"]["retry_after"] >= 1
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another user still looks the same number up.
    _, other = make_user()
    expect(other.get(f"/payees/{number}"), 200)


def test_numbers_not_found_count_too(make_user: MakeUser, open_account: OpenAccount) -> None:
    owner, _ = make_user()
    number = open_account(owner["id"])["number"]
    _, guesser = make_user()
    for n in range(RATE):
        expect(guesser.get(f"/payees/{UNKNOWN[:-1]}{n}"), 404, "not_found")
    # The guesses spent the allowance: a real number is refused, without saying it exists.
    expect(guesser.get(f"/payees/{number}"), 429, "rate_limited")
    expect(guesser.get(f"/payees/{UNKNOWN}"), 429, "rate_limited")
