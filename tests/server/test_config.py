"""Settings: production refusals, the development key, parsing; transaction detection."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from server.config import ConfigError, Environment, Settings
from server.db import TransactionsUnsupported, check_transactions

GOOD_KEY = "k" * 40


def make(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_needs_mongodb_url() -> None:
    settings = make(bank_env="production", secret_key=GOOD_KEY)
    with pytest.raises(ConfigError, match="MONGODB_URL"):
        settings.check()


@pytest.mark.parametrize(
    "key", [None, "short", "BANK_SECRET_KEY_123", "your-super-secret-key-minimum-32-characters"]
)
def test_production_refuses_missing_short_or_published_keys(key: str | None) -> None:
    settings = make(
        bank_env="production", mongodb_url="mongodb://db/?replicaSet=rs0", secret_key=key
    )
    with pytest.raises(ConfigError, match="SECRET_KEY") as info:
        settings.check()
    assert "\n" not in str(info.value)


def test_production_refuses_demo() -> None:
    settings = make(
        bank_env="production", mongodb_url="mongodb://db", secret_key=GOOD_KEY, bank_demo=True
    )
    with pytest.raises(ConfigError, match="demo"):
        settings.check()


def test_production_with_good_settings_passes() -> None:
    settings = make(bank_env="production", mongodb_url="mongodb://db", secret_key=GOOD_KEY)
    settings.check()
    assert settings.signing_key() == GOOD_KEY
    assert settings.cash_self_service is False


def test_development_generates_and_keeps_a_key(tmp_path: Path) -> None:
    settings = make(bank_data_dir=tmp_path)
    first = settings.signing_key()
    assert len(first) >= 32
    assert make(bank_data_dir=tmp_path).signing_key() == first
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert settings.cash_self_service is True


def test_origins_come_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, https://b.example")
    assert Settings(_env_file=None).allowed_origins == [  # type: ignore[call-arg]
        "https://a.example",
        "https://b.example",
    ]
    monkeypatch.delenv("ALLOWED_ORIGINS")
    assert make().allowed_origins == ["http://localhost:3000", "http://localhost:5173"]


def test_defaults_match_the_contract() -> None:
    settings = make()
    assert settings.bank_env is Environment.DEVELOPMENT
    assert settings.database_name == "bank_system"
    assert settings.access_token_seconds == 1800
    assert settings.refresh_token_seconds == 7 * 24 * 3600


class _FakeSession:
    """A session whose transaction start fails as a standalone mongod answers."""

    async def __aenter__(self) -> _FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def start_transaction(self) -> Any:
        raise OperationFailure(
            "Transaction numbers are only allowed on a replica set member or mongos", code=20
        )


class _FakeClient:
    def __getitem__(self, name: str) -> Any:
        return {"_transaction_probe": None}

    def start_session(self) -> _FakeSession:
        return _FakeSession()


async def test_standalone_mongod_is_refused_with_how_to_fix() -> None:
    with pytest.raises(TransactionsUnsupported, match="replSet"):
        await check_transactions(_FakeClient(), "bank")  # type: ignore[arg-type]


def test_tokens_are_bound_to_the_deployment() -> None:
    binding = make(secret_key=GOOD_KEY, bank_name="Caisse d'Épargne  Nord", database_name="b1")
    assert (binding.token_binding().issuer, binding.token_binding().audience) == (
        "caisse-d-epargne-nord", "caisse-d-epargne-nord:b1"
    )  # fmt: skip
    chosen = make(secret_key=GOOD_KEY, jwt_issuer="https://bank.example", jwt_audience="api")
    assert (chosen.token_binding().issuer, chosen.token_binding().audience) == (
        "https://bank.example", "api"
    )  # fmt: skip


def production(**values: Any) -> Settings:
    return make(bank_env="production", mongodb_url="mongodb://db/?replicaSet=rs0",
                secret_key=GOOD_KEY, **values)  # fmt: skip


@pytest.mark.parametrize("key", [None, "", "short-key", "x" * 31])
def test_production_refuses_backups_without_a_long_key(tmp_path: Path, key: str | None) -> None:
    with pytest.raises(ConfigError, match="BACKUP_KEY") as info:
        production(backup_dir=tmp_path, backup_key=key).check()
    assert "\n" not in str(info.value)
    production(backup_dir=tmp_path, backup_key="k" * 32).check()
    production(backup_key=None).check()  # no backup dir: nothing is written unencrypted


def test_production_refuses_self_service_cash() -> None:
    with pytest.raises(ConfigError, match="SELF_SERVICE_CASH") as info:
        production(self_service_cash=True).check()
    assert "\n" not in str(info.value)
    production(self_service_cash=False).check()


@pytest.mark.parametrize(
    ("password", "why"),
    [("short-pw", "12"), ("eleven-char", "12"), ("x" * 129, "128"), ("admin-admin1", None)],
)
def test_production_refuses_an_admin_password_the_rules_refuse(password: str, why: str) -> None:
    username = "admin-admin1" if why is None else "admin"
    with pytest.raises(ConfigError, match="ADMIN_PASSWORD") as info:
        production(admin_password=password, admin_username=username).check()
    assert "\n" not in str(info.value)
    if why:
        assert why in str(info.value)
    production(admin_password="twelve-chars").check()
