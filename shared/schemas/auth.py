"""Tokens and login."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.schemas.common import RequestModel


class TokenPair(BaseModel):
    """What `/login` and `/login/refresh` answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str


class RefreshRequest(RequestModel):
    """Body of `/login/refresh`."""

    refresh_token: str = Field(min_length=1, max_length=4096)
