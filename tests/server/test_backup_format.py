"""The backup file format: exact round trips, and every damage detected with a clear reason."""

from __future__ import annotations

import gzip
import io
import os
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128, Int64, json_util

from server.backup_format import (
    GZIP_MAGIC,
    JSON_OPTIONS,
    MAGIC,
    BackupError,
    BackupWriter,
    EncryptingWriter,
    decrypt_stream,
    read_backup,
    verify_backup,
    verify_checksum,
    write_checksum,
)

FAST_KDF = 10  # scrypt n = 2**10 keeps these tests quick; the default is 2**15
HEADER_SIZE = struct.calcsize(">8sBBBBBB16s7s16s")
TAG = 16

DOCUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("users", {"_id": 1, "username": "zoë", "password_hash": "$argon2id$v=19$abc",
               "created_at": datetime(2026, 11, 29, 10, 15, 0, 123000, tzinfo=UTC),
               "deleted_at": None, "is_active": True}),
    ("accounts", {"_id": 1, "balance": Decimal128("1250.10"), "entry_seq": Int64(3),
                  "nested": {"list": [1, Int64(2**40), "x"], "zero": Decimal128("0.00")}}),
    ("counters", {"_id": "transactions", "seq": 7}),
]  # fmt: skip


def write(key: str | None, documents: list[tuple[str, dict[str, Any]]] = DOCUMENTS) -> bytes:
    """Return a complete backup of `documents` as bytes."""
    out = io.BytesIO()
    writer = BackupWriter(out, key=key, scrypt_log2_n=FAST_KDF)
    writer.header({"database": "bank", "collections": []})
    for collection, document in documents:
        writer.document(collection, document)
    writer.finish()
    return out.getvalue()


def read(data: bytes, key: str | None) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Read every record of a backup."""
    return [(r.kind, r.collection, r.value) for r in read_backup(io.BytesIO(data), key)]


def error_of(data: bytes, key: str | None) -> str:
    """Return the BackupError message reading `data` raises."""
    with pytest.raises(BackupError) as caught:
        read(data, key)
    return str(caught.value)


def big_documents(count: int = 300) -> list[tuple[str, dict[str, Any]]]:
    """Incompressible documents, so the stream spans several 64 KiB chunks."""
    return [("transactions", {"_id": n, "blob": os.urandom(1024).hex()}) for n in range(count)]


@pytest.mark.parametrize("key", [None, "correct horse battery staple"])
def test_documents_round_trip_exactly(key: str | None) -> None:
    records = read(write(key), key)
    assert [r[0] for r in records] == ["header", "document", "document", "document", "trailer"]
    assert records[0][2]["format"] == "bank-backup"
    assert records[0][2]["version"] == 1
    restored = [(collection, value) for kind, collection, value in records if kind == "document"]
    assert restored == DOCUMENTS
    account = restored[1][1]
    assert str(account["balance"]) == "1250.10"  # Decimal128 keeps its places
    assert type(account["entry_seq"]) is Int64  # int64 stays int64, int32 stays int
    assert type(restored[2][1]["seq"]) is int
    assert restored[0][1]["created_at"] == datetime(2026, 11, 29, 10, 15, 0, 123000, tzinfo=UTC)
    trailer = records[-1][2]
    assert trailer["counts"] == {"users": 1, "accounts": 1, "counters": 1}
    assert trailer["documents"] == 3


def test_plain_backup_is_gzip_json_lines_and_encrypted_is_not() -> None:
    plain = write(None)
    assert plain.startswith(GZIP_MAGIC)
    lines = gzip.decompress(plain).splitlines()
    assert json_util.loads(lines[0], json_options=JSON_OPTIONS)["database"] == "bank"
    assert b"$argon2id$" in gzip.decompress(plain)
    encrypted = write("k")
    assert encrypted.startswith(MAGIC)
    assert b"argon2" not in encrypted
    assert b"username" not in encrypted


def test_multi_chunk_encrypted_stream_round_trips() -> None:
    documents = big_documents()
    data = write("k", documents)
    assert len(data) > 3 * (1 << 16)  # several chunks
    restored = [(c, v) for kind, c, v in read(data, "k") if kind == "document"]
    assert restored == documents


def test_encrypted_stream_of_any_length_round_trips() -> None:
    for size in (0, 1, 1023, 1024, 1025, 4096, 5000):
        plain = os.urandom(size)
        out = io.BytesIO()
        writer = EncryptingWriter(out, "k", chunk_log2=10, scrypt_log2_n=FAST_KDF)
        for start in range(0, size, 300):
            writer.write(plain[start : start + 300])
        writer.close()
        assert b"".join(decrypt_stream(io.BytesIO(out.getvalue()), "k")) == plain, size


def test_wrong_key_and_missing_key_are_told_apart_from_damage() -> None:
    data = write("right key")
    assert "wrong BACKUP_KEY" in error_of(data, "wrong key")
    assert "is encrypted: set BACKUP_KEY" in error_of(data, None)


def chunk_offsets(data: bytes) -> list[int]:
    """Return where each 64 KiB chunk of an encrypted backup starts."""
    size = (1 << 16) + TAG
    return list(range(HEADER_SIZE, len(data), size))


def test_a_flipped_byte_anywhere_is_detected() -> None:
    data = write("k", big_documents())
    for offset in (chunk_offsets(data)[1] + 100, len(data) - 5):
        tampered = bytearray(data)
        tampered[offset] ^= 0x01
        assert "tampered" in error_of(bytes(tampered), "k"), offset


def test_a_tampered_header_is_detected() -> None:
    data = write("k", big_documents())
    prefix_byte = HEADER_SIZE - 16 - 1  # the last byte of the nonce prefix
    tampered = bytearray(data)
    tampered[prefix_byte] ^= 0x01
    assert "tampered" in error_of(bytes(tampered), "k")
    salt_byte = 8 + 6
    tampered = bytearray(data)
    tampered[salt_byte] ^= 0x01
    assert "wrong BACKUP_KEY" in error_of(bytes(tampered), "k")  # "(or its header was altered)"
    hostile = bytearray(data)
    hostile[8 + 2] = 40  # scrypt n = 2**40: refused before any work
    assert "damaged encryption header" in error_of(bytes(hostile), "k")


def test_truncation_at_a_chunk_boundary_is_detected_as_truncation() -> None:
    data = write("k", big_documents())
    offsets = chunk_offsets(data)
    assert len(offsets) >= 3
    message = error_of(data[: offsets[2]], "k")
    assert "truncated" in message
    assert "before its final chunk" in message


def test_truncation_inside_a_chunk_and_dropped_or_swapped_chunks_are_detected() -> None:
    data = write("k", big_documents())
    offsets = chunk_offsets(data)
    assert "chunk 1 fails authentication" in error_of(data[: offsets[1] + 500], "k")
    assert "truncated" in error_of(data[: HEADER_SIZE - 3], "k")
    dropped = data[: offsets[1]] + data[offsets[2] :]
    assert "fails authentication" in error_of(dropped, "k")
    first, second = data[offsets[0] : offsets[1]], data[offsets[1] : offsets[2]]
    swapped = data[: offsets[0]] + second + first + data[offsets[2] :]
    assert "chunk 0 fails authentication" in error_of(swapped, "k")


def test_plain_backup_damage_and_truncation_are_detected() -> None:
    data = write(None, big_documents(40))
    assert "truncated" in error_of(data[: len(data) // 2], None)
    assert "truncated" in error_of(data[:-12], None)  # the gzip footer is missing
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0x40
    assert "damaged" in error_of(bytes(tampered), None)
    assert "damaged" in error_of(data + b"junk", None)


def regzip(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(line + b"\n" for line in lines))


def test_content_that_does_not_match_its_trailer_is_refused() -> None:
    lines = gzip.decompress(write(None)).splitlines()
    edited = [*lines[:2], lines[2].replace(b"1250.10", b"9250.10"), *lines[3:]]
    assert edited != lines
    assert "does not match its SHA-256" in error_of(regzip(edited), None)
    assert "no trailer" in error_of(regzip(lines[:-1]), None)
    dropped = [lines[0], *lines[2:]]
    assert "damaged" in error_of(regzip(dropped), None)
    assert "not a bank backup" in error_of(regzip([b'{"format": "other"}']), None)
    assert "not a bank backup" in error_of(b"PK\x03\x04 a zip file", None)
    newer = lines[0].replace(b'"version": {"$numberInt": "1"}', b'"version": {"$numberInt": "9"}')
    assert "format version 9" in error_of(regzip([newer, *lines[1:]]), None)


def test_checksum_file_is_sha256sum_format_and_verified(tmp_path: Path) -> None:
    path = tmp_path / "bank.bak"
    path.write_bytes(write("k"))
    with pytest.raises(BackupError, match=r"bank\.bak\.sha256 is missing"):
        verify_checksum(path)
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    target = write_checksum(path, digest)
    assert target.read_text() == f"{digest}  bank.bak\n"
    assert verify_checksum(path) == digest
    header, trailer = verify_backup(path, "k")
    assert header["database"] == "bank"
    assert trailer["documents"] == 3
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(BackupError, match="checksum mismatch"):
        verify_checksum(path)
