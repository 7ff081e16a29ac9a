"""Money: Decimal with two places, parsed without floats, formatted for people and for JSON."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000.00")
AMOUNT_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"
# ASCII: `\d` alone would also match other scripts' digits ("١٠", "１０"), which Decimal reads.
_AMOUNT_RE = re.compile(AMOUNT_PATTERN, re.ASCII)

SUPPORTED_CURRENCIES: tuple[str, ...] = (
    *("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD"),
    *("SEK", "NOK", "DKK", "PLN", "CZK", "SGD", "HKD"),
)


class JsonNumberLiteral(str):
    """The exact text of a JSON number that had a fraction or exponent (never a float)."""

    __slots__ = ()


def json_number_hook(text: str) -> JsonNumberLiteral:
    """Keep a JSON number's literal text so money never passes through float."""
    return JsonNumberLiteral(text)


def _reject_constant(name: str) -> Any:
    # A JSONDecodeError (a ValueError) makes FastAPI answer 422, where another error gives 400.
    raise json.JSONDecodeError(f"{name} is not a number this API accepts", name, 0)


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise json.JSONDecodeError("integer has too many digits", text, 0) from exc


JSON_LOADS_KWARGS: dict[str, Any] = {
    "parse_float": json_number_hook,
    "parse_int": _parse_int,
    "parse_constant": _reject_constant,
}


def parse_money(value: object) -> Decimal:
    """Parse a money value as API.md defines it; raise ValueError with a plain reason."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, JsonNumberLiteral):
        if "e" in value or "E" in value:
            raise ValueError("exponent notation is not accepted")
        text = str(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError('amount must be a decimal string such as "12.50"')
    if not _AMOUNT_RE.fullmatch(text):
        raise ValueError(
            "amount must have 1-10 digits and at most two decimals, "
            "with no sign, spaces, separators or exponent"
        )
    try:
        return Decimal(text).quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
        raise ValueError("amount is not a number") from exc


def parse_amount(value: object) -> Decimal:
    """Parse the amount of a money movement: 0.01 to 1,000,000,000.00 inclusive."""
    amount = parse_money(value)
    if amount < MIN_AMOUNT:
        raise ValueError("amount must be at least 0.01")
    if amount > MAX_AMOUNT:
        raise ValueError("amount must be at most 1000000000.00")
    return amount


def _cents(value: Decimal) -> Decimal:
    cents = Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return cents.copy_abs() if cents.is_zero() else cents  # never "-0.00"


def to_cents_str(value: Decimal) -> str:
    """Return the JSON form of money: a string with exactly two places."""
    return format(_cents(value), "f")


def format_money(value: Decimal, currency: str | None = None) -> str:
    """Format money for people: thousands separators, two places, optional currency code."""
    text = f"{_cents(value):,.2f}"
    return f"{text} {currency}" if currency else text


_MONEY_JSON_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["1250.00"]},
        {"type": "number", "multipleOf": 0.01, "minimum": 0},
    ],
}
_MONEY_OUT_SCHEMA = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["1250.00"]}

_serialize = PlainSerializer(to_cents_str, return_type=str, when_used="always")

Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    _serialize,
    WithJsonSchema(
        {**_MONEY_JSON_SCHEMA, "description": "0.01 to 1000000000.00"}, mode="validation"
    ),
    WithJsonSchema(_MONEY_OUT_SCHEMA, mode="serialization"),
]
"""A money-movement amount in a request."""

MoneyLimit = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    _serialize,
    WithJsonSchema({**_MONEY_JSON_SCHEMA, "description": "0.00 or more"}, mode="validation"),
    WithJsonSchema(_MONEY_OUT_SCHEMA, mode="serialization"),
]
"""A non-negative money setting in a request (limits)."""


def _money_out(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return Decimal(str(value))
    raise ValueError("money must be a decimal")


Money = Annotated[
    Decimal,
    BeforeValidator(_money_out),
    _serialize,
    WithJsonSchema(_MONEY_OUT_SCHEMA),
]
"""Money in a response: balances and amounts, serialized as "1250.00"."""
