"""shared.money: parsing money without floats, the amount range, and both output formats."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.money import (
    AMOUNT_PATTERN,
    JSON_LOADS_KWARGS,
    MAX_AMOUNT,
    MIN_AMOUNT,
    Amount,
    JsonNumberLiteral,
    Money,
    MoneyLimit,
    format_money,
    parse_amount,
    parse_money,
    to_cents_str,
)

ASCII_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
MAX_CENTS = 100_000_000_000  # 1000000000.00
ALL_CENTS = 10**12 - 1  # 9999999999.99, the largest value the pattern can spell


def loads(text: str) -> Any:
    """Parse JSON as the server does (DecimalJSONRequest)."""
    return json.loads(text, **JSON_LOADS_KWARGS)


def spell(cents: int, places: int) -> str:
    """Spell a whole number of cents with 0, 1 or 2 decimal places (places must fit)."""
    whole, frac = divmod(cents, 100)
    if places == 0:
        assert frac == 0
        return str(whole)
    if places == 1:
        assert frac % 10 == 0
        return f"{whole}.{frac // 10}"
    return f"{whole}.{frac:02d}"


@st.composite
def spelled_cents(draw: st.DrawFn, low: int = 0, high: int = ALL_CENTS) -> tuple[int, str]:
    """A cents value and one valid spelling of it (shortest to two places, leading zeros)."""
    cents = draw(st.integers(low, high))
    options = [2]
    if cents % 10 == 0:
        options.append(1)
    if cents % 100 == 0:
        options.append(0)
    text = spell(cents, draw(st.sampled_from(options)))
    whole = text.split(".")[0]
    zeros = draw(st.integers(0, 10 - len(whole)))
    return cents, "0" * zeros + text


# Values that API.md says answer 422, as the client would send them in a JSON string.
INVALID_STRINGS = [
    "", " ", "0", "0.00", "0.0", "00", "-1", "-0.01", "-0", "+5", "+5.00",
    "1.005", "10.000", "0.001", "1e3", "1E3", "1.5e2", "1e-2", "NaN", "nan", "Infinity",
    "-Infinity", "inf", "true", "false", "null", " 10", "10 ", "1 0", "\t10", "10\n", "\n10",
    "1,000", "1,000.00", "1 000", "1_000", "1'000", "10,50", "1.000,00", "10.", ".5", ".50",
    "0x10", "10.5.0", "1000000000.01", "1000000001", "9999999999.99", "10000000000",
    "12345678901", "$10", "10 USD", "USD10", "١٠", "١٠.٥٠", "１０", "१०", "𝟏𝟎", "10¹",
]  # fmt: skip

# The same as literal JSON numbers: each is valid JSON unless noted, never a string.
INVALID_NUMBERS = [
    "0", "0.00", "0.0", "-0", "-0.00", "-1", "-0.01", "-10.50", "1.005", "10.000", "0.001",
    "1e3", "1E3", "1.5e2", "1e-2", "1E+2", "10e0", "0e0", "1000000000.01", "1000000001",
    "9999999999.99", "10000000000", "12345678901", "99999999999.99", "1" + "0" * 30,
]  # fmt: skip


# ---------------------------------------------------------------- accepted values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.01", "0.01"),
        ("1", "1.00"),
        ("1.5", "1.50"),
        ("1.50", "1.50"),
        ("0010.5", "10.50"),
        ("1250.00", "1250.00"),
        ("999999999.99", "999999999.99"),
        ("1000000000", "1000000000.00"),
        ("1000000000.00", "1000000000.00"),
        ("1000000000.0", "1000000000.00"),
    ],
)
def test_amount_strings_accepted(value: str, expected: str) -> None:
    amount = parse_amount(value)
    assert isinstance(amount, Decimal)
    assert str(amount) == expected
    assert to_cents_str(amount) == expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("0.01", "0.01"),
        ("1", "1.00"),
        ("10.5", "10.50"),
        ("10.50", "10.50"),
        ("0.10", "0.10"),
        ("1000000000", "1000000000.00"),
        ("1000000000.00", "1000000000.00"),
    ],
)
def test_amount_json_numbers_accepted(literal: str, expected: str) -> None:
    parsed = loads(literal)
    assert not isinstance(parsed, float)
    assert to_cents_str(parse_amount(parsed)) == expected
    # Inside an object, as a request body carries it.
    body = loads('{"amount": ' + literal + "}")
    assert to_cents_str(parse_amount(body["amount"])) == expected


def test_json_fraction_keeps_its_literal_text() -> None:
    parsed = loads("0.10")
    assert isinstance(parsed, JsonNumberLiteral)
    assert parsed == "0.10"
    assert loads("12") == 12
    assert type(loads("12")) is int


def test_bounds_are_inclusive() -> None:
    assert parse_amount("0.01") == MIN_AMOUNT
    assert parse_amount("1000000000.00") == MAX_AMOUNT
    assert parse_amount(loads("1000000000.00")) == MAX_AMOUNT
    assert parse_amount(1_000_000_000) == MAX_AMOUNT
    assert parse_amount(Decimal("1000000000.00")) == MAX_AMOUNT
    with pytest.raises(ValueError, match=r"at most"):
        parse_amount("1000000000.01")
    with pytest.raises(ValueError, match=r"at least"):
        parse_amount("0.00")


def test_parse_money_accepts_zero_but_not_amounts() -> None:
    """Limits may be 0.00; a movement amount may not."""
    assert parse_money("0") == Decimal("0.00")
    assert parse_money(0) == Decimal("0.00")
    assert parse_money(loads("0.00")) == Decimal("0.00")
    assert parse_money("9999999999.99") == Decimal("9999999999.99")
    for zero in ("0", "0.00", 0, loads("0.0")):
        with pytest.raises(ValueError):
            parse_amount(zero)


# ---------------------------------------------------------------- rejected values


@pytest.mark.parametrize("value", INVALID_STRINGS)
def test_invalid_amount_strings_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(value)
    # Sent in a JSON string, the value reaches the parser unchanged.
    assert loads(json.dumps({"amount": value}))["amount"] == value
    with pytest.raises(ValueError):
        parse_amount(loads(json.dumps(value)))


@pytest.mark.parametrize("literal", INVALID_NUMBERS)
def test_invalid_amount_json_numbers_rejected(literal: str) -> None:
    parsed = loads(literal)
    assert not isinstance(parsed, float), "a JSON number must never become a float"
    with pytest.raises(ValueError):
        parse_amount(parsed)


@pytest.mark.parametrize("literal", ["1e3", "1E3", "1.5e2", "1e-2", "2.50E+1", "100e0"])
def test_exponent_numbers_rejected_even_when_whole(literal: str) -> None:
    with pytest.raises(ValueError, match="exponent"):
        parse_money(loads(literal))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", '{"amount": NaN}'])
def test_json_constants_are_refused_by_the_parser(literal: str) -> None:
    # JSONDecodeError, so FastAPI answers 422 (json_invalid) and not 400.
    with pytest.raises(json.JSONDecodeError):
        loads(literal)


def test_integer_too_long_for_int_is_a_json_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads('{"amount": ' + "1" * 5000 + "}")


@pytest.mark.parametrize(
    "value",
    [
        True, False, None, 0.1, 10.0, 1e3, float("nan"), float("inf"),
        Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"),
        Decimal("-1"), Decimal("-0.00"), Decimal("1.005"), Decimal("0"), -5, 0,
        10**10, [], [10], {}, {"amount": "10"}, b"10", object(),
    ],
)  # fmt: skip
def test_non_json_string_types_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        parse_amount(value)


def test_floats_never_accepted_even_when_exact() -> None:
    """A float means the JSON went through float somewhere: refuse rather than guess."""
    for value in (0.5, 1.0, 100.25):
        with pytest.raises(ValueError):
            parse_money(value)


def test_booleans_rejected_though_they_are_ints() -> None:
    assert isinstance(True, int)
    with pytest.raises(ValueError, match="boolean"):
        parse_money(True)
    with pytest.raises(ValueError, match="boolean"):
        parse_money(loads("false"))


# ---------------------------------------------------------------- properties


@settings(max_examples=400)
@given(spelled_cents())
def test_every_pattern_spelling_parses_exactly(case: tuple[int, str]) -> None:
    cents, text = case
    value = parse_money(text)
    assert value == Decimal(cents) / 100
    assert value.as_tuple().exponent == -2
    rendered = to_cents_str(value)
    assert re.fullmatch(r"\d+\.\d{2}", rendered)
    assert Decimal(rendered) == value
    assert parse_money(rendered) == value  # the output form parses back to itself


@settings(max_examples=400)
@given(spelled_cents(low=1, high=MAX_CENTS))
def test_amount_range_spellings_accepted_as_string_and_number(case: tuple[int, str]) -> None:
    cents, text = case
    expected = Decimal(cents) / 100
    assert parse_amount(text) == expected
    assert parse_amount(loads(json.dumps(text))) == expected
    number = text.lstrip("0") or "0"
    if number.startswith("."):
        number = "0" + number
    assert parse_amount(loads(number)) == expected  # a JSON number has no leading zeros


@settings(max_examples=300)
@given(spelled_cents(low=MAX_CENTS + 1))
def test_amounts_above_the_maximum_rejected(case: tuple[int, str]) -> None:
    _cents, text = case
    assert parse_money(text) > MAX_AMOUNT
    with pytest.raises(ValueError):
        parse_amount(text)


@settings(max_examples=1000)
@given(st.text(alphabet="0123456789.,-+ eE_\n\t١٠٥５𝟏", max_size=15))
@example("١٠")
@example("10\n")
@example("1_000")
def test_accepted_exactly_when_the_ascii_pattern_matches(text: str) -> None:
    matches = ASCII_AMOUNT.fullmatch(text) is not None
    try:
        parse_money(text)
    except ValueError:
        assert not matches, f"{text!r} matches the pattern but was rejected"
    else:
        assert matches, f"{text!r} does not match the pattern but was accepted"


@settings(max_examples=300)
@given(st.text(max_size=12))
def test_arbitrary_text_accepted_only_when_ascii_pattern_matches(text: str) -> None:
    matches = ASCII_AMOUNT.fullmatch(text) is not None
    try:
        parse_money(text)
    except ValueError:
        assert not matches
    else:
        assert matches


@settings(max_examples=300)
@given(
    st.integers(0, 99_999),
    st.integers(0, 999),
    st.sampled_from(["e", "E"]),
    st.sampled_from(["", "+", "-"]),
    st.integers(0, 5),
)
def test_exponent_json_numbers_always_rejected(
    whole: int, frac: int, e: str, sign: str, power: int
) -> None:
    literal = f"{whole}.{frac}{e}{sign}{power}" if frac else f"{whole}{e}{sign}{power}"
    parsed = loads(literal)
    assert isinstance(parsed, JsonNumberLiteral)
    with pytest.raises(ValueError):
        parse_money(parsed)


@settings(max_examples=300)
@given(st.integers(1, 10**9), st.integers(3, 6))
def test_more_than_two_decimals_rejected_as_number_and_string(digits: int, places: int) -> None:
    literal = f"{digits // 10**places}.{digits % 10**places:0{places}d}"
    with pytest.raises(ValueError):
        parse_money(literal)
    with pytest.raises(ValueError):
        parse_money(loads(literal))


@settings(max_examples=200)
@given(st.integers(1, ALL_CENTS))
def test_negative_amounts_rejected(cents: int) -> None:
    text = "-" + spell(cents, 2)
    with pytest.raises(ValueError):
        parse_money(text)
    with pytest.raises(ValueError):
        parse_money(loads(text))


@settings(max_examples=200)
@given(st.lists(st.integers(1, 10**8), min_size=1, max_size=50))
def test_sums_of_parsed_amounts_are_exact(cents: list[int]) -> None:
    total = sum((parse_amount(spell(c, 2)) for c in cents), Decimal("0.00"))
    assert total == Decimal(sum(cents)) / 100
    assert to_cents_str(total) == spell(sum(cents), 2)


def test_decimal_never_passes_through_float() -> None:
    assert 0.10 + 0.20 != 0.30  # the float trap this module exists to avoid
    assert parse_amount("0.10") + parse_amount("0.20") == Decimal("0.30")
    assert parse_amount(loads("0.10")) + parse_amount(loads("0.20")) == parse_amount("0.30")
    total = sum((parse_amount(loads("0.10")) for _ in range(1000)), Decimal("0"))
    assert to_cents_str(total) == "100.00"
    # A value float cannot hold: 999999999.99 as a float is 999999999.99000000953...
    assert parse_amount(loads("999999999.99")) == Decimal("999999999.99")
    assert parse_amount(loads("0.29")) * 100 == 29


# ---------------------------------------------------------------- output formats


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0"), "0.00"),
        (Decimal("0.1"), "0.10"),
        (Decimal("5"), "5.00"),
        (Decimal("1250"), "1250.00"),
        (Decimal("-100"), "-100.00"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("1000000000.00"), "1000000000.00"),
        (Decimal("0.125"), "0.12"),  # half-even
        (Decimal("0.135"), "0.14"),
        (Decimal("-0"), "0.00"),
        (Decimal("-0.001"), "0.00"),
    ],
)
def test_to_cents_str(value: Decimal, expected: str) -> None:
    assert to_cents_str(value) == expected


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("0"), None, "0.00"),
        (Decimal("999.5"), None, "999.50"),
        (Decimal("1000"), None, "1,000.00"),
        (Decimal("1250.5"), "USD", "1,250.50 USD"),
        (Decimal("1234567.891"), "EUR", "1,234,567.89 EUR"),
        (Decimal("1000000000.00"), "CHF", "1,000,000,000.00 CHF"),
        (Decimal("-1234.5"), "GBP", "-1,234.50 GBP"),
        (Decimal("-0.00"), "USD", "0.00 USD"),
    ],
)
def test_format_money(value: Decimal, currency: str | None, expected: str) -> None:
    assert format_money(value, currency) == expected


@settings(max_examples=300)
@given(st.integers(-ALL_CENTS, ALL_CENTS), st.sampled_from([None, "USD", "SEK"]))
def test_format_money_groups_thousands(cents: int, currency: str | None) -> None:
    value = Decimal(cents) / 100
    text = format_money(value, currency)
    number = text.removesuffix(f" {currency}") if currency else text
    if currency:
        assert text.endswith(f" {currency}")
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{2}", number), text
    assert number.replace(",", "") == to_cents_str(value)


# ---------------------------------------------------------------- pydantic types


def test_amount_type_validates_and_serializes() -> None:
    adapter: TypeAdapter[Decimal] = TypeAdapter(Amount)
    assert adapter.validate_python(loads("10.5")) == Decimal("10.50")
    assert adapter.dump_json(adapter.validate_python("7")) == b'"7.00"'
    for bad in ("0", "1.005", True, 0.5, loads("1e3"), "١٠"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
    schema = adapter.json_schema()
    assert any(option.get("pattern") == AMOUNT_PATTERN for option in schema["anyOf"])


def test_money_limit_allows_zero_but_not_negatives() -> None:
    adapter: TypeAdapter[Decimal] = TypeAdapter(MoneyLimit)
    assert adapter.dump_python(adapter.validate_python("0"), mode="json") == "0.00"
    assert adapter.validate_python(loads("100.00")) == Decimal("100.00")
    for bad in ("-1", loads("-0.01"), "1e2", "", None):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def test_money_output_type_renders_two_places() -> None:
    adapter: TypeAdapter[Decimal] = TypeAdapter(Money)
    assert adapter.dump_python(Decimal("-100"), mode="json") == "-100.00"
    assert adapter.dump_json(adapter.validate_python("12.3")) == b'"12.30"'
    with pytest.raises(ValidationError):
        adapter.validate_python(1.5)
