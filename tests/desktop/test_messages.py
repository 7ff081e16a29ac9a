"""The desktop's words: every code of the contract is worded from its code and facts (never
from the server's `detail`), plurals read as English, and values read as words."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from desktop import messages, text
from desktop.api.client import ApiError, ApprovalRequired, NetworkError
from shared.errors import REQUIRED_FACTS, STATUS, ErrorCode

NONSENSE = "zxq wibble 42"
SAMPLE_FACTS: dict[str, Any] = {
    "available": "10.00", "requested": "25.00", "currency": "USD", "limit": "100.00",
    "used": "90.00", "account_id": 5, "status": "frozen", "from": "USD", "to": "EUR",
    "current_version": 4, "session_ids": [1, 2], "retry_after": 30, "approval_id": 9,
    "date": "2026-11-29", "open_date": "2026-11-30", "balance": "12.50",
    "max_rows": 5000, "max_days": 366, "rows": 6000, "days": 400,
}  # fmt: skip


@pytest.mark.parametrize("code", [c for c in ErrorCode if c is not ErrorCode.APPROVAL_REQUIRED])
def test_every_code_is_worded_without_the_servers_sentence(code: ErrorCode) -> None:
    facts = {key: SAMPLE_FACTS[key] for key in REQUIRED_FACTS.get(code, ())}
    error = ApiError(STATUS[code], code.value, NONSENSE, facts)
    words = messages.explain(error).text
    assert words
    assert NONSENSE not in words
    assert code.value in messages.known_codes()
    # Without its facts a code still reads, just less precisely.
    bare = messages.explain(ApiError(STATUS[code], code.value, NONSENSE)).text
    assert bare
    assert NONSENSE not in bare


def test_facts_become_the_sentence() -> None:
    funds = ApiError(409, "insufficient_funds", NONSENSE,
                     {"available": "1234.5", "requested": "2000", "currency": "EUR"})  # fmt: skip
    assert messages.explain(funds).text == (
        "Not enough money in the account: 1,234.50 EUR available, 2,000.00 EUR requested."
    )
    situation = messages.Situation(nothing_happened="Nothing was changed.",
                                   accounts={5: "the source account"})  # fmt: skip
    frozen = ApiError(409, "account_not_active", NONSENSE, {"account_id": 5, "status": "frozen"})
    assert messages.explain(frozen, situation).text == (
        "The source account is frozen; no money can move on it. Nothing was changed."
    )
    conflict = ApiError(409, "version_conflict", NONSENSE, {"current_version": 7})
    assert "version 7" in messages.explain(conflict).text
    limited = ApiError(429, "rate_limited", NONSENSE, {"retry_after": 12})
    assert messages.explain(limited).text.endswith("try again in 12 seconds.")


def test_only_an_unknown_code_shows_the_servers_sentence() -> None:
    error = ApiError(409, "some_future_code", "The vault is on fire")
    assert messages.explain(error).text == "The bank refused the request: The vault is on fire."
    assert messages.explain(ApiError(500, "odd_failure", NONSENSE)).unknown


def test_validation_names_the_fields_not_the_validators_words() -> None:
    detail = [{"loc": ["body", "email"], "msg": NONSENSE}, {"loc": ["body", "username"],
                                                             "msg": NONSENSE}]  # fmt: skip
    words = messages.explain(ApiError(422, "validation_error", detail)).text
    assert words == "The bank did not accept the email address, the username; check and try again."


def test_unknown_outcomes_and_approvals() -> None:
    assert messages.explain(NetworkError("x", timed_out=True)).unknown
    waiting = messages.explain(ApprovalRequired({"id": 31, "status": "pending"}))
    assert "request no. 31" in waiting.text
    assert not waiting.unknown


def test_plurals_read_as_english_with_separators() -> None:
    assert text.plural(1, "%n account", "%n accounts") == "1 account"
    assert text.plural(0, "%n account", "%n accounts") == "0 accounts"
    assert text.plural(12345, "%n account", "%n accounts") == "12,345 accounts"


def test_values_read_as_words() -> None:
    assert text.account_type("checking") == "Checking"
    assert text.account_status("frozen") == "Frozen"
    assert text.role("admin") == "Administrator"
    assert text.role("supervisor") == "Supervisor"
    assert text.transaction_type("transfer_in") == "Transfer in"
    assert text.audit_action("account.frozen") == "Account frozen"
    assert text.currency_label("CHF") == "CHF — Swiss franc"
    assert text.currency_name("XYZ") == "XYZ"
    assert text.money(Decimal("-1234.5"), "USD") == "-1,234.50 USD"
    assert text.period_text(date(2026, 11, 1), date(2026, 11, 29)) == "2026-11-01 – 2026-11-29"
    assert text.period_text(None, None) == "all time"
    moment = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
    assert text.date_text(moment) == moment.astimezone().strftime("%Y-%m-%d")
    assert "T" not in text.time_text(moment)
