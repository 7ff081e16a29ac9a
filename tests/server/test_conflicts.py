"""mongoeco's unlabelled conflicts: reproduced raw, recognised narrowly, retried to success.

These tests run mongoeco's wire server in-process *without* the gate of `bank-server db`,
so both conflicts DESIGN.md describes happen for real; then the same workload goes through
`Database.transaction` from two independent clients (two "server processes") and every
movement commits with the total preserved.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mongoeco.engines import SQLiteEngine
from mongoeco.wire import AsyncMongoEcoProxyServer
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from server.db import Database, is_unlabelled_conflict
from server.embedded import make_gated_server

ACCOUNTS = 4
OPENING = 1000


async def _seed(client: AsyncMongoClient[Any]) -> None:
    await client.bank.accounts.insert_many(
        [{"_id": i, "balance": OPENING} for i in range(ACCOUNTS)]
    )


async def _move(client: AsyncMongoClient[Any], session: Any, a: int, b: int) -> None:
    accounts = client.bank.accounts
    debited = await accounts.find_one_and_update(
        {"_id": a, "balance": {"$gte": 1}}, {"$inc": {"balance": -1}}, session=session
    )
    if debited is None:
        return
    await accounts.update_one({"_id": b}, {"$inc": {"balance": 1}}, session=session)
    await client.bank.ledger.insert_one({"from": a, "to": b}, session=session)


async def _total(client: AsyncMongoClient[Any]) -> int:
    return sum(doc["balance"] for doc in await client.bank.accounts.find().to_list())


async def _raw_workload(
    client: AsyncMongoClient[Any], workers: int, rounds: int
) -> list[Exception]:
    errors: list[Exception] = []

    async def worker(seed: int) -> None:
        for n in range(rounds):
            a, b = (seed + n) % ACCOUNTS, (seed + n + 1) % ACCOUNTS
            try:
                async with client.start_session() as session:
                    await session.with_transaction(lambda s, a=a, b=b: _move(client, s, a, b))
            except OperationFailure as error:
                errors.append(error)

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return errors


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
async def test_raw_concurrent_transactions_raise_unlabelled_conflicts(
    engine: str, tmp_path: Path
) -> None:
    storage = SQLiteEngine(path=str(tmp_path / "x.sqlite")) if engine == "sqlite" else None
    async with AsyncMongoEcoProxyServer(engine=storage) as server:
        client: AsyncMongoClient[Any] = AsyncMongoClient(server.address.uri, maxPoolSize=32)
        await _seed(client)
        errors = await _raw_workload(client, workers=8, rounds=15)
        assert errors, "expected mongoeco to refuse some concurrent transactions"
        expected = {
            "memory": "Write conflict during transaction commit",
            "sqlite": "active transaction bound to another session",
        }[engine]
        assert any(expected in str(error) for error in errors)
        for error in errors:
            assert is_unlabelled_conflict(error), error
            assert not error.has_error_label("TransientTransactionError")
        assert await _total(client) == ACCOUNTS * OPENING
        await client.close()


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
async def test_transaction_runner_retries_conflicts_across_processes(
    engine: str, tmp_path: Path
) -> None:
    storage = SQLiteEngine(path=str(tmp_path / "x.sqlite")) if engine == "sqlite" else None
    async with AsyncMongoEcoProxyServer(engine=storage) as server:
        # Two clients with their own writer lock stand for two server processes.
        clients = [AsyncMongoClient(server.address.uri, maxPoolSize=16) for _ in range(2)]
        await _seed(clients[0])
        databases = [Database(client=c, name="bank") for c in clients]
        committed = 0

        async def worker(seed: int) -> None:
            nonlocal committed
            database = databases[seed % 2]
            for n in range(10):
                a, b = (seed + n) % ACCOUNTS, (seed + n + 1) % ACCOUNTS
                await database.transaction(lambda s, a=a, b=b, c=database.client: _move(c, s, a, b))
                committed += 1

        await asyncio.gather(*(worker(i) for i in range(8)))
        assert committed == 80
        assert await clients[0].bank.ledger.count_documents({}) == 80
        assert await _total(clients[0]) == ACCOUNTS * OPENING
        for client in clients:
            await client.close()


def test_conflict_recognition_is_narrow() -> None:
    labelled = OperationFailure("Write conflict during transaction commit", code=112)
    assert not is_unlabelled_conflict(labelled)
    transient = OperationFailure("Write conflict during transaction commit")
    transient._add_error_label("TransientTransactionError")
    assert not is_unlabelled_conflict(transient)
    assert not is_unlabelled_conflict(OperationFailure("E11000 duplicate key", code=11000))
    assert not is_unlabelled_conflict(OperationFailure("something else"))
    assert not is_unlabelled_conflict(ValueError("Write conflict during transaction commit"))
    assert is_unlabelled_conflict(OperationFailure("Write conflict during transaction commit"))
    assert is_unlabelled_conflict(OperationFailure("database is locked"))
    assert not is_unlabelled_conflict(OperationFailure("database is locked", code=11600))


async def test_gate_lets_other_sessions_wait_instead_of_failing(tmp_path: Path) -> None:
    """With the gate of `bank-server db`, a read during another session's transaction waits."""
    server = make_gated_server(SQLiteEngine(path=str(tmp_path / "g.sqlite")), "127.0.0.1", 0)
    async with server:
        client: AsyncMongoClient[Any] = AsyncMongoClient(server.address.uri, maxPoolSize=8)
        await _seed(client)
        async with client.start_session() as session:
            await session.start_transaction()
            await client.bank.accounts.update_one(
                {"_id": 0}, {"$inc": {"balance": -5}}, session=session
            )
            reader = asyncio.create_task(client.bank.accounts.find_one({"_id": 0}))
            writer = asyncio.create_task(
                client.bank.accounts.update_one({"_id": 1}, {"$inc": {"balance": 5}})
            )
            await asyncio.sleep(0.3)
            assert not reader.done(), "the read should wait for the open transaction"
            await session.commit_transaction()
        seen = await asyncio.wait_for(reader, 10)
        await asyncio.wait_for(writer, 10)
        assert seen is not None
        assert seen["balance"] == OPENING - 5  # it saw the committed state, not a partial one
        assert await _total(client) == ACCOUNTS * OPENING
        # And the contended raw workload now commits without a single conflict.
        errors = await _raw_workload(client, workers=8, rounds=10)
        assert errors == []
        assert await client.bank.ledger.count_documents({}) == 80
        await client.close()


# A client process that opens a transaction, writes once and then hangs (or waits at the
# gate behind another session's transaction) until it is killed, as a stopped server would.
_HANGING_CLIENT = """
import sys, time
from pymongo import MongoClient
client = MongoClient(sys.argv[1])
session = client.start_session()
session.start_transaction()
print("writing", flush=True)
client.bank.accounts.update_one({"_id": int(sys.argv[2])}, {"$inc": {"balance": -1}},
                                session=session)
print("wrote", flush=True)
time.sleep(600)
"""


async def _hanging_client(uri: str, account: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HANGING_CLIENT, uri, str(account),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()


async def test_a_dead_clients_transaction_is_aborted_at_once_not_after_its_lifetime(
    tmp_path: Path,
) -> None:
    """A client killed inside its transaction: the next session waits a second, not 60 s."""
    engine = SQLiteEngine(path=str(tmp_path / "g.sqlite"))
    server = make_gated_server(engine, "127.0.0.1", 0, txn_lifetime=60.0)
    async with server:
        client: AsyncMongoClient[Any] = AsyncMongoClient(server.address.uri)
        await _seed(client)
        dead = await _hanging_client(server.address.uri, 0)
        assert await _read_line(dead) == "writing"
        assert await _read_line(dead) == "wrote"  # it owns the gate now
        waiting = asyncio.create_task(
            client.bank.accounts.update_one({"_id": 1}, {"$inc": {"balance": 1}})
        )
        await asyncio.sleep(0.5)
        assert not waiting.done(), "a write must wait for the open transaction"
        dead.kill()
        await dead.wait()
        started = time.monotonic()
        await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - started < 5
        # The dead client's write was rolled back; the waiting one went through.
        balances = {doc["_id"]: doc["balance"] async for doc in client.bank.accounts.find()}
        assert balances[0] == OPENING
        assert balances[1] == OPENING + 1
        await client.close()


async def test_a_command_whose_client_died_at_the_gate_never_takes_it(tmp_path: Path) -> None:
    """A client killed while its transaction waits at the gate leaves nothing to wait out."""
    engine = SQLiteEngine(path=str(tmp_path / "g.sqlite"))
    server = make_gated_server(engine, "127.0.0.1", 0, txn_lifetime=60.0)
    async with server:
        client: AsyncMongoClient[Any] = AsyncMongoClient(server.address.uri)
        await _seed(client)
        async with client.start_session() as session:
            await session.start_transaction()
            await client.bank.accounts.update_one(
                {"_id": 0}, {"$inc": {"balance": -5}}, session=session
            )
            queued = await _hanging_client(server.address.uri, 2)
            assert await _read_line(queued) == "writing"
            await asyncio.sleep(1.0)  # its first command of the transaction waits at the gate
            queued.kill()
            await queued.wait()
            await asyncio.sleep(1.5)  # the gate notices the hang-up within a second
            await session.commit_transaction()
        started = time.monotonic()
        await asyncio.wait_for(
            client.bank.accounts.update_one({"_id": 1}, {"$inc": {"balance": 5}}), 10
        )
        assert time.monotonic() - started < 5, "the dead client's transaction held the gate"
        balances = {doc["_id"]: doc["balance"] async for doc in client.bank.accounts.find()}
        assert balances == {0: OPENING - 5, 1: OPENING + 5, 2: OPENING, 3: OPENING}
        await client.close()
