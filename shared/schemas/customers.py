"""Customer identification: profile, identity documents, KYC status and the one search."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from shared.schemas.common import RequestModel, Timestamp

_COUNTRY = re.compile(r"^[A-Z]{2}$")
# Digits with the separators people write them with; at least 6 and at most 15 digits
# (E.164), checked after the pattern.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,28}[0-9]$")
_DOCUMENT_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,38}[A-Za-z0-9]$|^[A-Za-z0-9]$")
EARLIEST_BIRTH = date(1900, 1, 1)


def _printable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if not value.isprintable():
        raise ValueError("must contain printable characters only")
    return value


def _country(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        raise ValueError("country must be an ISO 3166-1 alpha-2 code in capitals, e.g. GB")
    return value


def _phone(value: str) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE.fullmatch(value) or not 6 <= digits <= 15:
        raise ValueError("phone must be 6-15 digits, optionally with +, spaces, dashes or ()")
    return value


def _document_number(value: str) -> str:
    if not _DOCUMENT_NUMBER.fullmatch(value):
        raise ValueError("number must be 1-40 letters or digits, optionally with spaces or dashes")
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: object) -> object:
    # Pydantic alone also reads "2026-01-01T00:00:00Z" and Unix times as dates.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("use a date as YYYY-MM-DD")
    if isinstance(value, (int, float)):
        raise ValueError("use a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date_only),
    Field(examples=["2031-12-31"], json_schema_extra={"maxLength": 10}),
]


def _birth_date(value: date) -> date:
    if value < EARLIEST_BIRTH or value > date.today():
        raise ValueError("date_of_birth must be a past date after 1900-01-01")
    return value


Line = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
Country = Annotated[str, Field(min_length=2, max_length=2, examples=["GB"]),
                    AfterValidator(_country)]  # fmt: skip
Phone = Annotated[str, Field(min_length=6, max_length=30, examples=["+1 415-555-0100"]),
                  AfterValidator(_phone)]  # fmt: skip
DocumentNumber = Annotated[str, Field(min_length=1, max_length=40, examples=["P123456"]),
                           AfterValidator(_document_number)]  # fmt: skip
BirthDate = Annotated[IsoDate, AfterValidator(_birth_date)]


class Address(RequestModel):
    """A postal address."""

    line1: Line
    line2: Line | None = None
    city: Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_printable)]
    postal_code: Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_printable)]
    country: Country


class Profile(BaseModel):
    """A customer's personal details (null fields: not given yet)."""

    date_of_birth: date | None = None
    phone: str | None = None
    address: Address | None = None


class ProfileUpdate(RequestModel):
    """Profile fields to set; an omitted field stays, a null one is cleared."""

    date_of_birth: BirthDate | None = None
    phone: Phone | None = None
    address: Address | None = None


class DocumentType(StrEnum):
    """Identity documents the bank accepts."""

    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"


class DocumentCreate(RequestModel):
    """An identity document shown at the counter."""

    type: DocumentType
    number: DocumentNumber
    country: Country
    expires_on: IsoDate


class DocumentPublic(BaseModel):
    """An identity document on file (verified once a member of staff checked it)."""

    id: int
    type: DocumentType
    number: str
    country: str
    expires_on: date
    verified_by: int | None
    verified_at: Timestamp | None


class KycStatus(StrEnum):
    """Whether the bank knows who its customer is."""

    VERIFIED = "verified"
    EXPIRED = "expired"
    PENDING = "pending"


class MatchKind(StrEnum):
    """What a search result was found by."""

    NAME = "name"
    DOCUMENT = "document"
    ACCOUNT = "account"
    PHONE = "phone"
    EMAIL = "email"
    USERNAME = "username"
    DATE_OF_BIRTH = "date_of_birth"


class CustomerSort(StrEnum):
    """Fields search results may be sorted by."""

    ID = "id"
