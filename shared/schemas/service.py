"""Service endpoints: root and health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ServiceInfo(BaseModel):
    """What `GET /` answers."""

    name: str
    version: str
    docs: str | None = Field(default="/docs", description="null when DOCS_ENABLED is off")


class Health(BaseModel):
    """What `GET /health` answers."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    version: str
