"""The domain error: one status per code, required facts, and the one rendering of an answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.errors import DomainError, answer, invalid_field, not_found, refused
from shared.errors import REQUIRED_FACTS, STATUS, ErrorBody, ErrorCode, status_of


def test_every_code_has_exactly_one_status() -> None:
    assert set(STATUS) == set(ErrorCode)
    assert STATUS[ErrorCode.OWN_ACCOUNT] == 403
    assert STATUS[ErrorCode.TILL_INSUFFICIENT_CASH] == 409
    assert STATUS[ErrorCode.SELF_APPROVAL] == 422
    assert STATUS[ErrorCode.APPROVAL_REQUIRED] == 202
    assert status_of("no_such_code") == 500


@pytest.mark.parametrize("code", sorted(REQUIRED_FACTS))
def test_a_listed_code_cannot_be_raised_without_its_facts(code: ErrorCode) -> None:
    with pytest.raises(TypeError, match=code.value):
        DomainError(code, "refused")
    facts = dict.fromkeys(REQUIRED_FACTS[code], "x")
    assert DomainError(code, "refused", **facts).context == facts


def test_answer_renders_money_facts_as_strings_and_headers() -> None:
    error = refused(
        ErrorCode.INSUFFICIENT_FUNDS, "no", available=Decimal("12.5"), requested=Decimal(100),
        currency="USD",
    )  # fmt: skip
    status, body, headers = answer(error)
    assert status == 409
    assert body == {
        "detail": "no",
        "code": "insufficient_funds",
        "context": {"available": "12.50", "requested": "100.00", "currency": "USD"},
    }
    assert headers == {}
    ErrorBody.model_validate(body)
    limited = answer(DomainError(ErrorCode.RATE_LIMITED, "slow", retry_after=7))
    assert limited[0] == 429
    assert limited[2] == {"Retry-After": "7"}
    assert answer(DomainError(ErrorCode.INVALID_TOKEN, "x"))[2] == {"WWW-Authenticate": "Bearer"}


def test_errors_without_facts_have_no_context_and_validation_keeps_the_list() -> None:
    assert answer(not_found("account not found"))[1] == {
        "detail": "account not found", "code": "not_found"}  # fmt: skip
    status, body, _ = answer(invalid_field("body", "owner_id", "owner_id is required"))
    assert status == 422
    assert body["code"] == "validation_error"
    assert body["detail"][0]["loc"] == ["body", "owner_id"]
