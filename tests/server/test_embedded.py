"""The embedded database's file: WAL journal, and a lock that keeps it to one process."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from server.db import EmbeddedDatabase


def test_sqlite_file_uses_the_write_ahead_log(tmp_path: Path) -> None:
    database = EmbeddedDatabase(tmp_path)
    url = database.start()
    try:
        client: MongoClient[Any] = MongoClient(url)
        client.bank.things.insert_one({"_id": "a", "n": 1})
        client.close()
        connection = sqlite3.connect(f"file:{tmp_path / 'bank.sqlite'}?mode=ro", uri=True)
        try:
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        finally:
            connection.close()
        assert mode == "wal"
    finally:
        database.stop()


def test_a_restarted_database_keeps_its_port_and_data(tmp_path: Path) -> None:
    database = EmbeddedDatabase(tmp_path)
    first = database.start()
    client: MongoClient[Any] = MongoClient(first, serverSelectionTimeoutMS=20000)
    try:
        client.bank.things.insert_one({"_id": "kept", "n": 1})
        database.kill()
        assert database.start() == first
        assert client.bank.things.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
    finally:
        client.close()
        database.stop()
