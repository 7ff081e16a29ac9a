"""The backup file format: gzip'd JSON lines, optionally in an AES-256-GCM stream, plus checksums.

Plaintext (inside the gzip stream), one JSON object per line:

1. the header: `{"format": "bank-backup", "version": 1, "app_version", "database",
   "created_at", "consistency", "collections": [{"name", "count", "indexes"}]}`;
2. one line per document: `{"c": collection, "d": document}` in MongoDB canonical
   extended JSON, so Decimal128, dates, int32/int64 and strings round-trip exactly;
3. the trailer: `{"trailer": true, "counts": {collection: n}, "documents": n,
   "sha256": hex}`, the SHA-256 of every plaintext byte before it.

Without BACKUP_KEY the file is that gzip stream (`zcat FILE | head -1` shows the header).
With it the gzip stream is encrypted as a chunked AES-256-GCM stream (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizár, as in Tink and age):

    header = MAGIC | version | kdf | log2(n) | r | p | log2(chunk) | salt(16) | prefix(7)
             | key check(16)
    chunk i = AES-256-GCM(key, nonce = prefix | i (4 bytes, big-endian) | final flag,
                          plaintext chunk, associated data = header)

The key and the key check come from scrypt(BACKUP_KEY, salt), so every file has its own
key, a wrong key is told apart from a damaged file, every chunk authenticates the header,
reordered chunks fail (the counter), and a file cut at a chunk boundary fails (the last
chunk was not written as final). `FILE.sha256` (sha256sum format) covers the file's bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS, JSONOptions

FORMAT_NAME = "bank-backup"
FORMAT_VERSION = 1
MAGIC = b"BANKBAK1"
GZIP_MAGIC = b"\x1f\x8b"
_HEADER = struct.Struct(">8sBBBBBB16s7s16s")
_KDF_SCRYPT = 1
_TAG = 16
SCRYPT_LOG2_N = 15  # 32 MiB and about 0.1 s per file: a passphrase costs an attacker as much
SCRYPT_R = 8
SCRYPT_P = 1
CHUNK_LOG2 = 16  # 64 KiB of plaintext per authenticated chunk
_READ_BLOCK = 1 << 16
JSON_OPTIONS: JSONOptions = CANONICAL_JSON_OPTIONS.with_options(tz_aware=True)


class Writable(Protocol):
    """Anything bytes can be written to."""

    def write(self, data: bytes, /) -> Any:
        """Write bytes."""


class BackupError(Exception):
    """A backup cannot be written or read; the message is one line for the operator."""


def _derive(key: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """Return the AES key and the key check for a passphrase and salt."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    material = Scrypt(salt=salt, length=48, n=1 << log2_n, r=r, p=p).derive(key.encode())
    return material[:32], material[32:]


def _nonce(prefix: bytes, counter: int, final: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """Encrypt a byte stream into chunked AES-256-GCM and write it to `out`."""

    def __init__(
        self,
        out: Writable,
        key: str,
        *,
        chunk_log2: int = CHUNK_LOG2,
        scrypt_log2_n: int = SCRYPT_LOG2_N,
    ) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not key:
            raise BackupError("BACKUP_KEY is empty")
        salt, self._prefix = os.urandom(16), os.urandom(7)
        aes_key, check = _derive(key, salt, scrypt_log2_n, SCRYPT_R, SCRYPT_P)
        self._header = _HEADER.pack(
            MAGIC, FORMAT_VERSION, _KDF_SCRYPT, scrypt_log2_n, SCRYPT_R, SCRYPT_P,
            chunk_log2, salt, self._prefix, check,
        )  # fmt: skip
        self._aead = AESGCM(aes_key)
        self._chunk = 1 << chunk_log2
        self._buffer = bytearray()
        self._counter = 0
        self._out = out
        out.write(self._header)

    def _emit(self, data: bytes, final: bool) -> None:
        if self._counter >= 1 << 32:
            raise BackupError("the backup is too large for one encrypted stream")
        nonce = _nonce(self._prefix, self._counter, final)
        self._out.write(self._aead.encrypt(nonce, data, self._header))
        self._counter += 1

    def write(self, data: bytes) -> None:
        """Buffer plaintext and encrypt every full chunk."""
        self._buffer += data
        # Keep at least one byte back until close(), so the last chunk is the final one.
        while len(self._buffer) > self._chunk:
            self._emit(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]

    def close(self) -> None:
        """Encrypt what is left as the final chunk (possibly empty)."""
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()


def _read_exact(source: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def decrypt_stream(source: BinaryIO, key: str | None, *, name: str = "the file") -> Iterator[bytes]:
    """Yield the plaintext of an encrypted stream whose MAGIC has not been read yet."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = _read_exact(source, _HEADER.size)
    if len(header) < _HEADER.size:
        raise BackupError(f"{name} is truncated (its encryption header is incomplete)")
    magic, version, kdf, log2_n, r, p, chunk_log2, salt, prefix, check = _HEADER.unpack(header)
    if magic != MAGIC:
        raise BackupError(f"{name} is not a bank backup")
    if version != FORMAT_VERSION or kdf != _KDF_SCRYPT:
        raise BackupError(f"{name} uses encryption version {version}, which this bank cannot read")
    # Bound what a hostile header may ask of memory and time.
    if not (10 <= log2_n <= 18 and 1 <= r <= 8 and 1 <= p <= 4 and 10 <= chunk_log2 <= 24):
        raise BackupError(f"{name} has a damaged encryption header")
    if not key:
        raise BackupError(f"{name} is encrypted: set BACKUP_KEY to the key it was written with")
    aes_key, expected = _derive(key, salt, log2_n, r, p)
    if not hmac.compare_digest(expected, check):
        raise BackupError(f"wrong BACKUP_KEY for {name} (or its header was altered)")
    aead = AESGCM(aes_key)
    size = (1 << chunk_log2) + _TAG
    counter = 0
    block = _read_exact(source, size)
    while True:
        following = _read_exact(source, size)
        final = not following
        if len(block) < _TAG:
            raise BackupError(f"{name} is truncated (chunk {counter} is incomplete)")
        try:
            plain = aead.decrypt(_nonce(prefix, counter, final), block, header)
        except InvalidTag:
            if final and _authentic(aead, prefix, counter, block, header):
                raise BackupError(
                    f"{name} is truncated: it ends after chunk {counter}, before its final chunk"
                ) from None
            raise BackupError(
                f"{name} is damaged, truncated or was tampered with (chunk {counter} fails "
                "authentication)"
            ) from None
        yield plain
        if final:
            return
        block = following
        counter += 1


def _authentic(aead: Any, prefix: bytes, counter: int, block: bytes, header: bytes) -> bool:
    """Tell whether a chunk is authentic as a non-final chunk (the file was cut after it)."""
    from cryptography.exceptions import InvalidTag

    try:
        aead.decrypt(_nonce(prefix, counter, False), block, header)
    except InvalidTag:
        return False
    return True


class _HashingFile:
    """Write bytes to a file while hashing them."""

    def __init__(self, out: Writable) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.size += len(data)
        self.out.write(data)


@dataclass
class BackupWriter:
    """Write header, documents and trailer as compressed (and maybe encrypted) JSON lines."""

    out: Writable
    key: str | None = None
    scrypt_log2_n: int = SCRYPT_LOG2_N
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._file = _HashingFile(self.out)
        self._sink: Any = (
            EncryptingWriter(self._file, self.key, scrypt_log2_n=self.scrypt_log2_n)
            if self.key
            else self._file
        )
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._plain_sha256 = hashlib.sha256()
        self._pending = bytearray()

    def _line(self, value: Any) -> None:
        line = json_util.dumps(value, json_options=JSON_OPTIONS).encode() + b"\n"
        self._plain_sha256.update(line)
        self._pending += line
        if len(self._pending) >= _READ_BLOCK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._sink.write(self._gzip.compress(bytes(self._pending)))
            self._pending.clear()

    def header(self, header: dict[str, Any]) -> None:
        """Write the header line (format and version are filled in)."""
        self._line({"format": FORMAT_NAME, "version": FORMAT_VERSION, **header})

    def document(self, collection: str, document: dict[str, Any]) -> None:
        """Write one document of a collection."""
        self.counts[collection] = self.counts.get(collection, 0) + 1
        self._line({"c": collection, "d": document})

    def finish(self) -> dict[str, Any]:
        """Write the trailer, close the streams and return the trailer."""
        trailer = {
            "trailer": True,
            "counts": dict(self.counts),
            "documents": sum(self.counts.values()),
            "sha256": self._plain_sha256.hexdigest(),
        }
        self._line(trailer)
        self._flush()
        self._sink.write(self._gzip.flush())
        if isinstance(self._sink, EncryptingWriter):
            self._sink.close()
        return trailer

    @property
    def file_sha256(self) -> str:
        """Return the SHA-256 of the bytes written to the file so far."""
        return self._file.sha256.hexdigest()

    @property
    def file_size(self) -> int:
        """Return the number of bytes written to the file so far."""
        return self._file.size


def _plain_chunks(source: BinaryIO, key: str | None, name: str) -> Iterator[bytes]:
    start = _read_exact(source, len(MAGIC))
    if start.startswith(GZIP_MAGIC):
        yield start
        while block := source.read(_READ_BLOCK):
            yield block
        return
    if start != MAGIC:
        raise BackupError(f"{name} is not a bank backup")
    source.seek(0)
    yield from decrypt_stream(source, key, name=name)


def _lines(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    inflate = zlib.decompressobj(31)
    rest = b""
    for chunk in chunks:
        try:
            data = inflate.decompress(chunk)
        except zlib.error:
            raise BackupError(f"{name} is damaged (its compressed stream is invalid)") from None
        if inflate.unused_data:
            raise BackupError(f"{name} is damaged (data after the end of its stream)")
        rest += data
        *complete, rest = rest.split(b"\n")
        yield from complete
    if not inflate.eof:
        raise BackupError(f"{name} is truncated (its compressed stream ends early)")
    if rest:
        yield rest


@dataclass
class BackupRecord:
    """One item of a backup: the header, a document, or the verified trailer."""

    kind: str  # header | document | trailer
    collection: str | None = None
    value: dict[str, Any] = field(default_factory=dict)


def read_backup(
    source: BinaryIO, key: str | None, *, name: str = "the file"
) -> Iterator[BackupRecord]:
    """Yield a backup's header, documents and trailer, checking everything on the way.

    The trailer is yielded only after its SHA-256 and counts matched, so a consumer that
    reached it has read an intact backup. Problems raise BackupError.
    """
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    header: dict[str, Any] | None = None
    for number, line in enumerate(_lines(_plain_chunks(source, key, name), name), 1):
        try:
            value = json_util.loads(line, json_options=JSON_OPTIONS)
        except ValueError:
            raise BackupError(f"{name} is damaged (line {number} is not JSON)") from None
        if not isinstance(value, dict):
            raise BackupError(f"{name} is damaged (line {number} is not an object)")
        if header is None:
            if value.get("format") != FORMAT_NAME:
                raise BackupError(f"{name} is not a bank backup")
            if value.get("version") != FORMAT_VERSION:
                raise BackupError(
                    f"{name} has format version {value.get('version')}; this bank reads "
                    f"version {FORMAT_VERSION}"
                )
            header = value
            digest.update(line + b"\n")
            yield BackupRecord("header", value=value)
        elif value.get("trailer") is True:
            if value.get("sha256") != digest.hexdigest():
                raise BackupError(f"{name} is damaged (its content does not match its SHA-256)")
            if value.get("counts") != counts:
                raise BackupError(f"{name} is damaged (its document counts do not match)")
            yield BackupRecord("trailer", value=value)
            return
        else:
            collection, document = value.get("c"), value.get("d")
            if not isinstance(collection, str) or not isinstance(document, dict):
                raise BackupError(f"{name} is damaged (line {number} is not a document)")
            counts[collection] = counts.get(collection, 0) + 1
            digest.update(line + b"\n")
            yield BackupRecord("document", collection, document)
    raise BackupError(f"{name} is truncated (it has no trailer)")


def verify_backup(path: Path, key: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a whole backup file without writing anything; return its header and trailer."""
    header: dict[str, Any] = {}
    with path.open("rb") as source:
        for record in read_backup(source, key, name=path.name):
            if record.kind == "header":
                header = record.value
            elif record.kind == "trailer":
                return header, record.value
    raise BackupError(f"{path.name} is truncated (it has no trailer)")  # pragma: no cover


def checksum_path(path: Path) -> Path:
    """Return where a backup's checksum file lives."""
    return path.with_name(path.name + ".sha256")


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def write_checksum(path: Path, digest: str) -> Path:
    """Write `PATH.sha256` in sha256sum's format (`sha256sum -c` checks it)."""
    target = checksum_path(path)
    partial = target.with_name(target.name + ".part")
    partial.write_text(f"{digest}  {path.name}\n", encoding="ascii")
    os.replace(partial, target)
    return target


def verify_checksum(path: Path) -> str:
    """Compare a backup with its `.sha256` file; raise BackupError unless they match."""
    target = checksum_path(path)
    try:
        recorded = target.read_text(encoding="ascii").split()[0].lower()
    except FileNotFoundError:
        raise BackupError(
            f"{target.name} is missing; restore with --no-checksum to rely on the file's own "
            "SHA-256 and authentication only"
        ) from None
    except (IndexError, UnicodeDecodeError):
        raise BackupError(f"{target.name} is not a checksum file") from None
    actual = file_sha256(path)
    if not hmac.compare_digest(recorded, actual):
        raise BackupError(
            f"checksum mismatch: {path.name} does not match {target.name} (damaged or altered)"
        )
    return actual
