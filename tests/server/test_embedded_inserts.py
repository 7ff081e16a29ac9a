"""Uniqueness in `bank-server db` without collection scans (server/embedded.py).

The engine answers mongoeco's uniqueness checks from candidate maps instead of decoding the
whole collection on every insert. These tests check that every duplicate is still refused
(numeric `_id`s across BSON types, the ledger's compound `(account_id, seq)`, inside and
after transactions, after deletes, updates, renames and a restart, with array values), that
a random mix of writes gets exactly the answers MongoDB's rules give, and that an insert
into a big collection costs about what it costs into a small one.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128, Int64
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure

from server.db import EmbeddedDatabase

_names = itertools.count(1)


@pytest.fixture(scope="module")
def own_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    """A `bank-server db` of this module's own.

    Not the session's: by the end of the suite that file holds hundreds of databases, and
    mongoeco's per-insert cost grows with the collections in the file (measured: 3,000
    inserts 2 s into a fresh file, 15 s next to 300 small collections, with the original
    engine as with ours), which would time out these bulk inserts, not test uniqueness.
    """
    database = EmbeddedDatabase(tmp_path_factory.mktemp("unique-db"))
    database.start()
    try:
        yield database
    finally:
        database.stop()


@pytest.fixture(scope="module")
def client(own_db: EmbeddedDatabase) -> Iterator[MongoClient[Any]]:
    """A PyMongo client of the module's `bank-server db`."""
    mongo: MongoClient[Any] = MongoClient(own_db.url, tz_aware=True)
    yield mongo
    mongo.close()


def ledger(client: MongoClient[Any]) -> Any:
    """Return a fresh collection with the ledger's unique (account_id, seq) index."""
    collection = client[f"t_unique_{os.getpid()}"][f"ledger_{next(_names)}"]
    collection.create_index([("account_id", ASCENDING), ("seq", DESCENDING)], unique=True)
    return collection


def entry(entry_id: Any, account_id: int, seq: int) -> dict[str, Any]:
    """Return a ledger-like document."""
    return {"_id": entry_id, "account_id": account_id, "seq": seq, "amount": Decimal128("1.00")}


def test_compound_unique_key_is_refused_at_any_size(client: MongoClient[Any]) -> None:
    coll = ledger(client)
    coll.insert_many([entry(n, n % 7, n) for n in range(1, 1201)])
    for account_id, seq in ((1, 1), (3, 10), (0, 700)):  # account_id is seq % 7
        with pytest.raises(DuplicateKeyError):
            coll.insert_one(entry(5000 + seq, account_id, seq))
    coll.insert_one(entry(5001, 1, 1201))  # a new key is fine
    with pytest.raises(DuplicateKeyError):
        coll.insert_one(entry(5002, 1, 1201))
    assert coll.count_documents({}) == 1201


@pytest.mark.parametrize("duplicate", [5.0, Int64(5), Decimal128("5"), Decimal128("5.00"), 5])
def test_numeric_id_duplicates_are_refused_across_types(
    client: MongoClient[Any], duplicate: Any
) -> None:
    coll = ledger(client)
    coll.insert_many([entry(n, 1, n) for n in range(1, 300)])
    with pytest.raises(DuplicateKeyError):
        coll.insert_one(entry(duplicate, 2, 1))
    coll.insert_one(entry(Decimal128("5.5"), 2, 1))  # another value is fine
    with pytest.raises(DuplicateKeyError):
        coll.insert_one(entry(5.5, 2, 2))


def test_string_ids_and_single_field_unique_indexes(client: MongoClient[Any]) -> None:
    coll = client[f"t_unique_{os.getpid()}"][f"users_{next(_names)}"]
    coll.create_index("username", unique=True)
    coll.insert_one({"_id": "a", "username": "ann"})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "a", "username": "other"})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "b", "username": "ann"})
    coll.insert_one({"_id": "b", "username": "bob"})


def test_transactions_see_their_own_and_forget_aborted_entries(client: MongoClient[Any]) -> None:
    coll = ledger(client)
    coll.insert_one(entry(1, 1, 1))
    with client.start_session() as session:
        session.start_transaction()
        coll.insert_one(entry(2, 1, 2), session=session)
        with pytest.raises(OperationFailure):  # DuplicateKeyError inside the transaction
            coll.insert_one(entry(3, 1, 2), session=session)
        session.abort_transaction()
    # Neither the aborted entry's id nor its key is taken now.
    coll.insert_one(entry(2, 1, 2))
    coll.insert_one(entry(3, 1, 3))
    with client.start_session() as session:
        session.start_transaction()
        coll.insert_one(entry(4, 1, 4), session=session)
        session.commit_transaction()
    with pytest.raises(DuplicateKeyError):
        coll.insert_one(entry(5, 1, 4))
    assert sorted(d["seq"] for d in coll.find()) == [1, 2, 3, 4]


def test_deletes_updates_and_renames(client: MongoClient[Any]) -> None:
    coll = ledger(client)
    coll.insert_many([entry(n, 1, n) for n in range(1, 11)])
    coll.delete_one({"_id": 3})
    coll.insert_one(entry(3.0, 1, 3))  # the freed id and key may be used again
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"_id": 4}, {"$set": {"seq": 5}})
    coll.update_one({"_id": 4}, {"$set": {"seq": 40}})
    coll.insert_one(entry(11, 1, 4))  # the key the update freed
    with pytest.raises(DuplicateKeyError):
        coll.insert_one(entry(12, 1, 40))
    renamed = coll.database[f"renamed_{next(_names)}"]
    # mongoeco takes renameCollection on the collection's own database, not on admin.
    coll.database.command("renameCollection", coll.full_name, to=renamed.full_name)
    renamed.create_index([("account_id", ASCENDING), ("seq", DESCENDING)], unique=True)
    with pytest.raises(DuplicateKeyError):
        renamed.insert_one(entry(13, 1, 40))
    with pytest.raises(DuplicateKeyError):
        renamed.insert_one(entry(Int64(11), 1, 99))


def test_array_values_keep_mongodb_semantics(client: MongoClient[Any]) -> None:
    coll = client[f"t_unique_{os.getpid()}"][f"tags_{next(_names)}"]
    coll.create_index("tags", unique=True)
    coll.insert_one({"_id": 1, "tags": ["a", "b"]})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": 2, "tags": ["c", "b"]})
    coll.insert_one({"_id": 2, "tags": ["c"]})


def test_a_restarted_database_still_refuses_old_keys(tmp_path: Path) -> None:
    database = EmbeddedDatabase(tmp_path)
    url = database.start()
    try:
        mongo: MongoClient[Any] = MongoClient(url, serverSelectionTimeoutMS=20000)
        coll = mongo.bank.ledger
        coll.create_index([("account_id", ASCENDING), ("seq", DESCENDING)], unique=True)
        coll.insert_many([entry(n, 1, n) for n in range(1, 51)])
        mongo.close()
        database.stop()
        database.start()
        mongo = MongoClient(url, serverSelectionTimeoutMS=20000)
        coll = mongo.bank.ledger
        with pytest.raises(DuplicateKeyError):
            coll.insert_one(entry(100, 1, 25))
        with pytest.raises(DuplicateKeyError):
            coll.insert_one(entry(25.0, 2, 1))
        coll.insert_one(entry(51, 1, 51))
        mongo.close()
    finally:
        database.stop()


def _db_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_an_insert_costs_the_same_into_a_big_ledger(
    client: MongoClient[Any], own_db: EmbeddedDatabase
) -> None:
    """CPU time of the database process per insert: 3,000 entries vs 50 (not wall time)."""
    assert own_db.process is not None
    pid = own_db.process.pid
    small, big = ledger(client), ledger(client)
    small.insert_many([entry(n, 1, n) for n in range(1, 51)])
    big.insert_many([entry(n, 1, n) for n in range(1, 3001)])
    costs = {}
    for name, coll, first in (("small", small, 51), ("big", big, 3001)):
        coll.insert_one(entry(first, 2, first))  # a warm start for both
        started = _db_cpu_seconds(pid)
        for n in range(first + 1, first + 151):
            coll.insert_one(entry(n, 2, n))
        costs[name] = _db_cpu_seconds(pid) - started
    # Scanning 3,000 documents per insert made it about ten times dearer than at 50.
    assert costs["big"] < 2.5 * costs["small"] + 0.05, costs


_ID_FORMS = [
    lambda k: k,
    lambda k: float(k),
    lambda k: Int64(k),
    lambda k: Decimal128(str(k)),
    lambda k: Decimal128(f"{k}.0"),
]


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """A random mix of inserts (ids in any numeric form), deletes and seq updates."""
    steps = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["insert", "insert", "insert", "delete", "update", "txn"]))
        k = draw(st.integers(1, 5))
        form = draw(st.integers(0, len(_ID_FORMS) - 1))
        steps.append((kind, k, form, draw(st.integers(1, 2)), draw(st.integers(1, 3))))
    return steps


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations())
def test_random_writes_get_mongodb_answers(
    client: MongoClient[Any], steps: list[tuple[Any, ...]]
) -> None:
    coll = ledger(client)
    model: dict[int, tuple[int, int]] = {}  # numeric id -> (account_id, seq)
    for kind, k, form, account_id, seq in steps:
        taken = (account_id, seq) in model.values()
        if kind in ("insert", "txn"):
            refused = k in model or taken
            document = entry(_ID_FORMS[form](k), account_id, seq)
            error: OperationFailure | None = None
            try:
                if kind == "txn":  # inserted, then rolled back: nothing changes
                    with client.start_session() as session:
                        session.start_transaction()
                        coll.insert_one(document, session=session)
                        session.abort_transaction()
                else:
                    coll.insert_one(document)
            except OperationFailure as failure:  # DuplicateKeyError, or its in-transaction form
                error = failure
            assert (error is not None) == refused, (steps, kind, k, error)
            assert error is None or "uplicate" in str(error), error
            if error is None and kind == "insert":
                model[k] = (account_id, seq)
        elif kind == "delete":
            coll.delete_one({"_id": _ID_FORMS[form](k)})
            model.pop(k, None)
        elif k in model:  # update the seq of an existing entry
            refused = taken and model[k] != (account_id, seq)
            try:
                coll.update_one({"_id": k}, {"$set": {"account_id": account_id, "seq": seq}})
            except DuplicateKeyError:
                assert refused, steps
            else:
                assert not refused, steps
                model[k] = (account_id, seq)
    stored = {int(d["_id"].to_decimal() if isinstance(d["_id"], Decimal128) else d["_id"]):
              (d["account_id"], d["seq"]) for d in coll.find()}  # fmt: skip
    assert stored == model


def test_a_sparse_unique_index_refuses_duplicates_and_costs_the_same_at_any_size(
    client: MongoClient[Any], own_db: EmbeddedDatabase
) -> None:
    """The journal's unique sparse `source`: most entries have none, a few have one.

    Every entry without the field had the same key in the candidate map, so each insert
    decoded them all (a teller's deposit took 3.4 s on a 30,000-entry journal, the bench
    bank of bench/scale.py). Those entries are in no one's way: mongoeco's check skips them.
    """
    assert own_db.process is not None
    pid = own_db.process.pid
    db = client[f"t_unique_{os.getpid()}"]
    small, big = db[f"journal_{next(_names)}"], db[f"journal_{next(_names)}"]
    for coll in (small, big):
        coll.create_index([("source", ASCENDING)], unique=True, sparse=True)
    small.insert_many([{"_id": n, "kind": "deposit"} for n in range(1, 51)])
    big.insert_many([{"_id": n, "kind": "deposit"} for n in range(1, 3001)])
    for coll in (small, big):
        coll.insert_one({"_id": 90_000, "kind": "migration", "source": "v1:1"})
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": 90_001, "kind": "migration", "source": "v1:1"})
        coll.insert_one({"_id": 90_002, "kind": "deposit"})  # no source: never a duplicate
        coll.update_one({"_id": 1}, {"$set": {"source": "v1:2"}})  # now it has one
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": 90_003, "source": "v1:2"})
        with pytest.raises(DuplicateKeyError):
            coll.update_one({"_id": 2}, {"$set": {"source": "v1:1"}})
    costs = {}
    for name, coll in (("small", small), ("big", big)):
        coll.insert_one({"_id": 100_000, "kind": "deposit"})  # a warm start for both
        started = _db_cpu_seconds(pid)
        for n in range(100_001, 100_151):
            coll.insert_one({"_id": n, "kind": "deposit"})
        costs[name] = _db_cpu_seconds(pid) - started
    assert costs["big"] < 2.5 * costs["small"] + 0.05, costs
    assert big.count_documents({"source": {"$exists": True}}) == 2
