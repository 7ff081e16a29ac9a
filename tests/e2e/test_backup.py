"""`bank-server backup` and `restore` as an operator runs them, while the bank is busy.

A backup is taken while the bank workload moves money, restored into a fresh database on
the same `bank-server db`, and the restored bank must be a consistent cut: the ledger
invariants hold, every transfer has both legs, the cut is a prefix of the commit order,
and a server started on it signs people in and continues the ids. Damaged, tampered,
truncated and wrongly keyed files are refused with one line and nothing written.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from server.backup import (
    BackupCancelled,
    backup_database,
    make_sync_client,
    restore_database,
    scheduled_backup_step,
)
from server.backup_format import BackupWriter, verify_backup, verify_checksum, write_checksum
from server.db import EmbeddedDatabase
from server.documents import application_indexes
from tests.ledger_checks import all_customer_legs
from tests.support import ADMIN_PASSWORD, ROOT, Api, ServerProcess, dec, expect
from tests.workload import WorkloadResult, check_invariants, open_workload_accounts, run_workload

# Timing and load: run after the parallel part, alone (Makefile `test`).
pytestmark = pytest.mark.serial

KEY = "backup-test-key: correct horse battery staple"
CUSTOMER, CUSTOMER_PASSWORD = "wlcustomer", "workload-pass-1"  # open_workload_accounts'
HEADER = 53  # the encryption header's size


def bank_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `bank-server ARGS` to completion with a clean environment; return what it printed."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("BANK_", "MONGODB_", "BACKUP_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str], reason: str) -> None:
    """Assert a command failed with exactly one line on stderr that gives the reason."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert reason in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@dataclass
class Snapshot:
    """The backup taken mid-workload and what the live bank looked like around it."""

    path: Path
    output: str
    workload: WorkloadResult
    opening: Decimal
    entries_before: int
    entries_after: int
    url: str
    restored_name: str


@pytest.fixture(scope="module")
def snapshot(
    server: ServerProcess, admin: Api, mongo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Snapshot:
    accounts = open_workload_accounts(admin, 6)
    opening = sum((dec(a["balance"]) for a in mongo.accounts.find()), Decimal("0.00"))
    before = mongo.journal.count_documents({})
    path = tmp_path_factory.mktemp("backups") / "mid-workload.bak"
    taken: dict[str, subprocess.CompletedProcess[str]] = {}

    def take_backup() -> None:
        deadline = time.monotonic() + 5
        while mongo.journal.count_documents({}) < before + 4 and time.monotonic() < deadline:
            time.sleep(0.1)  # some movements have committed; many more will follow
        taken["result"] = bank_server(
            "backup", "--out", str(path), "--mongodb-url", server.mongodb_url,
            "--database", server.database_name, env={"BACKUP_KEY": KEY},
        )  # fmt: skip

    thread = threading.Thread(target=take_backup)
    thread.start()
    assert admin.token is not None
    result = asyncio.run(
        run_workload([server.url], admin.token, accounts, clients=4, seconds=10, seed=7)
    )
    thread.join(120)
    backup = taken["result"]
    assert backup.returncode == 0, backup.stderr
    print("workload:", result.summary())
    print(backup.stdout.strip())
    return Snapshot(
        path=path,
        output=backup.stdout,
        workload=result,
        opening=opening,
        entries_before=before,
        entries_after=mongo.journal.count_documents({}),
        url=server.mongodb_url,
        restored_name=f"{server.database_name}_restored",
    )


@pytest.fixture(scope="module")
def restored(snapshot: Snapshot) -> Iterator[Any]:
    """The snapshot restored with the CLI into a new database on the same wire db."""
    result = bank_server(
        "restore", "--from", str(snapshot.path), "--mongodb-url", snapshot.url,
        "--database", snapshot.restored_name, env={"BACKUP_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"into database {snapshot.restored_name!r}" in result.stdout
    client: MongoClient[Any] = MongoClient(snapshot.url, tz_aware=True)
    database = client[snapshot.restored_name]
    # As restored, before any later test signs in on a server over this database.
    AS_RESTORED["sessions"] = database.login_sessions.count_documents({})
    AS_RESTORED["unrevoked"] = database.login_sessions.count_documents({"revoked_at": None})
    yield database
    client.close()


AS_RESTORED: dict[str, int] = {}


def test_a_backup_taken_during_the_workload_restores_a_consistent_cut(
    snapshot: Snapshot, restored: Any, mongo: Any
) -> None:
    assert "encrypted" in snapshot.output
    assert "NOT encrypted" not in snapshot.output
    assert verify_checksum(snapshot.path)  # FILE.sha256 was written beside it
    header, trailer = verify_backup(snapshot.path, KEY)
    assert header["consistency"] == "transaction"  # the embedded database: one read txn
    # Taken mid-workload: movements committed both before and after the cut.
    in_backup = trailer["counts"]["journal"]
    assert snapshot.entries_before < in_backup < snapshot.entries_after, (
        snapshot.entries_before, in_backup, snapshot.entries_after,
    )  # fmt: skip
    # Every collection restored whole, with its indexes.
    for collection in header["collections"]:
        name = collection["name"]
        assert restored[name].count_documents({}) == collection["count"], name
        assert trailer["counts"].get(name, 0) == collection["count"], name
        live = {i["name"]: dict(i["key"]) for i in mongo[name].list_indexes()}
        assert {i["name"]: dict(i["key"]) for i in restored[name].list_indexes()} == live, name
    # The ledger invariants hold for the movements in the cut, whole (both legs of every
    # transfer), and the money adds up with what the clients were told about them.
    keys = {
        str(leg["description"])[3:]
        for leg in all_customer_legs(restored)
        if str(leg.get("description") or "").startswith("wl:")
    }
    committed = {o.key for o in snapshot.workload.committed}
    assert keys <= committed, "the backup holds a movement no client was told about"
    in_cut = [o for o in snapshot.workload.outcomes if o.status != 201 or o.key in keys]
    cut = WorkloadResult(outcomes=in_cut, seconds=snapshot.workload.seconds)
    check_invariants(restored, cut, snapshot.opening)  # with check_ledger: legs = journal
    # The cut is a prefix of the commit order (ids increase in commit order), and the id
    # counters were read in the same cut as the collections they number.
    counters = {c["_id"]: c["seq"] for c in restored.counters.find()}
    # A customer Transaction's id is its `transaction_refs` document's (counter "transactions").
    for name, counter in (("transaction_refs", "transactions"), ("transfers", "transfers")):
        ids = sorted(d["_id"] for d in restored[name].find({}, {"_id": 1}))
        live_ids = sorted(d["_id"] for d in mongo[name].find({"_id": {"$lte": ids[-1]}}))
        assert ids == live_ids, name
        assert counters[counter] == ids[-1], name
        # Immutable records come back byte for byte: Decimal128, dates, int widths.
        for document in restored[name].find({"_id": {"$in": ids[-20:]}}):
            assert document == mongo[name].find_one({"_id": document["_id"]})


def test_a_server_on_the_restored_database_signs_in_and_continues_the_ids(
    snapshot: Snapshot, restored: Any, tmp_path: Path
) -> None:
    last_entry = max(d["_id"] for d in restored.transaction_refs.find({}, {"_id": 1}))
    account = restored.accounts.find_one({"owner_name": "Work Load"}, sort=[("_id", 1)])
    with ServerProcess(
        mongodb_url=snapshot.url, database_name=snapshot.restored_name, data_dir=tmp_path
    ).start() as server:
        admin = Api(server.url).login("admin", ADMIN_PASSWORD)
        customer = Api(server.url).login(CUSTOMER, CUSTOMER_PASSWORD)  # restored argon2 hash
        assert expect(customer.get("/me"), 200)["username"] == CUSTOMER
        entry = expect(
            admin.post(f"/accounts/{account['_id']}/deposit", json={"amount": "12.34"}), 201
        )
        assert entry["id"] == last_entry + 1
        assert Decimal(entry["balance_after"]) == dec(account["balance"]) + Decimal("12.34")
        mine = expect(customer.get(f"/accounts/{account['_id']}"), 200)
        assert mine["balance"] == entry["balance_after"]


def test_restore_refuses_a_database_that_is_not_empty(
    snapshot: Snapshot, server: ServerProcess, mongo: Any
) -> None:
    before = mongo.journal.count_documents({})
    result = bank_server(
        "restore", "--from", str(snapshot.path), "--mongodb-url", snapshot.url,
        "--database", server.database_name, env={"BACKUP_KEY": KEY},
    )  # fmt: skip
    refused(result, "is not empty")
    assert mongo.journal.count_documents({}) == before


def test_wrong_key_damage_and_truncation_are_refused_and_nothing_is_written(
    snapshot: Snapshot, tmp_path: Path
) -> None:
    client: MongoClient[Any] = MongoClient(snapshot.url)
    target = f"{snapshot.restored_name}_refused"

    def restore(path: Path, *extra: str, key: str | None = KEY) -> Any:
        return bank_server(
            "restore", "--from", str(path), "--mongodb-url", snapshot.url, "--database", target,
            "--quiet", *extra, env={"BACKUP_KEY": key} if key else {},
        )  # fmt: skip

    def copy(name: str, data: bytes, *, checksum: bool = True) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        if checksum:  # a fresh, matching .sha256: only the file's own checks remain
            write_checksum(path, hashlib.sha256(data).hexdigest())
        return path

    data = snapshot.path.read_bytes()
    refused(restore(snapshot.path, key="not the key"), "wrong BACKUP_KEY")
    refused(restore(snapshot.path, key=None), "is encrypted: set BACKUP_KEY")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    mismatch = copy("mismatch.bak", bytes(flipped), checksum=False)
    write_checksum(mismatch, hashlib.sha256(data).hexdigest())  # the original's checksum
    refused(restore(mismatch), "checksum mismatch")
    refused(restore(copy("tampered.bak", bytes(flipped))), "tampered")
    refused(restore(copy("half.bak", data[: len(data) // 2])), "truncated")
    refused(restore(copy("stub.bak", data[: HEADER + 10])), "truncated")
    unchecked = copy("unchecked.bak", data, checksum=False)
    refused(restore(unchecked), "unchecked.bak.sha256 is missing")
    written = [n for n in client[target].list_collection_names() if client[target][n].find_one()]
    assert not written, "a refused restore wrote documents"
    intact = restore(unchecked, "--no-checksum", "--verify-only")
    assert intact.returncode == 0, intact.stderr
    assert "is intact" in intact.stdout
    client.close()


def test_the_encrypted_file_holds_no_personal_data_in_clear(
    snapshot: Snapshot, restored: Any, tmp_path: Path
) -> None:
    data = snapshot.path.read_bytes()
    customer = restored.users.find_one({"username": CUSTOMER})
    secrets = [CUSTOMER.encode(), customer["password_hash"].encode(), b"argon2", b"Work Load"]
    assert not [s for s in secrets if s in data]
    # The same bank without BACKUP_KEY: a warning, and the hash is right there in the gzip.
    plain_path = tmp_path / "plain.bak"
    plain = bank_server(
        "backup", "--out", str(plain_path), "--mongodb-url", snapshot.url,
        "--database", snapshot.restored_name, "--quiet",
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert "NOT encrypted" in plain.stderr
    assert customer["password_hash"].encode() in gzip.decompress(plain_path.read_bytes())
    again = bank_server("backup", "--out", str(plain_path), "--mongodb-url", snapshot.url,
                        "--database", snapshot.restored_name, env={"BACKUP_KEY": KEY})  # fmt: skip
    refused(again, "already exists")


def test_without_mongodb_url_the_cli_uses_the_embedded_database_unless_a_server_holds_it(
    snapshot: Snapshot, tmp_path: Path
) -> None:
    env = {"BACKUP_KEY": KEY, "BANK_DATA_DIR": str(tmp_path)}
    running = EmbeddedDatabase(tmp_path / "db")
    running.start()
    try:
        refused(bank_server("backup", "--out", str(tmp_path / "x.bak"), env=env), "--mongodb-url")
    finally:
        running.stop()
    restore = bank_server("restore", "--from", str(snapshot.path), "--quiet", env=env)
    assert restore.returncode == 0, restore.stderr
    out = tmp_path / "embedded.bak"
    backup = bank_server("backup", "--out", str(out), "--quiet", env=env)
    assert backup.returncode == 0, backup.stderr
    assert verify_backup(out, KEY)[1]["counts"] == verify_backup(snapshot.path, KEY)[1]["counts"]


def test_scheduled_backups_take_each_slot_once_and_keep_the_newest(
    server: ServerProcess, tmp_path: Path
) -> None:
    client = make_sync_client(server.mongodb_url)
    start = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    (tmp_path / "notes.txt").write_text("not a backup")

    def step(moment: datetime, owner: str) -> Any:
        return scheduled_backup_step(
            client, server.database_name, directory=tmp_path, interval_minutes=60, keep=2,
            key=KEY, now=moment, owner=owner,
        )  # fmt: skip

    try:
        stopping = threading.Event()
        stopping.set()  # the server is stopping: the backup is abandoned, no file left
        with pytest.raises(BackupCancelled):
            backup_database(
                client, server.database_name, tmp_path / "c.bak", key=None, cancel=stopping
            )
        assert not list(tmp_path.glob("c.bak*"))
        assert step(start, "server-a") is not None
        assert step(start + timedelta(minutes=1), "server-b") is None  # same hour: a's slot
        for hours in (1, 2, 3):
            assert step(start + timedelta(hours=hours, seconds=5), "server-b") is not None
        assert step(start + timedelta(hours=3, minutes=30), "server-a") is None
    finally:
        client.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bank-20300101T110005Z.bak", "bank-20300101T110005Z.bak.sha256",
        "bank-20300101T120005Z.bak", "bank-20300101T120005Z.bak.sha256", "notes.txt",
    ]  # fmt: skip
    newest = tmp_path / "bank-20300101T120005Z.bak"
    verify_checksum(newest)
    assert verify_backup(newest, KEY)[1]["documents"] > 0


def test_a_server_with_backup_dir_takes_its_scheduled_backup(
    snapshot: Snapshot, tmp_path: Path
) -> None:
    directory = tmp_path / "scheduled"
    env = {"BACKUP_DIR": str(directory), "BACKUP_INTERVAL_MINUTES": "60", "BACKUP_KEY": KEY,
           "BACKUP_KEEP": "3"}  # fmt: skip
    with ServerProcess(
        mongodb_url=snapshot.url, database_name=f"{snapshot.restored_name}_sched",
        data_dir=tmp_path / "server", env=env,
    ).start() as server:  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(directory.glob("bank-*.bak.sha256")):
            time.sleep(0.2)
        files = sorted(directory.glob("bank-*.bak"))
        assert len(files) == 1, server.log()
    verify_checksum(files[0])
    _header, trailer = verify_backup(files[0], KEY)
    assert trailer["counts"]["users"] == 1  # the admin the server created before the backup
    assert not list(directory.glob("*.part"))


def test_mongoeco_snapshot_sessions_are_no_snapshot_but_a_read_transaction_is_a_cut(
    wire_db: EmbeddedDatabase, tmp_path: Path
) -> None:
    """Why the embedded database is backed up in a read transaction (server/backup.py)."""
    reader = make_sync_client(wire_db.url)
    writer = make_sync_client(wire_db.url)
    db, other = reader["t_backup_probe"], writer["t_backup_probe"]
    other.first.insert_one({"_id": 1})
    try:
        with reader.start_session(snapshot=True) as session:
            assert len(list(db.first.find({}, session=session))) == 1
            other.second.insert_one({"_id": 1})  # after the "snapshot" began
            assert len(list(db.second.find({}, session=session))) == 1  # ...and it is seen
        waited: dict[str, float] = {}
        with reader.start_session() as session, session.start_transaction():
            assert len(list(db.first.find({}, session=session))) == 1
            began = time.monotonic()
            late = threading.Thread(
                target=lambda: (
                    other.third.insert_one({"_id": 1}),
                    waited.setdefault("s", time.monotonic() - began),
                )
            )
            late.start()
            time.sleep(0.5)
            assert list(db.third.find({}, session=session)) == []  # the write waits...
            assert "s" not in waited
        late.join(30)
        assert waited["s"] >= 0.4  # ...until the read transaction ends
        # The snapshot-session code path (used on replica sets) still writes a valid file.
        result = backup_database(
            reader, "t_backup_probe", tmp_path / "s.bak", key=None, consistency="snapshot"
        )
        assert result.consistency == "snapshot"
        assert verify_backup(result.path, None)[1]["counts"] == {
            "first": 1,
            "second": 1,
            "third": 1,
        }
    finally:
        reader.drop_database("t_backup_probe")
        reader.close()
        writer.close()


def test_a_restore_makes_the_applications_indexes_and_revokes_every_session(
    server: ServerProcess, tmp_path: Path
) -> None:
    # A backup file names indexes; a tampered (or old) one could put a TTL on the ledger,
    # which would delete money history. Restore creates the indexes the application
    # defines, whatever the file says, and no restored login session stays usable.
    now = datetime.now(UTC).replace(microsecond=0)
    ttl = {"key": {"created_at": 1}, "name": "created_at_1", "expireAfterSeconds": 1}
    entry = {
        "_id": 1,
        "account_id": 1,
        "seq": 1,
        "type": "deposit",
        "amount": "1.00",
        "balance_after": "1.00",
        "currency": "USD",
        "created_at": now - timedelta(hours=1),
    }
    session = {"_id": "restored-sid", "user_id": 1, "created_at": now,
               "expires_at": now + timedelta(days=1), "refresh_jti": "j", "revoked_at": None,
               "revoked_reason": None, "ip": None}  # fmt: skip
    path = tmp_path / "tampered.bak"
    with path.open("wb") as handle:
        writer = BackupWriter(handle, key=None)
        writer.header({
            "app_version": "0", "database": "x", "created_at": now.isoformat(),
            "consistency": "transaction",
            "collections": [{"name": "transactions", "count": 1, "indexes": [ttl]},
                            {"name": "login_sessions", "count": 1, "indexes": []}],
        })  # fmt: skip
        writer.document("transactions", entry)
        writer.document("login_sessions", session)
        writer.finish()
    write_checksum(path, writer.file_sha256)
    client = make_sync_client(server.mongodb_url)
    try:
        result = restore_database(client, "restored_tampered", path, key=None)
        db = client["restored_tampered"]
        ledger_indexes = list(db.transactions.list_indexes())
        assert not [i for i in ledger_indexes if "expireAfterSeconds" in i], ledger_indexes
        wanted = application_indexes()
        for name in ("transactions", "login_sessions", "users", "accounts"):
            made = {tuple(dict(i["key"]).items()) for i in db[name].list_indexes()} - {
                (("_id", 1),)
            }
            assert made == {tuple(m.document["key"].items()) for m in wanted[name]}, name
        assert result.expired == {}
        assert db.transactions.count_documents({}) == 1  # no TTL took it
        time.sleep(1.5)
        assert db.transactions.count_documents({}) == 1
        stored = db.login_sessions.find_one({"_id": "restored-sid"})
        assert stored["revoked_at"] is not None
        assert stored["revoked_reason"] == "restored"
    finally:
        client.close()


def test_every_restored_login_session_is_revoked(restored: Any) -> None:
    assert AS_RESTORED["sessions"] > 0
    assert AS_RESTORED["unrevoked"] == 0
    assert restored.login_sessions.count_documents({"revoked_reason": "restored"}) > 0
