"""The single writer is the embedded database's need, found at start: on MongoDB transactions
run concurrently (it labels its write conflicts and the driver retries them)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.db import Database, needs_single_writer


class _Admin:
    def __init__(self, git_version: str) -> None:
        self.git_version = git_version

    async def command(self, name: str) -> dict[str, Any]:
        assert name == "buildInfo"
        return {"version": "7.0.0", "gitVersion": self.git_version, "ok": 1.0}


class _Session:
    def __init__(self, client: _Client) -> None:
        self.client = client

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def with_transaction(self, body: Any) -> Any:
        return await body(self)


class _Client:
    """Answers buildInfo as mongod or mongoeco does, and runs transaction bodies as given."""

    def __init__(self, git_version: str) -> None:
        self.admin = _Admin(git_version)

    def start_session(self) -> _Session:
        return _Session(self)


@pytest.mark.parametrize(
    ("git_version", "single"),
    [("mongoeco", True), ("3ff3a3925c36ed277cf5eafca5495f2e3728dd67", False)],
)
async def test_the_writer_rule_is_found_from_build_info(git_version: str, single: bool) -> None:
    assert await needs_single_writer(_Client(git_version)) is single  # type: ignore[arg-type]


async def overlap(single_writer: bool) -> int:
    """Run four transactions at once; return how many ran at the same time at most."""
    database = Database(client=_Client("x"), name="bank", single_writer=single_writer)  # type: ignore[arg-type]
    running = peak = 0

    async def body(_session: Any) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1

    await asyncio.gather(*(database.transaction(body) for _ in range(4)))
    return peak


async def test_transactions_are_serialised_only_for_the_embedded_database() -> None:
    assert await overlap(single_writer=True) == 1
    assert await overlap(single_writer=False) == 4
