"""Backups: a consistent, streamed, checksummed (and encrypted) snapshot; restore; schedule.

Consistency. On a MongoDB replica set or sharded cluster every collection is read in one
snapshot session (`readConcern: snapshot`, pinned to one cluster time), so the backup is
the database as it was at one instant while writers go on. mongoeco accepts snapshot
sessions but does not honour them across reads (measured: a second collection read in the
same snapshot session sees a write made after the first), so on the embedded database the
backup reads every collection inside one read-only transaction: the database gate lets no
other session's command run while it is open, which gives a consistent cut, and writers
wait for the length of the read. The format is in `server/backup_format.py`.

Collections whose names start with `_` (the transaction probe, the backup lease) and
`system.` are internal and are neither dumped nor counted when a restore checks that its
target is empty.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.read_preferences import ReadPreference

from server import __version__
from server.backup_format import (
    BackupError,
    BackupWriter,
    checksum_path,
    read_backup,
    verify_backup,
    verify_checksum,
    write_checksum,
)
from server.config import Settings
from server.documents import application_indexes

log = logging.getLogger("bank.backup")

INTERNAL_PREFIXES = ("_", "system.")
LEASE_COLLECTION = "_backup_lease"
BACKUP_FILE = re.compile(r"^bank-\d{8}T\d{6}Z\.bak$")
INSERT_BATCH = 500
READ_BATCH = 500

type Consistency = Literal["auto", "snapshot", "transaction"]


class BackupCancelled(BackupError):
    """The server is stopping; the partial file was removed."""


@dataclass
class BackupResult:
    """What a backup wrote."""

    path: Path
    counts: dict[str, int]
    size: int
    sha256: str
    consistency: str
    snapshot_seconds: float
    seconds: float
    encrypted: bool

    @property
    def documents(self) -> int:
        """Return the number of documents in the backup."""
        return sum(self.counts.values())


@dataclass
class RestoreResult:
    """What a restore wrote."""

    database: str
    counts: dict[str, int]
    seconds: float
    expired: dict[str, int] = field(default_factory=dict)

    @property
    def documents(self) -> int:
        """Return the number of documents restored."""
        return sum(self.counts.values())


class Progress:
    """A progress bar on stderr: redrawn in a terminal, periodic lines otherwise."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 0)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self.collection = ""
        self.collection_done = 0
        self.collection_total = 0
        self._last = 0.0

    def start(self, collection: str, count: int) -> None:
        """Begin a collection of `count` documents."""
        self.collection, self.collection_done, self.collection_total = collection, 0, count
        if self.tty:
            self._draw(force=True)

    def advance(self, count: int = 1) -> None:
        """Count documents done."""
        self.done += count
        self.collection_done += count
        self._draw(force=False)

    def end_collection(self) -> None:
        """Report a finished collection."""
        self._draw(force=True)

    def close(self) -> None:
        """Finish the bar's line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        interval = 0.1 if self.tty else 2.0
        if not force and now - self._last < interval:
            return
        self._last = now
        share = self.done / self.total if self.total else 1.0
        text = (
            f"{self.label}: {self.collection} {self.collection_done:,}/{self.collection_total:,}"
            f" · {self.done:,}/{self.total:,} documents ({share:.0%})"
        )
        if self.tty:
            filled = round(24 * share)
            self.stream.write(f"\r[{'#' * filled}{'.' * (24 - filled)}] {text}\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def make_sync_client(url: str, *, timeout_ms: int = 5000) -> MongoClient[dict[str, Any]]:
    """Create the blocking PyMongo client backups use (in a CLI, or a server's thread)."""
    return MongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=max(timeout_ms, 20_000),
        uuidRepresentation="standard",
    )


def user_collections(db: Any) -> list[str]:
    """Return the database's collections, without internal ones, sorted."""
    names = db.list_collection_names()
    return sorted(n for n in names if not n.startswith(INTERNAL_PREFIXES))


def detect_consistency(client: MongoClient[Any]) -> Literal["snapshot", "transaction"]:
    """Pick snapshot sessions on a replica set or mongos, a read transaction otherwise."""
    hello = client.admin.command("hello")
    if hello.get("setName") or hello.get("msg") == "isdbgrid":
        return "snapshot"
    return "transaction"


@contextlib.contextmanager
def _snapshot(client: MongoClient[Any], mode: str) -> Iterator[ClientSession]:
    """Open the session every read of the backup goes through."""
    if mode == "snapshot":
        with client.start_session(snapshot=True) as session:
            yield session
        return
    with (
        client.start_session(causal_consistency=False) as session,
        session.start_transaction(
            read_concern=ReadConcern("snapshot"), read_preference=ReadPreference.PRIMARY
        ),
    ):
        yield session


def _index_specs(collection: Any) -> list[dict[str, Any]]:
    specs = []
    for spec in collection.list_indexes():
        spec = dict(spec)
        if spec.get("name") == "_id_":
            continue
        spec.pop("ns", None)
        spec.pop("v", None)
        spec["key"] = dict(spec["key"])
        specs.append(spec)
    return specs


def _open_private(path: Path) -> Any:
    """Open a file for writing that only its owner can read (it holds personal data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def backup_database(
    client: MongoClient[Any],
    database: str,
    out: Path,
    *,
    key: str | None,
    consistency: Consistency = "auto",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> BackupResult:
    """Write a consistent backup of `database` to `out` (via `out.part`) and `out.sha256`."""
    started = time.monotonic()
    if out.exists():
        raise BackupError(f"{out} already exists; choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    mode = detect_consistency(client) if consistency == "auto" else consistency
    db = client[database]
    names = user_collections(db)
    if not names:
        raise BackupError(f"the database {database!r} has no collections to back up")
    indexes = {name: _index_specs(db[name]) for name in names}
    partial = out.with_name(out.name + ".part")
    try:
        with _open_private(partial) as handle:
            writer = BackupWriter(handle, key=key)
            opened = time.monotonic()
            with _snapshot(client, mode) as session:
                counts = {n: db[n].count_documents({}, session=session) for n in names}
                writer.header(
                    {
                        "app_version": __version__,
                        "database": database,
                        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "consistency": mode,
                        "collections": [
                            {"name": n, "count": counts[n], "indexes": indexes[n]} for n in names
                        ],
                    }
                )
                if progress is not None:
                    progress.total = sum(counts.values())
                for name in names:
                    if progress is not None:
                        progress.start(name, counts[name])
                    cursor = db[name].find({}, session=session, batch_size=READ_BATCH)
                    for document in cursor.sort("_id", 1):
                        if cancel is not None and cancel.is_set():
                            raise BackupCancelled("the backup was cancelled")
                        writer.document(name, document)
                        if progress is not None:
                            progress.advance()
                    if progress is not None:
                        progress.end_collection()
            snapshot_seconds = time.monotonic() - opened
            for name in names:
                if writer.counts.get(name, 0) != counts[name]:
                    raise BackupError(
                        f"collection {name!r} changed during the backup (counted "
                        f"{counts[name]}, read {writer.counts.get(name, 0)}): the snapshot "
                        "was not consistent"
                    )
            writer.finish()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)
        write_checksum(out, writer.file_sha256)
        _fsync_dir(out.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if progress is not None:
            progress.close()
    return BackupResult(
        path=out,
        counts=counts,
        size=writer.file_size,
        sha256=writer.file_sha256,
        consistency=mode,
        snapshot_seconds=snapshot_seconds,
        seconds=time.monotonic() - started,
        encrypted=bool(key),
    )


def _revoke(session: dict[str, Any], at: datetime) -> None:
    """Mark a restored login session revoked (one revoked before keeps its reason)."""
    if session.get("revoked_at") is None:
        session["revoked_at"] = at
        session["revoked_reason"] = "restored"


def nonempty_collections(db: Any) -> list[str]:
    """Return the collections of a database that hold documents (internal ones aside)."""
    return [n for n in user_collections(db) if db[n].find_one({}, {"_id": 1}) is not None]


def restore_database(
    client: MongoClient[Any],
    database: str,
    path: Path,
    *,
    key: str | None,
    check_checksum: bool = True,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore a backup into an empty database, after checking the whole file once."""
    started = time.monotonic()
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    if check_checksum:
        verify_checksum(path)
    header, trailer = verify_backup(path, key)  # nothing is written from a bad file
    db = client[database]
    if filled := nonempty_collections(db):
        raise BackupError(
            f"the database {database!r} is not empty ({', '.join(filled)} hold documents); "
            "restore needs an empty database: give a new --database name or drop this one"
        )
    # The application's own indexes, never the file's: a file's specs could carry a TTL on
    # the ledger (or drop a unique key). The file's list is only compared, for the log.
    wanted = application_indexes()
    ttl = {n for n, ms in wanted.items() if any("expireAfterSeconds" in m.document for m in ms)}
    for name, models in wanted.items():
        if models:
            db[name].create_indexes(models)
    for collection in header["collections"]:
        name = collection["name"]
        theirs = {tuple(dict(spec["key"]).items()) for spec in collection["indexes"]}
        ours = {tuple(model.document["key"].items()) for model in wanted.get(name, [])}
        if theirs - ours:
            log.warning("restore: the file's indexes on %s that the application does not "
                        "define were not created: %s", name, sorted(theirs - ours))  # fmt: skip
    restored_at = datetime.now(UTC)
    if progress is not None:
        progress.total = int(trailer["documents"])
    batch: list[dict[str, Any]] = []
    current: str | None = None

    def flush() -> None:
        if batch and current is not None:
            db[current].insert_many(batch, ordered=True)
            if progress is not None:
                progress.advance(len(batch))
            batch.clear()

    try:
        with path.open("rb") as source:
            for record in read_backup(source, key, name=path.name):
                if record.kind != "document":
                    continue
                if record.collection == "login_sessions":
                    # Restored tokens must not work: whoever signed in signs in again.
                    _revoke(record.value, restored_at)
                if record.collection != current:
                    flush()
                    if progress is not None and current is not None:
                        progress.end_collection()
                    current = record.collection
                    if progress is not None:
                        progress.start(current or "", trailer["counts"].get(current, 0))
                batch.append(record.value)
                if len(batch) >= INSERT_BATCH:
                    flush()
            flush()
            if progress is not None and current is not None:
                progress.end_collection()
    finally:
        if progress is not None:
            progress.close()
    counts = {n: db[n].count_documents({}) for n in trailer["counts"]}
    expired: dict[str, int] = {}
    for name, expected in trailer["counts"].items():
        if counts[name] == expected:
            continue
        if name in ttl and counts[name] < expected:  # a TTL index removed expired records
            expired[name] = expected - counts[name]
            continue
        raise BackupError(
            f"the restore of {name!r} left {counts[name]} documents, the backup has {expected}"
        )
    return RestoreResult(
        database=database, counts=counts, seconds=time.monotonic() - started, expired=expired
    )


# Scheduled backups ------------------------------------------------------------------------


def backup_filename(moment: datetime) -> str:
    """Return the scheduled backup's file name for a moment (UTC)."""
    return moment.astimezone(UTC).strftime("bank-%Y%m%dT%H%M%SZ.bak")


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete scheduled backups beyond the newest `keep` (and their checksums)."""
    files = sorted(
        (p for p in directory.iterdir() if BACKUP_FILE.match(p.name) and p.is_file()),
        key=lambda p: p.name,
        reverse=True,
    )
    removed = files[keep:]
    for path in removed:
        path.unlink(missing_ok=True)
        checksum_path(path).unlink(missing_ok=True)
    return removed


def claim_slot(db: Any, slot: int, owner: str, now: datetime) -> bool:
    """Take the lease of one scheduled slot; only one process wins each slot."""
    leases = db[LEASE_COLLECTION]
    with contextlib.suppress(DuplicateKeyError):  # two first-ever claims raced
        leases.update_one({"_id": "scheduled"}, {"$setOnInsert": {"slot": -1}}, upsert=True)
    result = leases.update_one(
        {"_id": "scheduled", "slot": {"$lt": slot}},
        {"$set": {"slot": slot, "owner": owner, "claimed_at": now}},
    )
    return bool(result.modified_count == 1)


def scheduled_backup_step(
    client: MongoClient[Any],
    database: str,
    *,
    directory: Path,
    interval_minutes: int,
    keep: int,
    key: str | None,
    now: datetime | None = None,
    owner: str | None = None,
    cancel: threading.Event | None = None,
) -> BackupResult | None:
    """Take this interval's backup unless another process did; then keep the newest `keep`."""
    now = now or datetime.now(UTC)
    slot = int(now.timestamp() // (interval_minutes * 60))
    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    if not claim_slot(client[database], slot, owner, now):
        log.debug("scheduled backup slot %s was taken by another process", slot)
        return None
    directory.mkdir(parents=True, exist_ok=True)
    result = backup_database(
        client, database, directory / backup_filename(now), key=key, cancel=cancel
    )
    removed = prune_backups(directory, keep)
    log.info(
        "scheduled backup %s: %d documents, %d bytes, snapshot held %.2f s; removed %d old",
        result.path, result.documents, result.size, result.snapshot_seconds, len(removed),
    )  # fmt: skip
    return result


class BackupScheduler:
    """Run `scheduled_backup_step` at every interval boundary (UTC) in a worker thread."""

    def __init__(self, settings: Settings) -> None:
        assert settings.backup_dir is not None
        assert settings.mongodb_url is not None
        self.settings = settings
        self.directory = settings.backup_dir
        self.interval = settings.backup_interval_minutes * 60
        self._client = make_sync_client(settings.mongodb_url, timeout_ms=settings.db_timeout_ms)
        self._stop = asyncio.Event()
        self._cancel = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background task; the first slot is taken at once if nobody took it."""
        if not self.settings.backup_key:
            log.warning("scheduled backups are NOT encrypted: set BACKUP_KEY")
        log.info(
            "scheduled backups every %d min into %s, keeping %d",
            self.settings.backup_interval_minutes, self.directory, self.settings.backup_keep,
        )  # fmt: skip
        self._task = asyncio.create_task(self._run(), name="bank-backup-scheduler")

    def _step(self) -> BackupResult | None:
        return scheduled_backup_step(
            self._client,
            self.settings.database_name,
            directory=self.directory,
            interval_minutes=self.settings.backup_interval_minutes,
            keep=self.settings.backup_keep,
            key=self.settings.backup_key,
            cancel=self._cancel,
        )

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self._step)
            except BackupCancelled:
                return
            except (BackupError, PyMongoError, OSError) as error:
                log.error("scheduled backup failed: %s", error)
            except Exception:
                log.exception("scheduled backup failed")
            # Wake just after the next boundary; the lease decides who takes it.
            delay = self.interval - time.time() % self.interval + 0.5 + random.random()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def stop(self) -> None:
        """Stop the task; a backup in progress is abandoned and its partial file removed."""
        self._stop.set()
        self._cancel.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self._client.close)


def start_scheduler(settings: Settings) -> BackupScheduler | None:
    """Start scheduled backups when BACKUP_DIR and BACKUP_INTERVAL_MINUTES > 0 are set."""
    if settings.backup_dir is None or settings.backup_interval_minutes <= 0:
        return None
    if not settings.mongodb_url:
        return None
    scheduler = BackupScheduler(settings)
    scheduler.start()
    return scheduler


# Command line -----------------------------------------------------------------------------


@contextlib.contextmanager
def _database_url(args: argparse.Namespace, settings: Settings) -> Iterator[str]:
    """Yield the URL to use: --mongodb-url, MONGODB_URL, or the embedded database started here."""
    from server.db import EmbeddedDatabase

    url = args.mongodb_url or settings.mongodb_url
    if url:
        yield url
        return
    from server.embedded import DataDirLock

    data_dir = (
        Path(args.data_dir).expanduser() if args.data_dir else settings.bank_data_dir
    ) / "db"
    # A running `bank-server serve` holds the data dir; its database's port is its own.
    probe = DataDirLock(data_dir)
    try:
        probe.acquire(wait=0)
    except RuntimeError as error:
        raise BackupError(
            f"{error}; pass --mongodb-url with the address that server printed "
            "('Embedded database: mongodb://...'), or stop it first"
        ) from None
    probe.release()
    embedded = EmbeddedDatabase(data_dir)
    try:
        url = embedded.start()
    except RuntimeError as error:
        raise BackupError(_one_line(error)) from None
    try:
        yield url
    finally:
        embedded.stop()


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.2f} MiB" if size >= 1 << 20 else f"{size / 1024:.1f} KiB"


def backup_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `bank-server backup`."""
    out = Path(args.out).expanduser()
    database = args.database or settings.database_name
    key = settings.backup_key
    if not key:
        print(
            "bank-server: warning: BACKUP_KEY is not set; the backup is NOT encrypted and "
            "holds personal data and password hashes",
            file=sys.stderr,
        )
    try:
        with _database_url(args, settings) as url:
            client = make_sync_client(url, timeout_ms=settings.db_timeout_ms)
            try:
                progress = None if args.quiet else Progress("backup", 0)
                result = backup_database(client, database, out, key=key, progress=progress)
            finally:
                client.close()
    except (BackupError, OSError) as error:
        print(f"bank-server: {error}", file=sys.stderr)
        return 1
    except PyMongoError as error:
        print(f"bank-server: the database failed: {_one_line(error)}", file=sys.stderr)
        return 1
    held = f"snapshot held {result.snapshot_seconds:.2f} s"
    if result.consistency == "transaction":
        held += " (a read transaction: writers waited that long)"
    print(
        f"backup written: {result.path} ({result.documents:,} documents in "
        f"{len(result.counts)} collections, {_mib(result.size)}, "
        f"{'encrypted' if result.encrypted else 'NOT encrypted'}, {held}); "
        f"sha256 {result.sha256} in {checksum_path(result.path).name}"
    )
    return 0


def restore_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `bank-server restore`."""
    path = Path(args.source).expanduser()
    database = args.database or settings.database_name
    try:
        if args.verify_only:
            if not args.no_checksum:
                verify_checksum(path)
            header, trailer = verify_backup(path, settings.backup_key)
            print(
                f"{path.name} is intact: {trailer['documents']:,} documents of database "
                f"{header['database']!r}, written {header['created_at']} by version "
                f"{header['app_version']}"
            )
            return 0
        with _database_url(args, settings) as url:
            client = make_sync_client(url, timeout_ms=settings.db_timeout_ms)
            try:
                progress = None if args.quiet else Progress("restore", 0)
                result = restore_database(
                    client, database, path, key=settings.backup_key,
                    check_checksum=not args.no_checksum, progress=progress,
                )  # fmt: skip
            finally:
                client.close()
    except (BackupError, OSError) as error:
        print(f"bank-server: {error}", file=sys.stderr)
        return 1
    except PyMongoError as error:
        print(
            f"bank-server: the database failed during the restore: {_one_line(error)}; "
            f"drop {database!r} before trying again",
            file=sys.stderr,
        )
        return 1
    note = ""
    if result.expired:
        note = " (expired by TTL meanwhile: " + ", ".join(
            f"{n} {c}" for n, c in result.expired.items()
        ) + ")"  # fmt: skip
    print(
        f"restored {result.documents:,} documents into database {database!r} from "
        f"{path.name} in {result.seconds:.1f} s{note}"
    )
    return 0


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _settings() -> Settings:
    from server.config import get_settings

    return get_settings()


def add_commands(commands: Any) -> None:
    """Add `backup` and `restore` to bank-server's subcommands."""
    backup = commands.add_parser("backup", help="write a consistent backup of the database")
    backup.add_argument("--out", required=True, help="the backup file to write")
    restore = commands.add_parser("restore", help="restore a backup into an empty database")
    restore.add_argument("--from", dest="source", required=True, help="the backup file")
    restore.add_argument(
        "--no-checksum", action="store_true", help="do not require FILE.sha256 beside the file"
    )
    restore.add_argument(
        "--verify-only", action="store_true", help="check the file and write nothing"
    )
    backup.set_defaults(handler=lambda args: backup_command(args, _settings()))
    restore.set_defaults(handler=lambda args: restore_command(args, _settings()))
    for parser in (backup, restore):
        parser.add_argument("--mongodb-url", help="default: MONGODB_URL, else the embedded db")
        parser.add_argument("--database", help="default: DATABASE_NAME")
        parser.add_argument("--data-dir", help="the embedded database's data dir")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
