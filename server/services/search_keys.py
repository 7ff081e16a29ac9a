"""Normalised search keys: how a user document is found by one search box.

Each user document carries `search_keys`, a multikey-indexed list such as
`["name:zoe", "name:smith", "user:zsmith", "email:zoe@example.com", "phone:4155550100",
"dob:1990-05-01", "doc:p123456", "acct:0000000195"]`. Names are folded (accents dropped,
case folded) and split into words, so "Zoë" is found by "zoe" and "ZOE", and a word's
prefix finds it too; document, phone and account numbers are stored and searched exactly,
with spaces and dashes (phones: everything but digits) ignored. A search is then equality
or an anchored prefix on one indexed field, which MongoDB serves from the index.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

NAME = "name:"
USERNAME = "user:"
EMAIL = "email:"
PHONE = "phone:"
BIRTH = "dob:"
DOCUMENT = "doc:"
ACCOUNT = "acct:"

_WORD = re.compile(r"[^\W_]+")
_SEPARATORS = re.compile(r"[\s\-]+")
_NON_DIGITS = re.compile(r"\D+")


def fold(text: str) -> str:
    """Return text without accents, case-folded: "Zoë" and "ZOE" both give "zoe"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", bare.casefold())


def words(text: str) -> list[str]:
    """Return the folded words of a name (or of a search), in order, without repeats."""
    return list(dict.fromkeys(_WORD.findall(fold(text))))


def compact(text: str) -> str:
    """Return a number without spaces and dashes, case-folded: "p 123-456" gives "p123456"."""
    return _SEPARATORS.sub("", text).casefold()


def digits(text: str) -> str:
    """Return only the digits of a phone number: "+1 (415) 555-0100" gives "14155550100"."""
    return _NON_DIGITS.sub("", text)


def document_key(doc_type: str, number: str, country: str) -> str:
    """Return the unique key of an identity document: type, normalised number, country."""
    return f"{doc_type}|{compact(number)}|{country.upper()}"


def account_key(number: str) -> str:
    """Return the search key of an account number."""
    return ACCOUNT + number


def keys_of(
    *,
    full_name: str,
    username: str,
    email: str,
    profile: dict[str, Any] | None,
    documents: Iterable[dict[str, Any]],
    previous: Iterable[str] = (),
) -> list[str]:
    """Return a user's search keys; account keys are kept from `previous` (set at opening)."""
    keys = [NAME + word for word in words(full_name)]
    keys += [USERNAME + username.lower(), EMAIL + email.casefold()]
    profile = profile or {}
    if profile.get("phone"):
        keys.append(PHONE + digits(str(profile["phone"])))
    if profile.get("date_of_birth"):
        keys.append(BIRTH + str(profile["date_of_birth"]))
    keys += [DOCUMENT + compact(str(doc["number"])) for doc in documents]
    keys += [key for key in previous if key.startswith(ACCOUNT)]
    return list(dict.fromkeys(keys))


def exact_keys(q: str) -> list[str]:
    """Return the keys a search text may equal: a document, account or phone number, ..."""
    text = q.strip()
    keys: list[str] = []
    number = compact(text)
    if number.isascii() and number.isalnum():  # document numbers are A-Z and 0-9
        keys.append(DOCUMENT + number)
        if number.isdigit():
            keys.append(ACCOUNT + number)
    phone = digits(text)
    if 6 <= len(phone) <= 15 and re.fullmatch(r"\+?[0-9 ()./-]+", text):
        keys.append(PHONE + phone)
    if "@" in text:
        keys.append(EMAIL + text.casefold())
    if re.fullmatch(r"[A-Za-z0-9_.\-]{3,32}", text):
        keys.append(USERNAME + text.lower())
    with contextlib.suppress(ValueError):
        keys.append(BIRTH + date.fromisoformat(text).isoformat())
    return list(dict.fromkeys(keys))


def name_prefixes(q: str) -> list[str]:
    """Return the anchored patterns every word of a name search must start a name word with."""
    return [f"^{NAME}{re.escape(word)}" for word in words(q)]
