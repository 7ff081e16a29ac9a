"""Database access: the client, Beanie set-up, id counters and the transaction runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from server.documents import ALL_DOCUMENTS, Counter
from server.embedded import READY_PREFIX
from shared.launcher import server_command, stop_process

log = logging.getLogger("bank.db")

# mongoeco raises these write conflicts with no code and no TransientTransactionError label
# (DESIGN.md), so the driver does not retry them; real MongoDB labels its conflicts.
UNLABELLED_CONFLICTS = (
    "Write conflict during transaction commit",
    "already has an active transaction bound to another session",
    "has an active transaction bound to another session",
    # SQLite's busy timeout (5 s) ran out behind mongoeco's own background writer
    # (seen once in a benchmark run); nothing was written, so a retry is safe.
    "database is locked",
)
CONFLICT_RETRY_SECONDS = 20.0
OWN_LINE = "bank-server db: "  # how `bank-server db` starts the line that says why it stopped


# Set while a transaction body runs in this task: a helper that would open a transaction of
# its own (the writer lock is not reentrant) can tell it must use the caller's session.
_IN_TRANSACTION: ContextVar[bool] = ContextVar("bank_in_transaction", default=False)


def in_transaction() -> bool:
    """Tell whether the current task is inside `Database.transaction`."""
    return _IN_TRANSACTION.get()


class RetryTransaction(Exception):
    """Raised inside a transaction body when what it read changed; the runner starts over."""


class TransactionsUnsupported(RuntimeError):
    """The database cannot run multi-document transactions (a standalone mongod)."""


def is_unlabelled_conflict(error: BaseException) -> bool:
    """Recognise mongoeco's unlabelled write conflicts, and nothing else."""
    if not isinstance(error, OperationFailure):
        return False
    if error.code not in (None, 0):
        return False
    if error.has_error_label("TransientTransactionError"):
        return False
    message = str(error)
    return any(marker in message for marker in UNLABELLED_CONFLICTS)


def _discard_server_session(session: AsyncClientSession) -> None:
    server_session = getattr(session, "_server_session", None)
    if server_session is not None:
        server_session.mark_dirty()


type TxnBody[T] = Callable[[AsyncClientSession], Awaitable[T]]


@dataclass
class Database:
    """The process's connection to MongoDB, and on the embedded database its single writer.

    `single_writer` is found at start (`needs_single_writer`): mongoeco fails concurrent
    transactions with unlabelled conflicts, so there they run one at a time in a process;
    real MongoDB labels its write conflicts and the driver retries them, so there nothing
    is serialized and an anonymous burst cannot queue money behind it.
    """

    client: AsyncMongoClient[Any]
    name: str
    single_writer: bool = True
    # The embedded database (`bank-server db`) runs one transaction at a time across every
    # process (server/embedded.py's gate); MongoDB runs them side by side. The day's close
    # needs no grace period on the former (see server/services/business_day).
    serialises_transactions: bool = False

    def __post_init__(self) -> None:
        self._writer: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.single_writer else contextlib.nullcontext()
        )

    @property
    def db(self) -> Any:
        """Return the PyMongo database handle."""
        return self.client[self.name]

    async def transaction[T](self, body: TxnBody[T]) -> T:
        """Run `body` in one transaction (serialized in this process on the embedded database),
        retrying conflicts.

        The driver's `with_transaction` retries TransientTransactionError and unknown
        commit results; this loop adds mongoeco's unlabelled conflicts, with jittered
        backoff, which happen when several server processes share one embedded database.
        """
        deadline = time.monotonic() + CONFLICT_RETRY_SECONDS
        delay = 0.005
        while True:
            try:
                async with self._writer, self.client.start_session() as session:
                    inside = _IN_TRANSACTION.set(True)
                    try:
                        return await session.with_transaction(body)
                    except OperationFailure as error:
                        if is_unlabelled_conflict(error):
                            # mongoeco keeps the failed transaction's state under the
                            # session id; never hand that server session out again.
                            _discard_server_session(session)
                        raise
                    finally:
                        _IN_TRANSACTION.reset(inside)
            except OperationFailure as error:
                if not is_unlabelled_conflict(error) or time.monotonic() > deadline:
                    raise
                log.info("retrying after an unlabelled write conflict: %s", error)
            except RetryTransaction as error:
                if time.monotonic() > deadline:
                    raise
                log.info("retrying a transaction: %s", error)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    async def next_id(self, name: str, *, session: AsyncClientSession | None = None) -> int:
        """Return the next sequential id of `name` from an atomic findOneAndUpdate."""
        collection = Counter.get_pymongo_collection()
        for _attempt in range(3):
            try:
                doc = await collection.find_one_and_update(
                    {"_id": name},
                    {"$inc": {"seq": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    session=session,
                )
                assert doc is not None  # upsert with ReturnDocument.AFTER always returns it
                return int(doc["seq"])
            except DuplicateKeyError:
                # Two first-ever upserts raced; the loser retries as an update.
                continue
        raise RuntimeError(f"counter {name!r} could not be incremented")

    async def ping(self) -> bool:
        """Tell whether the database answers."""
        try:
            await self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True


def make_client(url: str, *, timeout_ms: int = 5000) -> AsyncMongoClient[Any]:
    """Create the PyMongo async client the server uses."""
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        # A busy embedded database accepts connections late; a refused one fails at once.
        connectTimeoutMS=max(timeout_ms, 20_000),
        uuidRepresentation="standard",
        maxPoolSize=50,
    )


async def check_transactions(client: AsyncMongoClient[Any], name: str) -> None:
    """Run a trial transaction; raise TransactionsUnsupported with how to fix it."""
    probe = client[name]["_transaction_probe"]
    try:
        async with client.start_session() as session, await session.start_transaction():
            await probe.update_one(
                {"_id": "probe"}, {"$set": {"at": time.time()}}, upsert=True, session=session
            )
    except OperationFailure as error:
        if error.code == 20 or "replica set" in str(error) or "Transaction" in str(error):
            raise TransactionsUnsupported(
                "this MongoDB cannot run transactions (a standalone mongod?); money needs a "
                "replica set: start mongod with --replSet rs0, run rs.initiate() once, and "
                "use MONGODB_URL=mongodb://HOST:27017/?replicaSet=rs0"
            ) from error
        raise


EMBEDDED_GIT_VERSION = "mongoeco"


async def needs_single_writer(client: AsyncMongoClient[Any]) -> bool:
    """Tell whether the server is the embedded database (mongoeco), whose transactions must
    not run concurrently and whose gate runs one at a time across processes.

    mongoeco names itself in `buildInfo.gitVersion`; mongod and mongos give a git hash.
    """
    try:
        info = await client.admin.command("buildInfo")
    except PyMongoError:
        return False
    return str(info.get("gitVersion", "")).startswith(EMBEDDED_GIT_VERSION)


# The business day's close asks the same question: does one transaction run at a time?
serialises_transactions = needs_single_writer


async def init_database(client: AsyncMongoClient[Any], name: str) -> Database:
    """Connect Beanie, create indexes, check that transactions work and find the writer rule."""
    await init_beanie(database=client[name], document_models=list(ALL_DOCUMENTS))
    await check_transactions(client, name)
    single = await needs_single_writer(client)
    log.info("database %s: %s", name, "embedded, one writer per process" if single
             else "MongoDB, concurrent transactions")  # fmt: skip
    return Database(client=client, name=name, single_writer=single, serialises_transactions=single)


class EmbeddedDatabase:
    """A `bank-server db` child process on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        engine: str = "sqlite",
        host: str = "127.0.0.1",
        port: int = 0,
        txn_lifetime: float | None = None,
    ):
        self.data_dir = data_dir
        self.engine = engine
        self.host = host
        self.port = port
        self.txn_lifetime = txn_lifetime
        self.process: subprocess.Popen[str] | None = None
        self.address: str | None = None

    @property
    def url(self) -> str:
        """Return the MongoDB URL of the running child."""
        if self.address is None:
            raise RuntimeError("the embedded database is not running")
        return f"mongodb://{self.address}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> str:
        """Start the child and wait until it listens; return its URL.

        Raise RuntimeError with the child's own last line when it does not start (a locked
        data dir, a port in use), so the caller can pass on what is wrong in one line.
        """
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        command = server_command(
            "db", "--host", self.host, "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--engine", self.engine, "--watch-parent",
        )  # fmt: skip
        if self.txn_lifetime is not None:
            command += ["--txn-lifetime", str(self.txn_lifetime)]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready = threading.Event()
        lines: list[str] = []
        # The child's stderr is held back until it is ready, then passed through: a child
        # that fails to start has its reason told once, by this process, in one line.
        held: list[str] = []
        passing = threading.Event()
        stderr_lock = threading.Lock()

        def pump() -> None:
            assert self.process is not None
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if not ready.is_set():
                    lines.append(line)
                    if line.startswith(READY_PREFIX):
                        ready.set()

        def pump_stderr() -> None:
            assert self.process is not None
            assert self.process.stderr is not None
            for line in self.process.stderr:
                with stderr_lock:
                    if not passing.is_set():
                        held.append(line)
                        continue
                    with contextlib.suppress(ValueError, OSError):  # our stderr closed
                        sys.stderr.write(line)
                        sys.stderr.flush()

        threading.Thread(target=pump, daemon=True, name="bank-db-stdout").start()
        errors = threading.Thread(target=pump_stderr, daemon=True, name="bank-db-stderr")
        errors.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            exited = self.process.poll()
            if exited is not None or time.monotonic() > deadline:
                self.stop()
                errors.join(2)
                with stderr_lock:
                    said = [line.strip() for line in held if line.strip()]
                if said and said[-1].startswith(OWN_LINE):  # its own one-line reason
                    raise RuntimeError(said[-1].removeprefix(OWN_LINE))
                reason = said[-1] if said else (
                    f"it exited with status {exited}" if exited is not None
                    else f"it did not listen within {timeout:g} s"
                )  # fmt: skip
                raise RuntimeError(f"the embedded database did not start: {reason}")
        with stderr_lock:
            passing.set()
            sys.stderr.writelines(held)
            sys.stderr.flush()
        self.address = lines[-1][len(READY_PREFIX) :].strip()
        self.port = int(self.address.rsplit(":", 1)[1])  # a restart reuses the port
        return self.url

    def kill(self) -> None:
        """Kill the child with SIGKILL, as a crash would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL)."""
        process, self.process = self.process, None
        stop_process(process, grace=timeout)


__all__ = [
    "ConnectionFailure",
    "Database",
    "EmbeddedDatabase",
    "RetryTransaction",
    "TransactionsUnsupported",
    "check_transactions",
    "in_transaction",
    "init_database",
    "is_unlabelled_conflict",
    "make_client",
    "needs_single_writer",
    "serialises_transactions",
]
