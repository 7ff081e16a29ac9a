"""Settings from the environment and `.env`, checked once at start."""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.security import TokenBinding

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
MIN_BACKUP_KEY_LENGTH = 32
# API.md: passwords are 8-128 characters; staff need at least 12 (server/services/users.py).
STAFF_PASSWORD_MIN, PASSWORD_MAX = 12, 128


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
    bank_name: str = "Bank System"
    # Tokens name the deployment that signed them and the one that accepts them (`iss`,
    # `aud`); unset, both are derived from BANK_NAME and DATABASE_NAME (`token_binding`).
    jwt_issuer: str | None = Field(default=None, min_length=1, max_length=200)
    jwt_audience: str | None = Field(default=None, min_length=1, max_length=200)
    # The business date is kept in this timezone from the first start on (API.md).
    bank_timezone: str = "UTC"
    # The day's close waits this long after new postings take the next date, so that no
    # transaction that read the old date is still to commit. None: none on the embedded
    # database (one transaction at a time), MongoDB's transaction lifetime otherwise.
    day_close_grace_seconds: float | None = Field(default=None, ge=0)

    # Abuse limits (issue 6). Counters live in memory, or in Redis when REDIS_URL is set.
    redis_url: str | None = None
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    # Sign-in hardening (issue 11; README "Abuse limits").
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_attempts_per_minute_per_ip: int = Field(default=60, ge=1)
    login_attempts_per_minute_per_user: int = Field(default=10, ge=1)
    login_delay_seconds: float = Field(default=1.0, ge=0, le=60)
    device_token_days: int = Field(default=90, ge=1, le=3650)
    max_sessions_per_user: int = Field(default=10, ge=1, le=1000)
    password_hash_concurrency: int | None = Field(default=None, ge=1, le=64)
    signup_rate_per_hour: int = Field(default=20, ge=1)
    open_rate_per_hour: int = Field(default=100, ge=1)
    open_rate_per_hour_per_ip: int = Field(default=300, ge=1)
    movement_rate_per_minute: int = Field(default=120, ge=1)
    # Statements (issue 11): one request covers at most this many lines and days (422
    # `statement_too_large`), and each user asks for so many a minute (429).
    statement_max_rows: int = Field(default=5000, ge=1)
    statement_max_days: int = Field(default=366, ge=1)
    statement_rate_per_minute: int = Field(default=20, ge=1)
    # Payee lookups per user a minute: a number guesser is slowed down (429).
    payee_rate_per_minute: int = Field(default=30, ge=1)
    max_page_size: int = Field(default=200, ge=1, le=200)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    docs_enabled: bool | None = None
    # /metrics for callers on loopback (after TRUSTED_PROXIES); admins always get it.
    metrics_loopback: bool = False

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
        if self.backup_dir is not None and len(self.backup_key or "") < MIN_BACKUP_KEY_LENGTH:
            raise ConfigError(
                "BANK_ENV=production with BACKUP_DIR needs BACKUP_KEY of at least 32 "
                "characters (backups hold personal data and password hashes); generate one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.self_service_cash:
            raise ConfigError(
                "SELF_SERVICE_CASH=true is refused in production: only staff handle cash there"
            )
        if self.admin_password is not None:
            self._check_admin_password(self.admin_password)

    def _check_admin_password(self, password: str) -> None:
        """Refuse a first admin's password the rules for staff passwords refuse."""
        if not STAFF_PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise ConfigError(
                f"ADMIN_PASSWORD must be {STAFF_PASSWORD_MIN}-{PASSWORD_MAX} characters "
                "(an admin's password needs at least 12)"
            )
        if password.lower() == self.admin_username.strip().lower():
            raise ConfigError("ADMIN_PASSWORD must not equal ADMIN_USERNAME")

    def signing_key(self) -> str:
        """Return the JWT key: SECRET_KEY, or in development one kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        if self.is_production:
            raise ConfigError("SECRET_KEY is required in production")
        return _development_key(self.bank_data_dir)

    def token_binding(self) -> TokenBinding:
        """Return the key, issuer and audience every token of this deployment carries."""
        issuer = self.jwt_issuer or f"{_slug(self.bank_name)}"
        audience = self.jwt_audience or f"{issuer}:{self.database_name}"
        return TokenBinding(key=self.signing_key(), issuer=issuer, audience=audience)


def _slug(text: str) -> str:
    """Return a name as lower-case words joined by '-' ("Bank System" -> "bank-system")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower())) or "bank"


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
