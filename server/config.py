"""Settings from the environment and `.env`, checked once at start."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

APP_NAME = "bank-system"

# Secrets that were ever published as examples: refused outside development.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "BANK_SECRET_KEY_123",
        "your-super-secret-key-minimum-32-characters",
        "your-generated-secret-key-here",
        "change-me",
        "changeme",
        "secret",
        "development-secret-key-change-me-please",
    }
)
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    """Where the server runs."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigError(RuntimeError):
    """The settings cannot run a server; the message is one line for the operator."""


class Settings(BaseSettings):
    """Every setting of the server; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    bank_env: Environment = Environment.DEVELOPMENT
    secret_key: str | None = None
    mongodb_url: str | None = None
    database_name: str = "bank_system"
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default=["http://localhost:3000", "http://localhost:5173"]
    )
    access_token_seconds: int = Field(default=1800, ge=10)
    refresh_token_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    bank_data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    admin_username: str = "admin"
    admin_password: str | None = None
    self_service_cash: bool | None = None
    # Opening an account needs a verified customer (API.md "Customer identification").
    kyc_required: bool | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    db_timeout_ms: int = Field(default=5000, ge=100)
    bank_demo: bool = False
    # The business date is kept in this timezone from the first start on (API.md).
    bank_timezone: str = "UTC"

    # Abuse limits (issue 6). Counters live in memory, or in Redis when REDIS_URL is set.
    redis_url: str | None = None
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    movement_rate_per_minute: int = Field(default=120, ge=1)
    max_page_size: int = Field(default=200, ge=1, le=200)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    docs_enabled: bool | None = None

    # Observability.
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    sentry_dsn: str | None = None
    sentry_environment: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    # Backups.
    backup_key: str | None = None
    backup_dir: Path | None = None
    backup_interval_minutes: int = Field(default=0, ge=0)
    backup_keep: int = Field(default=7, ge=1)

    @field_validator("bank_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def is_production(self) -> bool:
        """Tell whether the production rules apply."""
        return self.bank_env is Environment.PRODUCTION

    @property
    def docs_on(self) -> bool:
        """Tell whether /docs and /openapi.json are served (DOCS_ENABLED; on by default)."""
        return True if self.docs_enabled is None else self.docs_enabled

    @property
    def cash_self_service(self) -> bool:
        """Tell whether owners may deposit and withdraw cash themselves."""
        if self.self_service_cash is not None:
            return self.self_service_cash
        return not self.is_production

    @property
    def kyc_enforced(self) -> bool:
        """Tell whether accounts open only for verified customers (on in production)."""
        if self.kyc_required is not None:
            return self.kyc_required
        return self.is_production

    def check(self) -> None:
        """Refuse settings that must not run; raise ConfigError with a one-line reason."""
        if not self.is_production:
            return
        if self.bank_demo:
            raise ConfigError("--demo is refused in production: it creates well-known passwords")
        if not self.mongodb_url:
            raise ConfigError(
                "BANK_ENV=production needs MONGODB_URL (a MongoDB replica set); "
                "the embedded database is for development only"
            )
        key = self.secret_key or ""
        if len(key) < MIN_SECRET_LENGTH or key in KNOWN_DEFAULT_SECRETS:
            raise ConfigError(
                "BANK_ENV=production needs SECRET_KEY of at least 32 characters that is not "
                "a published default; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )

    def signing_key(self) -> str:
        """Return the JWT key: SECRET_KEY, or in development one kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        if self.is_production:
            raise ConfigError("SECRET_KEY is required in production")
        return _development_key(self.bank_data_dir)


def _development_key(data_dir: Path) -> str:
    """Generate once and keep a development key so tokens survive restarts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        key = secrets.token_urlsafe(48)
        handle.write(key)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
