"""The embedded database: mongoeco's MongoDB-wire server on a SQLite file (`bank-server db`).

mongoeco's SQLite engine holds one transaction at a time and answers every other command,
reads included, with an unlabelled "active transaction bound to another session" error
while it is open. A real mongod lets other sessions go on. The gate below makes the
embedded server behave like a database with a global write lock instead: commands of
other sessions wait until the open transaction commits or aborts, so neither this
process's clients nor other server processes ever see that error in normal operation.
A transaction left open by a client that died is aborted after `TXN_LIFETIME_SECONDS`,
as MongoDB's `transactionLifetimeLimitSeconds` does, or at once when its client's connection
has closed while another session waits; a command whose client hung up while it waited for
the gate is dropped, so a stopped server process leaves no transaction behind to wait out.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import functools
import logging
import os
import signal
import sys
import threading
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

# The reader of the connection whose command is being dispatched (set in its handler task).
_READER: contextvars.ContextVar[asyncio.StreamReader | None] = contextvars.ContextVar(
    "bank_db_reader", default=None
)


class _ClientGone(Exception):
    """The client of a command waiting at the gate closed its connection."""


def _hung_up(reader: asyncio.StreamReader | None) -> bool:
    """Tell whether the peer of a connection closed it (EOF or a reset), while unread.

    The wire protocol sends one request per connection at a time, so a connection whose
    request is still being answered has nothing else to read: EOF means the client is gone.
    """
    return reader is not None and (reader.at_eof() or reader.exception() is not None)


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
            self._owner_reader: asyncio.StreamReader | None = None
            self._owner_busy = 0  # the owner's commands inside the engine

        async def _handle_connection(
            self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            _READER.set(reader)  # this connection's task only
            await super()._handle_connection(reader, writer)

        async def _wait(self, at_most: float = 1.0) -> None:
            # Called with the gate held: wait for a change, or a second at most, and give up
            # when this command's own client has hung up.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gate.wait(), timeout=at_most)
            if _hung_up(_READER.get()):
                raise _ClientGone

        async def _until_free(self, key: bytes | None) -> None:
            # Called with the gate held: wait until no other session owns a transaction.
            while self._owner is not None and self._owner != key:
                remaining = self._owner_since + txn_lifetime - time.monotonic()
                if remaining <= 0:
                    await self._abort_lapsed(f"open for over {txn_lifetime:g} s")
                    continue
                if not self._owner_busy and _hung_up(self._owner_reader):
                    await self._abort_lapsed("its client closed the connection")
                    continue
                await self._wait(min(remaining, 1.0))

        async def _abort_lapsed(self, why: str) -> None:
            # Called with the gate held: end the stale transaction in the engine.
            stale = self._owner_command or {}
            log.warning("aborting a transaction: %s", why)
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
            self._clear_owner()

        def _clear_owner(self) -> None:
            # Called with the gate held: no session owns a transaction now.
            self._owner = None
            self._owner_command = None
            self._owner_reader = None
            self._gate.notify_all()

        async def _release(self, key: bytes | None) -> None:
            async with self._gate:
                if self._owner is not None and self._owner == key:
                    self._clear_owner()

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
            try:
                counted = await self._admit(command, key, in_txn)
            except _ClientGone:
                return None  # nobody to answer; the connection's loop sees the EOF and ends
            owners = in_txn and key == self._owner
            if owners:
                self._owner_reader = _READER.get()
                self._owner_busy += 1
            try:
                return await super()._dispatch_wire_request(header, payload, connection=connection)
            finally:
                if owners:
                    self._owner_busy -= 1
                if counted:
                    async with self._gate:
                        self._inflight -= 1
                        self._gate.notify_all()
                if in_txn and name in _TXN_END_COMMANDS:
                    await self._release(key)

        async def _admit(self, command: dict[str, Any], key: bytes | None, in_txn: bool) -> bool:
            # Wait at the gate as the command needs; return whether it counts as in flight.
            if in_txn and command.get("startTransaction"):
                async with self._gate:
                    self._starting += 1
                    try:
                        await self._until_free(key)
                        while self._inflight:  # commands already inside the engine
                            await self._wait()
                            await self._until_free(key)
                    finally:
                        self._starting -= 1
                    self._owner = key
                    self._owner_since = time.monotonic()
                    self._owner_command = {
                        "lsid": command.get("lsid"),
                        "txnNumber": command.get("txnNumber"),
                    }
                return False  # the dispatch notes the owner's reader
            if in_txn and key == self._owner:
                return False
            async with self._gate:
                await self._until_free(key)
                while self._starting and self._owner is None:  # let waiting txns in
                    await self._wait()
                    await self._until_free(key)
                self._inflight += 1
            return True

    return GatedProxyServer()


class _Candidates:
    """Storage keys of the documents that may hold each uniqueness key (a superset)."""

    __slots__ = ("by_key",)

    def __init__(self) -> None:
        self.by_key: dict[Any, set[str]] = {}

    def add(self, key: Any, storage_key: str) -> None:
        self.by_key.setdefault(key, set()).add(storage_key)

    def get(self, key: Any) -> set[str]:
        return self.by_key.get(key, set())


@functools.cache
def fast_unique_engine_class() -> type[Any]:
    """Return mongoeco's SQLite engine without its per-write collection scans.

    Three changes, each measured (README "Performance"): uniqueness checks read candidate
    documents instead of the whole collection (below); the planner's questions about a
    collection (arrays, Decimal128 values) are answered across writes (`_note_shape`); and
    SQLite calls run on the event loop's thread (`_run_blocking`).

    mongoeco 4.11 enforces uniqueness on every insert by loading and decoding the whole
    collection in Python: for the `_id` (numeric ids compare across BSON types, and single
    inserts always re-check the payload id) and for any unique index its SQLite scalar table
    cannot answer (compound ones, such as the ledger's `(account_id, seq)`). An insert costs
    O(n), so append-only collections slow down as they grow.

    This subclass keeps, per collection, an in-memory map from each uniqueness key (the very
    key the scan compares: `bson_equality_key` of `_id`, `_index_value` of each unique
    index field) to the storage keys of the documents that may hold it. The map is built by
    one scan the first time a collection is checked, and every document that passes a check
    is added before it is written (every write path of the engine checks first). It is a
    superset: a rolled-back or deleted document stays in it. mongoeco's own check then runs
    unchanged, except that its collection scans read only those candidate documents by
    primary key, so its exact comparisons still decide. Cases the map does not model (a
    collation, array values) fall back to the full scans; dropping or renaming a
    collection or database forgets every map.
    """
    from mongoeco.core.bson_ordering import bson_equality_key
    from mongoeco.core.codec import DocumentCodec
    from mongoeco.engines import SQLiteEngine
    from mongoeco.engines.virtual_indexes import document_in_virtual_index

    validate_code = SQLiteEngine._validate_document_against_unique_indexes.__code__
    tag_marker = DocumentCodec._MARKER

    class FastUniqueSQLiteEngine(SQLiteEngine):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._candidates: dict[tuple[str, str], dict[Any, _Candidates]] = {}
            self._candidates_lock = threading.RLock()
            self._check = threading.local()
            self._array_facts: dict[tuple[str, str, str, str, str], bool] = {}
            self._shapes: dict[tuple[str, str], tuple[set[str], set[tuple[str, str]]]] = {}
            self._nested_arrays: set[tuple[str, str]] = set()

        async def _run_blocking(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
            # mongoeco hands every SQLite call to a thread pool and awaits it. Behind the
            # gate one transaction runs at a time and each call takes well under a
            # millisecond, so the hand-over (a thread wake-up and a wake-up of the event
            # loop, both fighting for the GIL) cost more than the call: run it inline.
            return contextvars.copy_context().run(func, *args, **kwargs)

        @staticmethod
        def _slot(index: dict[str, Any]) -> tuple[str, str]:
            return (str(index["name"]), repr(index.get("key")))

        def _key_of(self, document: dict[str, Any], index: dict[str, Any] | None) -> Any:
            # The key the check compares, or None when there is nothing to compare: no `_id`,
            # or a sparse or partial index that leaves the document out (mongoeco's check
            # skips those on both sides, so they are nobody's candidates).
            if index is None:
                return bson_equality_key(document["_id"]) if "_id" in document else None
            if not document_in_virtual_index(document, index):
                return None
            return tuple(self._index_value(document, field) for field in index["fields"])

        def _maps(
            self, db_name: str, coll_name: str, slots: dict[Any, dict[str, Any] | None]
        ) -> dict[Any, _Candidates]:
            """Return the collection's maps, building the missing ones with one scan."""
            with self._candidates_lock:
                maps = self._candidates.setdefault((db_name, coll_name), {})
                missing = {slot: index for slot, index in slots.items() if slot not in maps}
                if missing:
                    built = {slot: _Candidates() for slot in missing}
                    for storage_key, existing in SQLiteEngine._load_documents(
                        self, db_name, coll_name
                    ):
                        for slot, index in missing.items():
                            key = self._key_of(existing, index)
                            if key is not None:
                                built[slot].add(key, storage_key)
                    maps.update(built)
                return maps

        def _unique_index_uses_multikey_values(
            self, db_name: str, coll_name: str, document: Any, index: Any
        ) -> bool:
            memo = getattr(self._check, "multikey", None)
            if memo is None:
                return bool(
                    super()._unique_index_uses_multikey_values(db_name, coll_name, document, index)
                )
            name = index["name"]
            if name not in memo:
                memo[name] = bool(
                    super()._unique_index_uses_multikey_values(db_name, coll_name, document, index)
                )
            return bool(memo[name])

        def _validate_document_against_unique_indexes(
            self,
            db_name: str,
            coll_name: str,
            document: Any,
            *,
            exclude_storage_key: str | None = None,
            skip_id_check: bool = False,
            scan_payload_id: bool = False,
        ) -> None:
            self._note_shape(db_name, coll_name, document)
            unique = [index for index in self._load_indexes(db_name, coll_name) if index["unique"]]
            self._check.multikey = {}
            try:
                modelled = not any(
                    index.get("collation") is not None
                    or (
                        document_in_virtual_index(document, index)
                        and self._unique_index_uses_multikey_values(
                            db_name, coll_name, document, index
                        )
                    )
                    for index in unique
                )
                slots: dict[Any, dict[str, Any] | None] = {"_id": None}
                slots.update({self._slot(index): index for index in unique})
                maps = self._maps(db_name, coll_name, slots)
                if modelled:
                    allowed: set[str] = set()
                    for slot, index in slots.items():
                        if slot == "_id" and ("_id" not in document or skip_id_check):
                            continue
                        allowed |= maps[slot].get(self._key_of(document, index))
                    self._check.allowed = ((db_name, coll_name), allowed)
                super()._validate_document_against_unique_indexes(
                    db_name,
                    coll_name,
                    document,
                    exclude_storage_key=exclude_storage_key,
                    skip_id_check=skip_id_check,
                    scan_payload_id=scan_payload_id,
                )
            finally:
                self._check.allowed = None
                self._check.multikey = None
            storage_key = exclude_storage_key
            if storage_key is None and "_id" in document:
                storage_key = self._storage_key(document["_id"])
            with self._candidates_lock:
                if storage_key is None:  # cannot be placed: rebuild on the next check
                    self._candidates.pop((db_name, coll_name), None)
                    return
                for slot, index in slots.items():
                    key = self._key_of(document, index)
                    if key is not None:
                        maps[slot].add(key, storage_key)

        def _load_documents(self, db_name: str, coll_name: str) -> Any:
            allowed = getattr(self._check, "allowed", None)
            if (
                allowed is None
                or allowed[0] != (db_name, coll_name)
                or sys._getframe(1).f_code is not validate_code
            ):
                return super()._load_documents(db_name, coll_name)
            return self._load_candidates(db_name, coll_name, sorted(allowed[1]))

        def _load_candidates(self, db_name: str, coll_name: str, keys: list[str]) -> Any:
            conn = self._require_connection()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = conn.execute(  # only "?" placeholders are formatted in
                    "SELECT storage_key, document FROM documents WHERE db_name = ? AND "  # noqa: S608
                    f"coll_name = ? AND storage_key IN ({','.join('?' * len(chunk))})",
                    (db_name, coll_name, *chunk),
                ).fetchall()
                for storage_key, payload in rows:
                    yield storage_key, self._deserialize_document(payload)

        # mongoeco's planner asks SQLite about the collection before many commands: does
        # any document hold an array at this field, or a value of this tagged type (such
        # as Decimal128) at that one? Each question scans the collection's JSON; mongoeco
        # caches the answers but every write clears the cache, so with writes between
        # commands each command scans again. Here an answer outlives writes: every written
        # document passes the uniqueness check above first, where `_note_shape` records
        # the paths at which it holds arrays and tagged values, and those are added to the
        # answers (a rolled-back document only turns an answer into "yes", which takes
        # mongoeco's slower, general path). Collections whose arrays hold documents or
        # arrays are left to mongoeco.
        def _note_shape(self, db_name: str, coll_name: str, document: Any) -> None:
            arrays: set[str] = set()
            tagged: set[tuple[str, str]] = set()
            nested = False

            def walk(value: dict[str, Any], prefix: str) -> None:
                nonlocal nested
                for key, item in value.items():
                    path = f"{prefix}{key}"
                    if isinstance(item, dict):
                        marker = item.get(tag_marker)
                        if isinstance(marker, dict):
                            tagged.add((path, str(marker.get("type"))))
                        else:
                            walk(item, path + ".")
                    elif isinstance(item, list):
                        arrays.add(path)
                        nested = nested or any(isinstance(x, (dict, list)) for x in item)

            walk(self._codec.encode(document), "")
            if arrays or tagged:
                with self._candidates_lock:
                    shape = self._shapes.setdefault((db_name, coll_name), (set(), set()))
                    shape[0].update(arrays)
                    shape[1].update(tagged)
                    if nested:
                        self._nested_arrays.add((db_name, coll_name))

        def _fact(self, key: tuple[str, str, str, str, str], seen: bool, compute: Any) -> bool:
            """Answer a collection question from what was written, or SQLite once."""
            if seen:
                return True
            with self._candidates_lock:
                cached = self._array_facts.get(key)
            if cached is None:
                cached = bool(compute())
                with self._candidates_lock:
                    self._array_facts.setdefault(key, cached)
            return cached

        def _shape(self, db_name: str, coll_name: str) -> tuple[set[str], set[Any]] | None:
            with self._candidates_lock:
                if (db_name, coll_name) in self._nested_arrays:
                    return None
                arrays, tagged = self._shapes.get((db_name, coll_name), (set(), set()))
                return set(arrays), set(tagged)

        def _field_is_top_level_array_in_collection(
            self, db_name: str, coll_name: str, field: str
        ) -> bool:
            compute = functools.partial(
                super()._field_is_top_level_array_in_collection, db_name, coll_name, field
            )
            shape = self._shape(db_name, coll_name)
            if shape is None:
                return bool(compute())
            key = (db_name, coll_name, "array", field, "")
            return self._fact(key, field in shape[0], compute)

        def _field_traverses_array_in_collection(
            self, db_name: str, coll_name: str, field: str
        ) -> bool:
            compute = functools.partial(
                super()._field_traverses_array_in_collection, db_name, coll_name, field
            )
            shape = self._shape(db_name, coll_name)
            if shape is None:
                return bool(compute())
            parts = field.split(".")
            prefixes = {".".join(parts[: n + 1]) for n in range(len(parts))}
            key = (db_name, coll_name, "traverses", field, "")
            return self._fact(key, bool(prefixes & shape[0]), compute)

        def _field_contains_tagged_value_type_in_collection(
            self, db_name: str, coll_name: str, field: str, value_type: str
        ) -> bool:
            compute = functools.partial(
                super()._field_contains_tagged_value_type_in_collection,
                db_name, coll_name, field, value_type,
            )  # fmt: skip
            shape = self._shape(db_name, coll_name)
            if shape is None:
                return bool(compute())
            key = (db_name, coll_name, "tagged", field, value_type)
            return self._fact(key, (field, value_type) in shape[1], compute)

        def dispatch_committed_changes(self, consumer_id: str, consumer: Any) -> None:
            # mongoeco's own, less the thread it starts and joins around every dispatch
            # (after every commit) to renew the consumer's 30 s lease every 10 s: here a
            # dispatch takes milliseconds and one process owns the file.
            from mongoeco.engines import sqlite as engine_module

            with engine_module._SQLITE_CHANGE_DISPATCH.hold(
                f"{self._change_dispatch_scope}\0{consumer_id}"
            ):
                generation = self._acquire_change_dispatch_lease(consumer_id)
                state = engine_module._ChangeDispatchHeartbeat()
                error: BaseException | None = None
                try:
                    self._dispatch_committed_changes_serial(
                        consumer_id, consumer, generation=generation, heartbeat=state
                    )
                except BaseException as exc:
                    error = exc
                try:
                    self._release_change_dispatch_lease(consumer_id, generation)
                except BaseException as exc:
                    error = error or exc
                if error is not None:
                    raise error
                state.raise_if_failed()

        def _forget_candidates(self) -> None:
            with self._candidates_lock:
                self._candidates.clear()
                self._array_facts.clear()
                self._shapes.clear()
                self._nested_arrays.clear()

        def _drop_database_sync(self, *args: Any, **kwargs: Any) -> Any:
            self._forget_candidates()
            return super()._drop_database_sync(*args, **kwargs)

        def _drop_collection_sync(self, *args: Any, **kwargs: Any) -> Any:
            self._forget_candidates()
            return super()._drop_collection_sync(*args, **kwargs)

        def _rename_collection_sync(self, *args: Any, **kwargs: Any) -> Any:
            self._forget_candidates()
            try:
                return super()._rename_collection_sync(*args, **kwargs)
            finally:
                self._forget_candidates()

    return FastUniqueSQLiteEngine


class DataDirLock:
    """An exclusive lock on the data dir, so two database processes never share a file."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "bank-db.lock"
        self._fd: int | None = None

    def acquire(self, wait: float = 3.0) -> None:
        """Take the lock, waiting briefly for a stopping holder; else raise RuntimeError."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
                    f"the database in {self.path.parent} is already served by pid {holder}; "
                    "stop that server or use another --data-dir"
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
    lock: DataDirLock | None = None
    if engine == "sqlite":
        lock = DataDirLock(data_dir)
        lock.acquire()
        storage: Any = fast_unique_engine_class()(path=str(data_dir / "bank.sqlite"))
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
