"""The embedded database: mongoeco's MongoDB-wire server on a SQLite file (`bank-server db`).

mongoeco's SQLite engine holds one transaction at a time and answers every other command,
reads included, with an unlabelled "active transaction bound to another session" error
while it is open. A real mongod lets other sessions go on. The gate below makes the
embedded server behave like a database with a global write lock instead: commands of
other sessions wait until the open transaction commits or aborts, so neither this
process's clients nor other server processes ever see that error in normal operation.
A transaction left open by a client that died is aborted after `TXN_LIFETIME_SECONDS`,
as MongoDB's `transactionLifetimeLimitSeconds` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bank.db")

TXN_LIFETIME_SECONDS = 60.0
_TXN_END_COMMANDS = frozenset({"commitTransaction", "abortTransaction"})
# Handshake and monitoring commands never touch the storage engine; gating them would stall
# the driver's server monitor and, with it, the commit the gate is waiting for.
_UNGATED_COMMANDS = frozenset(
    {
        "hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo", "saslStart",
        "saslContinue", "endSessions", "whatsmyuri", "connectionStatus", "hostInfo",
        "getCmdLineOpts", "getParameter", "serverStatus",
    }
)  # fmt: skip
READY_PREFIX = "bank-db listening on "


def _command_of(header: Any, payload: bytes) -> dict[str, Any] | None:
    """Decode the command document of an OP_MSG, or None when it is not one."""
    from mongoeco.wire.protocol import OP_MSG, decode_op_msg

    if header.op_code != OP_MSG:
        return None
    try:
        body = decode_op_msg(header, payload).body
    except Exception:  # malformed messages are the executor's to answer
        return None
    return body if isinstance(body, dict) else None


def _session_key(command: dict[str, Any]) -> bytes | None:
    lsid = command.get("lsid")
    if isinstance(lsid, dict):
        ident = lsid.get("id")
        data = getattr(ident, "bytes", None)
        if isinstance(data, bytes):
            return data
        if isinstance(ident, bytes):
            return ident
    return None


def make_gated_server(
    engine: Any, host: str, port: int, txn_lifetime: float = TXN_LIFETIME_SECONDS
) -> Any:
    """Build a wire server whose transactions exclude every other session's commands."""
    from mongoeco.wire import AsyncMongoEcoProxyServer

    class GatedProxyServer(AsyncMongoEcoProxyServer):
        def __init__(self) -> None:
            super().__init__(engine=engine, host=host, port=port)
            self._gate = asyncio.Condition()
            self._owner: bytes | None = None
            self._owner_since = 0.0
            self._owner_command: dict[str, Any] | None = None
            self._inflight = 0
            self._starting = 0

        async def _until_free(self, key: bytes | None) -> None:
            # Called with the gate held: wait until no other session owns a transaction.
            while self._owner is not None and self._owner != key:
                remaining = self._owner_since + txn_lifetime - time.monotonic()
                if remaining <= 0:
                    await self._abort_lapsed()
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._gate.wait(), timeout=min(remaining, 1.0))

        async def _abort_lapsed(self) -> None:
            # Called with the gate held: end the stale transaction in the engine.
            stale = self._owner_command or {}
            log.warning("aborting a transaction open for over %ss", txn_lifetime)
            with contextlib.suppress(Exception):
                await self._executor.execute_prepared(
                    self._executor._build_request_context(
                        {
                            "abortTransaction": 1,
                            "$db": "admin",
                            "lsid": stale.get("lsid"),
                            "txnNumber": stale.get("txnNumber"),
                            "autocommit": False,
                        },
                        connection=None,
                        db_name=None,
                    )
                )
            self._owner = None
            self._owner_command = None
            self._gate.notify_all()

        async def _release(self, key: bytes | None) -> None:
            async with self._gate:
                if self._owner is not None and self._owner == key:
                    self._owner = None
                    self._owner_command = None
                    self._gate.notify_all()

        async def _dispatch_wire_request(
            self, header: Any, payload: bytes, *, connection: Any
        ) -> bytes | None:
            command = _command_of(header, payload)
            if command is None:
                return await super()._dispatch_wire_request(header, payload, connection=connection)
            name = next(iter(command), "")
            if name in _UNGATED_COMMANDS:
                return await super()._dispatch_wire_request(header, payload, connection=connection)
            key = _session_key(command)
            in_txn = command.get("autocommit") is False and key is not None
            counted = False
            if in_txn and command.get("startTransaction"):
                async with self._gate:
                    self._starting += 1
                    try:
                        await self._until_free(key)
                        while self._inflight:  # commands already inside the engine
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._gate.wait(), timeout=1.0)
                            await self._until_free(key)
                    finally:
                        self._starting -= 1
                    self._owner = key
                    self._owner_since = time.monotonic()
                    self._owner_command = {
                        "lsid": command.get("lsid"),
                        "txnNumber": command.get("txnNumber"),
                    }
            elif not (in_txn and key == self._owner):
                async with self._gate:
                    await self._until_free(key)
                    while self._starting and self._owner is None:  # let waiting txns in
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._gate.wait(), timeout=1.0)
                        await self._until_free(key)
                    self._inflight += 1
                    counted = True
            try:
                return await super()._dispatch_wire_request(header, payload, connection=connection)
            finally:
                if counted:
                    async with self._gate:
                        self._inflight -= 1
                        self._gate.notify_all()
                if in_txn and name in _TXN_END_COMMANDS:
                    await self._release(key)

    return GatedProxyServer()


class DataDirLock:
    """An exclusive lock on the data dir, so two database processes never share a file."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "bank-db.lock"
        self._fd: int | None = None

    def acquire(self, wait: float = 3.0) -> None:
        """Take the lock, waiting briefly for a stopping holder; else raise RuntimeError."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() < deadline:
                    time.sleep(0.1)  # a restart: the old process is still shutting down
                    continue
                holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise RuntimeError(
                    f"the database in {self.path.parent} is already served by pid {holder}"
                ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock back."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def serve_database(
    *,
    host: str,
    port: int,
    data_dir: Path,
    engine: str = "sqlite",
    watch_parent: bool = False,
    txn_lifetime: float = TXN_LIFETIME_SECONDS,
) -> None:
    """Run the wire server until SIGTERM/SIGINT (or until the parent process dies)."""
    from mongoeco.engines import SQLiteEngine

    lock: DataDirLock | None = None
    if engine == "sqlite":
        lock = DataDirLock(data_dir)
        lock.acquire()
        storage: Any = SQLiteEngine(path=str(data_dir / "bank.sqlite"))
    else:
        storage = None
    server = make_gated_server(storage, host, port, txn_lifetime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    try:
        async with server:
            address = server.address
            print(f"{READY_PREFIX}{address.host}:{address.port}", flush=True)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                if watch_parent and os.getppid() != parent:
                    log.warning("parent process %s is gone; stopping the database", parent)
                    break
    finally:
        if lock is not None:
            lock.release()


def run_database(
    *,
    host: str,
    port: int,
    data_dir: Path,
    engine: str = "sqlite",
    watch_parent: bool = False,
    txn_lifetime: float = TXN_LIFETIME_SECONDS,
) -> int:
    """Entry point of `bank-server db`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(
            serve_database(
                host=host,
                port=port,
                data_dir=data_dir,
                engine=engine,
                watch_parent=watch_parent,
                txn_lifetime=txn_lifetime,
            )
        )
    except RuntimeError as exc:
        print(f"bank-server db: {exc}", file=sys.stderr)
        return 2
    return 0
