"""Beanie documents of customer identification."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field

from shared.schemas.common import now_ms


class IdentityDocument(Document):
    """One identity document on file: `_id` is its normalised key, so it is on file once.

    The key is (type, number without spaces and dashes, case-folded, country); the
    document itself lives in its customer's `documents`. Uniqueness rests on `_id` rather
    than a unique multikey index on the users, which the embedded database enforces by
    scanning every user on each write to a customer with documents.
    """

    id: str  # type: ignore[assignment]
    user_id: int
    document_id: int
    created_at: datetime = Field(default_factory=now_ms)

    class Settings:
        name = "identity_documents"
