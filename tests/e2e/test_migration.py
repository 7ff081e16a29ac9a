"""A version 1 bank restored from its backup, started on version 2: its movements migrate.

tests/fixtures/v1-demo-bank.backup was written by version 1's `bank-server backup` (its demo
bank: eight cash movements and three transfers). Restored with `bank-server restore` into a
fresh database and served by version 2, every version 1 movement becomes one `migration`
journal entry (cash with a contra leg on `capital:CUR`, a transfer with its two legs), the
trial balance balances, no balance moves, and history keeps its shape (API.md "The bank's
ledger", "Migration"). A restart posts nothing; a migration killed or cancelled midway
finishes on the next run with every movement posted once, and money routes answer 503 until
it has.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128
from pymongo import MongoClient

from server.db import EmbeddedDatabase, init_database, make_client
from server.services.ledger import migration
from tests.ledger_checks import check_ledger, legs_of
from tests.support import ROOT, Api, ServerProcess, dec, expect, iso_ms

FIXTURE = ROOT / "tests" / "fixtures" / "v1-demo-bank.backup"
V1_ADMIN = ("admin", "admin123")  # version 1's demo admin, restored with its argon2 hash
CREDITS = ("deposit", "transfer_in")
# Extra version 1 movements for the interrupted migrations: enough that one takes seconds.
EXTRA_MOVEMENTS = 45


@dataclass
class V1:
    """A version 1 database as the backup left it (before any migration)."""

    accounts: dict[int, dict[str, Any]]
    transactions: list[dict[str, Any]]
    transfers: dict[int, dict[str, Any]]

    @property
    def movements(self) -> int:
        """Return the number of version 1 movements: cash entries and transfers."""
        return sum(1 for t in self.transactions if t["transfer_id"] is None) + len(self.transfers)

    def customer_totals(self) -> dict[str, Decimal]:
        """Return the sum of the customer balances per currency."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for account in self.accounts.values():
            totals[account["currency"]] += dec(account["balance"])
        return dict(totals)


def restore(url: str, name: str) -> None:
    """Restore the version 1 backup with the CLI into a new database."""
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "restore", "--from", str(FIXTURE),
         "--mongodb-url", url, "--database", name, "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"into database {name!r}" in result.stdout


def read_v1(db: Any) -> V1:
    """Return what a restored, not yet migrated, database holds."""
    return V1(
        accounts={a["_id"]: a for a in db.accounts.find({})},
        transactions=list(db.transactions.find({}).sort("_id", 1)),
        transfers={t["_id"]: t for t in db.transfers.find({})},
    )


def add_v1_movements(db: Any, count: int) -> None:
    """Append version 1 movements as version 1 stored them: deposits and transfers.

    Into Bob's savings (account 4) and from it to Alice's savings (account 2): legs with
    their per-account `seq` and running `balance_after`, the accounts' balance and
    `entry_seq`, the transfer records and the id counters, all in version 1's shapes.
    """
    last = db.transactions.find_one(sort=[("_id", -1)])
    transaction_id = int(last["_id"])
    transfer_id = int(db.counters.find_one({"_id": "transfers"})["seq"])
    at: datetime = last["created_at"]
    accounts = {a["_id"]: a for a in db.accounts.find({"_id": {"$in": [2, 4]}})}
    balance = {n: dec(a["balance"]) for n, a in accounts.items()}
    seq = {n: int(a["entry_seq"]) for n, a in accounts.items()}
    legs: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []

    def leg(account: int, kind: str, amount: Decimal, **extra: Any) -> None:
        nonlocal transaction_id
        transaction_id += 1
        seq[account] += 1
        balance[account] += amount if kind in CREDITS else -amount
        legs.append({
            "_id": transaction_id, "account_id": account, "seq": seq[account], "type": kind,
            "amount": Decimal128(amount), "balance_after": Decimal128(balance[account]),
            "currency": "USD", "description": f"v1 bulk {transaction_id}", "transfer_id": None,
            "counterparty_number": None, "performed_by": 2, "created_at": at, **extra,
        })  # fmt: skip

    for n in range(count):
        at += timedelta(seconds=1)
        if n % 3 == 2:
            transfer_id += 1
            one, two = accounts[4]["number"], accounts[2]["number"]
            leg(4, "transfer_out", Decimal("1.00"), transfer_id=transfer_id,
                counterparty_number=two)  # fmt: skip
            leg(2, "transfer_in", Decimal("1.00"), transfer_id=transfer_id,
                counterparty_number=one)  # fmt: skip
            transfers.append({
                "_id": transfer_id, "from_account_id": 4, "to_account_id": 2,
                "from_number": one, "to_number": two, "amount": Decimal128(Decimal("1.00")),
                "currency": "USD", "description": None, "performed_by": 2, "created_at": at,
            })  # fmt: skip
        else:
            leg(4, "deposit", Decimal("2.00"))
    db.transactions.insert_many(legs)
    db.transfers.insert_many(transfers)
    for account in (2, 4):
        db.accounts.update_one({"_id": account}, {"$set": {
            "balance": Decimal128(balance[account]), "entry_seq": seq[account]}})  # fmt: skip
    db.counters.update_one({"_id": "transactions"}, {"$set": {"seq": transaction_id}})
    db.counters.update_one({"_id": "transfers"}, {"$set": {"seq": transfer_id}})


def migration_done(db: Any) -> bool:
    """Tell whether the migration recorded its end."""
    state = db.migrations.find_one({"_id": migration.STATE_ID})
    return state is not None and state.get("state") == "done"


def wait_migrated(db: Any, timeout: float = 240) -> None:
    """Wait until the server's migration has finished."""
    deadline = time.monotonic() + timeout
    while not migration_done(db):
        assert time.monotonic() < deadline, "the migration did not finish"
        time.sleep(0.1)


def start(url: str, name: str, data_dir: Path) -> ServerProcess:
    """Start a version 2 server on a database."""
    return ServerProcess(mongodb_url=url, database_name=name, data_dir=data_dir).start(timeout=180)


def check_complete(db: Any, v1: V1) -> None:
    """Assert every version 1 movement is on the ledger exactly once and nothing moved."""
    entries = list(db.journal.find({}))
    assert len(entries) == v1.movements, (len(entries), v1.movements)
    assert {e["kind"] for e in entries} == {"migration"}
    # One entry per movement: each v1 transaction on exactly one entry, a transfer's two legs
    # on the same one, and no entry twice for the same movement.
    posted = Counter(line["id"] for e in entries for line in e["lines"])
    assert posted == Counter(t["_id"] for t in v1.transactions), "a v1 leg missing or doubled"
    assert db.transaction_refs.count_documents({}) == len(v1.transactions)
    by_transfer = {e["transfer_id"]: e for e in entries if e["transfer_id"] is not None}
    assert set(by_transfer) == set(v1.transfers)
    for account_id, account in v1.accounts.items():
        now = db.accounts.find_one({"_id": account_id})
        assert dec(now["balance"]) == dec(account["balance"]), account["number"]
        legs = legs_of(db, account["number"])
        mine = [t for t in v1.transactions if t["account_id"] == account_id]
        assert [leg["transaction_id"] for leg in legs] == [t["_id"] for t in mine]
        assert [leg["balance_after"] for leg in legs] == [dec(t["balance_after"]) for t in mine]
    check_ledger(db)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def client(wire_db: EmbeddedDatabase) -> Iterator[MongoClient[Any]]:
    """A PyMongo client on the wire database."""
    mongo: MongoClient[Any] = MongoClient(wire_db.url, tz_aware=True)
    yield mongo
    mongo.close()


@pytest.fixture(scope="module")
def v1(wire_db: EmbeddedDatabase, client: MongoClient[Any]) -> V1:
    """The backup's data, restored into a database no server ever starts on."""
    restore(wire_db.url, "t_migration_reference")
    return read_v1(client["t_migration_reference"])


@pytest.fixture(scope="module")
def bank(
    wire_db: EmbeddedDatabase,
    client: MongoClient[Any],
    v1: V1,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, Any, Api]]:
    """The backup restored into a fresh database and migrated by a version 2 server."""
    name = "t_migration_bank"
    restore(wire_db.url, name)
    db = client[name]
    assert db.journal.count_documents({}) == 0  # version 1 had no ledger
    server = start(wire_db.url, name, tmp_path_factory.mktemp("migration-server"))
    try:
        wait_migrated(db)
        admin = Api(server.url).login(*V1_ADMIN)
        yield server, db, admin
        admin.close()
    finally:
        server.stop()


# ---------------------------------------------------------------- the restored bank


def test_every_v1_movement_is_one_migration_entry_with_its_contra_on_capital(
    bank: tuple[ServerProcess, Any, Api], v1: V1
) -> None:
    _, db, admin = bank
    assert v1.movements == 11  # the fixture: eight cash movements, three transfers
    check_complete(db, v1)
    numbers = {n: a["number"] for n, a in v1.accounts.items()}
    for t in v1.transactions:
        ref = db.transaction_refs.find_one({"_id": t["_id"]})
        entry = expect(admin.get(f"/ledger/journal/{ref['journal_id']}"), 200)
        assert entry["kind"] == "migration"
        assert entry["created_at"] == iso_ms(t["created_at"])  # kept from version 1
        assert entry["business_date"] == t["created_at"].astimezone(UTC).date().isoformat()
        assert (entry["session_id"], entry["approval_id"]) == (None, None)
        assert entry["performed_by"] == t["performed_by"]
        side = "credit" if t["type"] in CREDITS else "debit"
        mine = {"account": numbers[t["account_id"]], "side": side,
                "amount": str(dec(t["amount"])), "currency": t["currency"]}  # fmt: skip
        assert mine in entry["legs"]
        assert len(entry["legs"]) == 2
        other = next(leg for leg in entry["legs"] if leg != mine)
        assert other["amount"] == mine["amount"]
        assert other["currency"] == mine["currency"]
        assert other["side"] != mine["side"]
        if t["transfer_id"] is None:
            assert other["account"] == f"capital:{t['currency']}"
        else:
            transfer = v1.transfers[t["transfer_id"]]
            assert {mine["account"], other["account"]} == {
                numbers[transfer["from_account_id"]],
                numbers[transfer["to_account_id"]],
            }


def test_the_trial_balance_balances_with_capital_as_the_counterpart_of_the_balances(
    bank: tuple[ServerProcess, Any, Api], v1: V1
) -> None:
    _, _, admin = bank
    totals = v1.customer_totals()
    trial = expect(admin.get("/ledger/trial-balance"), 200)
    assert set(trial) == set(totals) == {"USD", "EUR"}
    for currency, total in totals.items():
        lines = {line["account"]: line for line in trial[currency]["accounts"]}
        assert trial[currency]["balanced"] is True
        assert trial[currency]["debits"] == trial[currency]["credits"]
        customers = lines.pop(f"customers:{currency}")
        count = sum(1 for a in v1.accounts.values() if a["currency"] == currency)
        assert (dec(customers["balance"]), customers["count"]) == (total, count)
        # Every balance that existed before the ledger has capital as its other side.
        assert set(lines) == {f"capital:{currency}"}
        assert lines[f"capital:{currency}"]["kind"] == "equity"
        assert dec(lines[f"capital:{currency}"]["balance"]) == -total
    # As of the version 1 day the same figures (recomputed from the journal); before it, none.
    day = min(t["created_at"] for t in v1.transactions).astimezone(UTC).date()
    assert expect(admin.get("/ledger/trial-balance", params={"business_date": day.isoformat()}),
                  200) == trial  # fmt: skip
    before = (day - timedelta(days=1)).isoformat()
    earlier = expect(admin.get("/ledger/trial-balance", params={"business_date": before}), 200)
    assert all(not c["accounts"] or all(dec(line["balance"]) == 0 for line in c["accounts"])
               for c in earlier.values())  # fmt: skip
    capital = expect(admin.get("/ledger/accounts", params={"kind": "equity"}), 200)["items"]
    assert {a["code"]: dec(a["balance"]) for a in capital} == {
        f"capital:{c}": -t for c, t in totals.items()}  # fmt: skip


def test_every_balance_is_the_one_in_the_backup(
    bank: tuple[ServerProcess, Any, Api], v1: V1
) -> None:
    _, _, admin = bank
    ledger = {
        a["code"]: a
        for a in expect(admin.get("/ledger/accounts", params={"kind": "liability"}), 200)["items"]
    }
    assert len(ledger) == len(v1.accounts)
    for account_id, account in v1.accounts.items():
        shown = expect(admin.get(f"/accounts/{account_id}"), 200)
        assert dec(shown["balance"]) == dec(account["balance"])
        legs = [t for t in v1.transactions if t["account_id"] == account_id]
        line = ledger[account["number"]]
        assert dec(line["balance"]) == dec(account["balance"])
        assert dec(line["credits"]) == sum(
            (dec(t["amount"]) for t in legs if t["type"] in CREDITS), Decimal(0)
        )
        assert dec(line["debits"]) == sum(
            (dec(t["amount"]) for t in legs if t["type"] not in CREDITS), Decimal(0))  # fmt: skip


def test_history_transfers_and_ledger_legs_keep_their_version_1_shape(
    bank: tuple[ServerProcess, Any, Api], v1: V1
) -> None:
    _, _, admin = bank
    for account_id in v1.accounts:
        page = expect(admin.get(f"/accounts/{account_id}/transactions",
                                params={"limit": 200}), 200)  # fmt: skip
        mine = [t for t in v1.transactions if t["account_id"] == account_id]
        assert page["total"] == len(mine)
        expected = [{
            "id": t["_id"], "account_id": account_id, "type": t["type"],
            "amount": str(dec(t["amount"])), "balance_after": str(dec(t["balance_after"])),
            "description": t["description"], "transfer_id": t["transfer_id"],
            "counterparty_number": t["counterparty_number"], "performed_by": t["performed_by"],
            "created_at": iso_ms(t["created_at"]),
            "direction": "credit" if t["type"] in CREDITS else "debit",
            "session_id": None, "approval_id": None, "reversed_by": None,
        } for t in reversed(mine)]  # newest first, as version 1 answered  # fmt: skip
        got = [{k: item[k] for k in expected[0]} for item in page["items"]] if mine else []
        assert got == expected
        for skip in range(len(mine)):  # paged one by one, the same order
            one = expect(admin.get(f"/accounts/{account_id}/transactions",
                                   params={"limit": 1, "skip": skip}), 200)["items"]  # fmt: skip
            assert [one[0]["id"]] == [expected[skip]["id"]]
        number = v1.accounts[account_id]["number"]
        legs = expect(admin.get(f"/ledger/accounts/{number}/entries",
                                params={"limit": 200}), 200)  # fmt: skip
        assert [leg["transaction_id"] for leg in legs["items"]] == [t["_id"] for t in mine]
        assert [leg["balance_after"] for leg in legs["items"]] == [
            str(dec(t["balance_after"])) for t in mine]  # fmt: skip
    for transfer_id, transfer in v1.transfers.items():
        shown = expect(admin.get(f"/transfers/{transfer_id}"), 200)
        assert {k: shown[k] for k in ("from_account_id", "to_account_id", "from_number",
                                      "to_number", "amount", "description", "performed_by",
                                      "created_at")} == {
            "from_account_id": transfer["from_account_id"],
            "to_account_id": transfer["to_account_id"], "from_number": transfer["from_number"],
            "to_number": transfer["to_number"], "amount": str(dec(transfer["amount"])),
            "description": transfer["description"], "performed_by": transfer["performed_by"],
            "created_at": iso_ms(transfer["created_at"]),
        }  # fmt: skip


def test_a_restart_posts_nothing_and_money_then_moves_on_the_migrated_ledger(
    bank: tuple[ServerProcess, Any, Api], v1: V1, wire_db: EmbeddedDatabase, tmp_path: Path
) -> None:
    _, db, _ = bank

    def ledger_state() -> dict[str, Any]:
        return {name: sorted(db[name].find({}), key=lambda d: (str(type(d["_id"])), d["_id"]))
                for name in ("journal", "ledger_pages", "ledger_accounts", "transaction_refs",
                             "daily_totals", "accounts", "counters")}  # fmt: skip

    before = ledger_state()
    second = start(wire_db.url, "t_migration_bank", tmp_path / "second")
    try:
        assert migration_done(db)
        alice = Api(second.url).login("alice", "alice123")
        # Money moves on the migrated ledger (once the restart's check of it has opened the
        # gate: a client retries a 503 as Retry-After says).
        body = {"from_account_id": 1, "to_account_id": 2, "amount": "5.00"}
        deadline = time.monotonic() + 60
        answer = alice.post("/transfers", json=body)
        while answer.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = alice.post("/transfers", json=body)
        moved = expect(answer, 201)
        alice.close()
    finally:
        second.stop()
    after = ledger_state()
    # Nothing but the transfer was posted: one journal entry more, of kind transfer.
    assert [e["_id"] for e in after["journal"]] == [e["_id"] for e in before["journal"]] + [
        max(e["_id"] for e in before["journal"]) + 1]  # fmt: skip
    assert after["journal"][:-1] == before["journal"]
    assert after["journal"][-1]["kind"] == "transfer"
    assert moved["id"] == max(v1.transfers) + 1  # ids continue version 1's counters
    assert db.transaction_refs.count_documents({}) == len(v1.transactions) + 2
    assert min(db.transaction_refs.find({"journal_id": after["journal"][-1]["_id"]}).distinct(
        "_id")) == max(t["_id"] for t in v1.transactions) + 1  # fmt: skip
    check_ledger(db)


# ---------------------------------------------------------------- interrupted migrations


def test_a_migration_killed_midway_resumes_and_posts_every_movement_once(
    wire_db: EmbeddedDatabase, client: MongoClient[Any], tmp_path: Path
) -> None:
    name = "t_migration_killed"
    restore(wire_db.url, name)
    db = client[name]
    add_v1_movements(db, EXTRA_MOVEMENTS)
    v1 = read_v1(db)
    assert v1.movements == 11 + EXTRA_MOVEMENTS
    server = start(wire_db.url, name, tmp_path / "first")
    try:
        admin = Api(server.url).login(*V1_ADMIN)
        deadline = time.monotonic() + 120
        while db.journal.count_documents({}) < 3:
            assert time.monotonic() < deadline, "the migration did not start"
            time.sleep(0.02)
        # Until the migration has finished, money does not move: 503, with a retry hint.
        answer = admin.post("/transfers", json={"from_account_id": 1, "to_account_id": 2,
                                                "amount": "1.00"})  # fmt: skip
        admin.close()
        server.kill()  # SIGKILL: no chance to finish the entry it is writing
    finally:
        server.stop()
    posted = db.journal.count_documents({})
    assert 3 <= posted < v1.movements, ("not killed midway", posted)
    assert not migration_done(db)
    expect(answer, 503, "service_unavailable")
    assert answer.headers["Retry-After"]
    assert db.transfers.count_documents({}) == len(v1.transfers)  # the refused one is not there

    server = start(wire_db.url, name, tmp_path / "second")
    try:
        wait_migrated(db)
        check_complete(db, v1)
        admin = Api(server.url).login(*V1_ADMIN)
        trial = expect(admin.get("/ledger/trial-balance"), 200)
        assert all(c["balanced"] for c in trial.values())
        assert {c: dec(line["balance"]) for c, t in trial.items() for line in t["accounts"]
                if line["account"].startswith("customers:")} == v1.customer_totals()  # fmt: skip
        admin.close()
    finally:
        server.stop()


async def test_a_cancelled_migration_keeps_money_closed_and_a_second_run_finishes_it(
    wire_db: EmbeddedDatabase, client: MongoClient[Any]
) -> None:
    name = "t_migration_cancelled"
    restore(wire_db.url, name)
    db = client[name]
    add_v1_movements(db, EXTRA_MOVEMENTS)
    v1 = read_v1(db)
    motor: Any = make_client(wire_db.url)
    try:
        database = await init_database(motor, name)
        assert await migration.pending_count() == len(v1.transactions)
        gate = migration.MigrationGate()
        running = asyncio.create_task(migration.run(database, timezone="UTC", gate=gate))
        journal = motor[name]["journal"]
        deadline = time.monotonic() + 120
        while await journal.count_documents({}) < 3:
            assert time.monotonic() < deadline, "the migration did not start"
            assert not running.done(), "the migration finished before it could be cancelled"
            await asyncio.sleep(0.01)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        posted = db.journal.count_documents({})
        assert 3 <= posted < v1.movements, posted
        # Cancelled, the gate stays shut: money routes keep answering 503.
        assert not gate.ready
        assert isinstance(gate.error, asyncio.CancelledError)
        assert not migration_done(db)
        left = await migration.pending_count()
        assert 0 < left < len(v1.transactions)

        again = migration.MigrationGate()
        made = await migration.run(database, timezone="UTC", gate=again)
        assert again.ready
        assert again.error is None
        assert made == v1.movements - posted
        check_complete(db, v1)
        assert await migration.run(database, timezone="UTC") == 0  # idempotent
        assert db.journal.count_documents({}) == v1.movements
        assert migration_done(db)
    finally:
        await motor.close()
