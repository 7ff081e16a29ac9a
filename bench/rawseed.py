"""Write many documents into the embedded database's SQLite file quickly (bench only).

Through the wire, `insert_many` manages a few hundred documents a second on the embedded
database (bench/planner_probe.py on branch planner-probe measured 100-300/s), so five years
of a branch (about a million documents) would take hours. This writes the rows while the
database server is stopped, exactly as mongoeco's insert path would: the stored JSON from
the engine's own `_serialize_document`, the storage key from `_storage_key`, and the index
entries from its own `_build_multikey_rows_for_document` / `_build_scalar_rows_for_document`
for the indexes the collection already has (the application created them through Beanie).
Compound indexes are SQLite expression indexes that SQLite maintains itself. The server
then starts on the file as it would after any restart.

It uses private methods of mongoeco's SQLite engine: `check_engine()` says which one is
missing or changed, and the bench refuses to run rather than write a wrong file.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import operator
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The engine's private methods this module calls, with the parameters it passes.
ENGINE_METHODS = {
    "_storage_key": ["self", "value"],
    "_serialize_document": ["self", "document"],
    "_build_multikey_rows_for_document": ["self", "storage_key", "document", "indexes"],
    "_build_scalar_rows_for_document": ["self", "storage_key", "document", "indexes"],
    "_load_indexes": ["self", "db_name", "coll_name"],
    "_lookup_collection_id": ["self", "conn", "db_name", "coll_name", "create"],
    "_require_connection": ["self", "context"],
}


def check_engine() -> None:
    """Raise RuntimeError unless mongoeco's engine has every method used here, as used."""
    from mongoeco.engines import SQLiteEngine

    for name, params in ENGINE_METHODS.items():
        method = getattr(SQLiteEngine, name, None)
        if method is None:
            raise RuntimeError(f"mongoeco's SQLiteEngine has no {name}: bench/rawseed.py is stale")
        found = list(inspect.signature(method).parameters)
        if found != params:
            raise RuntimeError(f"SQLiteEngine.{name}{found} changed: bench/rawseed.py is stale")


def _plain_index(index: Any) -> Any:
    """A mutable copy of one of the engine's (frozen, shared) index records."""
    from mongoeco._types.documents import EngineIndexRecord

    return EngineIndexRecord(
        **{f.name: copy.deepcopy(index[f.name]) for f in dataclasses.fields(EngineIndexRecord)}
    )


async def write(
    path: Path, database: str, collections: dict[str, Iterable[dict[str, Any]]]
) -> dict[str, float]:
    """Insert the documents of each collection (which must exist, with its indexes).

    Returns seconds per collection. The database server must not be running.
    """
    from server.embedded import fast_unique_engine_class

    check_engine()
    engine = fast_unique_engine_class()(path=str(path))
    await engine.connect()
    timings: dict[str, float] = {}
    by_index = operator.itemgetter(2, 4, 5, 1)  # index name, type score, key, storage key
    try:
        conn = engine._require_connection()
        for name, documents in collections.items():
            started = time.perf_counter()
            indexes = [_plain_index(index) for index in engine._load_indexes(database, name)]
            collection_id = engine._lookup_collection_id(conn, database, name, create=False)
            if collection_id is None:
                raise RuntimeError(f"collection {name} does not exist yet")
            rows, multikey, scalar = [], [], []
            for doc in documents:
                key = engine._storage_key(doc["_id"])
                rows.append((database, name, key, engine._serialize_document(doc)))
                multikey += [
                    (collection_id, key, *r)
                    for r in engine._build_multikey_rows_for_document(key, doc, indexes)
                ]
                scalar += [
                    (collection_id, key, *r)
                    for r in engine._build_scalar_rows_for_document(key, doc, indexes)
                ]
            rows.sort()
            multikey.sort(key=by_index)
            scalar.sort(key=by_index)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO documents (db_name, coll_name, storage_key, document) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            for table, entries in (("multikey_entries", multikey),
                                   ("scalar_index_entries", scalar)):  # fmt: skip
                conn.executemany(
                    f"INSERT OR IGNORE INTO {table} (collection_id, storage_key, index_name, "
                    "element_type, type_score, element_key) VALUES (?, ?, ?, ?, ?, ?)",
                    entries,
                )
            conn.execute("COMMIT")
            timings[name] = round(time.perf_counter() - started, 1)
    finally:
        await engine.disconnect()
    return timings
