"""The rules of a cash count, in-process: completeness, denominations, differences.

The end-to-end tests (tests/e2e/test_sessions.py) pin the order of checks over HTTP; here
the combinations of each rule run in microseconds.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.errors import DomainError
from server.services.tills import counts
from shared.errors import ErrorCode

D = Decimal


def code_of(call: object, *args: object) -> ErrorCode | None:
    """Return the code a rule refuses with, or None when it lets the count through."""
    try:
        call(*args)  # type: ignore[operator]
    except DomainError as error:
        return error.code
    return None


@pytest.mark.parametrize(
    ("counted", "expected", "missing"),
    [
        ({}, {}, None),
        ({}, {"USD": D("0.00")}, None),  # expected zero: may be left out
        ({"USD": D("0.00")}, {"USD": D("5.00")}, None),  # named (as zero): complete
        ({"USD": D("5.00")}, {"USD": D("5.00"), "EUR": D("1.00")}, ["EUR"]),
        ({}, {"USD": D("5.00"), "EUR": D("1.00")}, ["EUR", "USD"]),
        ({"GBP": D("3.00")}, {}, None),  # counted, not expected: an overage, not a gap
    ],
)
def test_a_count_must_name_every_currency_expected_not_zero(
    counted: dict[str, Decimal], expected: dict[str, Decimal], missing: list[str] | None
) -> None:
    if missing is None:
        counts.require_complete(counted, expected)
        return
    with pytest.raises(DomainError) as raised:
        counts.require_complete(counted, expected)
    assert raised.value.code is ErrorCode.COUNT_INCOMPLETE
    assert raised.value.context["missing"] == missing


@pytest.mark.parametrize(
    ("denominations", "refused"),
    [
        (None, False),
        ({}, False),
        ({"USD": {"50.00": 2, "10.00": 1, "0.50": 2}}, False),
        ({"USD": {"50": 2, "11": 1}}, False),  # money strings without cents
        ({"USD": {"50.00": 2, "20.00": 0, "11.00": 1}}, False),  # a zero count is fine
        ({"USD": {"50.00": 2}}, True),  # adds up to 100.00, not 111.00
        ({"USD": {"50.00": 3, "11.00": -1}}, True),  # negative count
        ({"USD": {"fifty": 2}}, True),
        ({"USD": {"-50.00": 2}}, True),
        ({"USD": {"0.00": 1, "111.00": 1}}, True),  # no denomination is worth nothing
        ({"USD": {"1.005": 1}}, True),
        ({"USD": {"1e2": 1, "11.00": 1}}, True),
        ({"USD": {"111.00": 1}, "EUR": {"1.00": 0}}, True),  # EUR was not counted
    ],
)
def test_denominations_are_money_strings_to_counts_that_add_up(
    denominations: dict[str, dict[str, int]] | None, refused: bool
) -> None:
    counted = {"USD": D("111.00")}
    code = code_of(counts.require_denominations, denominations, counted)
    assert code is (ErrorCode.COUNT_MISMATCH if refused else None)


def test_differences_cover_every_currency_either_side_names() -> None:
    variance = counts.differences(
        {"USD": D("95.00"), "GBP": D("3.00")}, {"USD": D("100.00"), "EUR": D("0.00")}
    )
    assert variance == {"EUR": D("0.00"), "GBP": D("3.00"), "USD": D("-5.00")}
    assert counts.differs(variance)
    assert not counts.differs({"USD": D("0.00")})
    assert counts.describe(variance) == "GBP over 3.00, USD short 5.00"


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        (D("10.05"), "CHF", None),
        (D("10.03"), "CHF", ErrorCode.NOT_CASH_AMOUNT),
        (D("10.50"), "SEK", ErrorCode.NOT_CASH_AMOUNT),
        (D("0.00"), "SEK", None),
        (D("1.00"), "XYZ", ErrorCode.UNSUPPORTED_CURRENCY),
    ],
)
def test_a_count_is_in_cash_of_a_kept_currency(
    amount: Decimal, currency: str, code: ErrorCode | None
) -> None:
    assert code_of(counts.check_count_amounts, {currency: amount}) is code


def test_a_shortage_beyond_the_cash_held_is_refused_blind_for_the_teller() -> None:
    with pytest.raises(DomainError) as raised:
        counts.require_cover({"USD": D("-6.00")}, {"USD": D("5.00")}, vault=False, blind=True)
    assert raised.value.code is ErrorCode.TILL_INSUFFICIENT_CASH
    assert raised.value.context["available"] is None
    with pytest.raises(DomainError) as raised:
        counts.require_cover({"USD": D("-6.00")}, {}, vault=True, blind=False)
    assert raised.value.code is ErrorCode.INSUFFICIENT_FUNDS
    counts.require_cover({"USD": D("-5.00"), "EUR": D("9.00")}, {"USD": D("5.00")},
                         vault=False, blind=True)  # fmt: skip
