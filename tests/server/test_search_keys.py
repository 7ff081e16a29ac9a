"""Search keys, the search filter and KYC status as pure functions (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from server.services import search_keys
from server.services.customer_search import matched_by, search_filter
from server.services.views import kyc_status
from shared.schemas.customers import KycStatus, MatchKind


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Zoë", "zoe"), ("ZOE", "zoe"), ("Ångström", "angstrom"), ("Straße", "strasse"),
     ("Łukasz", "łukasz"), ("Ｚｏｅ", "zoe"), ("Émile-Zoë", "emile-zoe")],
)  # fmt: skip
def test_fold_drops_accents_and_case(text: str, folded: str) -> None:
    assert search_keys.fold(text) == folded


def test_words_split_on_anything_but_letters_and_digits() -> None:
    assert search_keys.words("Zoë  Smith-Ångström O'Neil_Jr") == [
        "zoe", "smith", "angstrom", "o", "neil", "jr"]  # fmt: skip
    assert search_keys.words("Ann ann ANN") == ["ann"]
    assert search_keys.words("!!! ...") == []


def test_numbers_are_compacted_and_phones_are_digits() -> None:
    assert search_keys.compact("P 123-456") == "p123456"
    assert search_keys.compact("p\t123\n456") == "p123456"
    assert search_keys.digits("+1 (415) 555-0100") == "14155550100"
    assert search_keys.document_key("passport", "ab 12-3", "gb") == "passport|ab123|GB"


def test_a_users_keys() -> None:
    keys = search_keys.keys_of(
        full_name="Zoë Smith", username="zsmith", email="Zoe@Example.com",
        profile={"phone": "+44 20 7946 0000", "date_of_birth": "1990-05-01", "address": None},
        documents=[{"number": "P 123-456"}], previous=["acct:0000000195", "name:old"],
    )  # fmt: skip
    assert keys == ["name:zoe", "name:smith", "user:zsmith", "email:zoe@example.com",
                    "phone:442079460000", "dob:1990-05-01", "doc:p123456",
                    "acct:0000000195"]  # fmt: skip


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("P 123-456", {"doc:p123456"}),
        ("0000000195", {"doc:0000000195", "acct:0000000195", "phone:0000000195",
                        "user:0000000195"}),
        ("+1 415-555-0100", {"phone:14155550100"}),
        ("Zoe@Example.com", {"email:zoe@example.com"}),
        ("zsmith", {"doc:zsmith", "user:zsmith"}),
        ("1990-05-01", {"dob:1990-05-01", "phone:19900501", "user:1990-05-01",
                        "doc:19900501", "acct:19900501"}),
        ("zoe smith", {"doc:zoesmith"}),
        ("!!!", set()),
    ],
)  # fmt: skip
def test_exact_keys_of_a_search(q: str, expected: set[str]) -> None:
    assert set(search_keys.exact_keys(q)) == expected


def test_the_filter_is_equality_or_anchored_prefixes_on_one_field() -> None:
    assert search_filter("!!!") is None
    assert search_filter("zoë") == {"search_keys": {"$regex": "^name:zoe"}}
    assert search_filter("zoe") == {"$or": [
        {"search_keys": {"$in": ["doc:zoe", "user:zoe"]}},
        {"search_keys": {"$regex": "^name:zoe"}},
    ]}  # fmt: skip
    both = search_filter("zoe smith")
    assert both == {"$or": [
        {"search_keys": {"$in": ["doc:zoesmith"]}},
        {"$and": [{"search_keys": {"$regex": "^name:zoe"}},
                  {"search_keys": {"$regex": "^name:smith"}}]},
    ]}  # fmt: skip


def test_what_a_result_matched_by_is_the_most_specific_key() -> None:
    keys = ["name:zsmith", "user:zsmith", "doc:zsmith"]
    assert matched_by(keys, "zsmith") is MatchKind.DOCUMENT
    assert matched_by(["name:zoe", "user:zoe"], "zoe") is MatchKind.USERNAME
    assert matched_by(["name:zoe", "user:zsmith"], "zo") is MatchKind.NAME
    assert matched_by(["acct:0000000195"], "0000000195") is MatchKind.ACCOUNT


def doc(expires_on: str, verified: bool) -> dict[str, Any]:
    return {"expires_on": expires_on, "verified_at": "2026-01-01T00:00:00Z" if verified else None}


@pytest.mark.parametrize(
    ("documents", "status"),
    [
        ([], KycStatus.PENDING),
        ([doc("2030-01-01", False)], KycStatus.PENDING),
        ([doc("2026-06-01", True)], KycStatus.VERIFIED),  # expires on the business date
        ([doc("2026-05-31", True)], KycStatus.EXPIRED),
        ([doc("2026-05-31", True), doc("2030-01-01", False)], KycStatus.EXPIRED),
        ([doc("2026-05-31", True), doc("2030-01-01", True)], KycStatus.VERIFIED),
    ],
)
def test_kyc_status_on_the_business_date(
    documents: list[dict[str, Any]], status: KycStatus
) -> None:
    assert kyc_status(documents, "2026-06-01") is status
