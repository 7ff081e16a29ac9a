"""A local HTTP endpoint that stands in for Sentry's ingest API and keeps what it receives."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:  # sentry-sdk compresses with brotli when the module is there, else gzip
    import brotli  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


@dataclass(frozen=True)
class Envelope:
    """One envelope as received: its raw (decompressed) text and its items."""

    path: str
    text: str
    items: list[tuple[dict[str, Any], Any]]

    def events(self) -> list[dict[str, Any]]:
        """Return the error events it carries."""
        return [payload for head, payload in self.items if head.get("type") == "event"]


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        if brotli is None:
            raise RuntimeError("received a brotli body without the brotli module")
        data: bytes = brotli.decompress(body)
        return data
    return body


def parse_envelope(data: bytes) -> list[tuple[dict[str, Any], Any]]:
    """Split an envelope into (item header, payload) pairs; JSON payloads are parsed."""
    lines = data.split(b"\n", 1)
    rest = lines[1] if len(lines) > 1 else b""
    items: list[tuple[dict[str, Any], Any]] = []
    while rest.strip():
        head_line, _, rest = rest.partition(b"\n")
        head = json.loads(head_line)
        length = head.get("length")
        if length is not None:
            payload, rest = rest[:length], rest[length + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            items.append((head, json.loads(payload)))
        except ValueError:
            items.append((head, payload))
    return items


class SentrySink:
    """A thread serving POST /api/<project>/envelope/ on a loopback port."""

    def __init__(self, port: int = 0) -> None:
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = _decompress(self.rfile.read(size), self.headers.get("Content-Encoding", ""))
                envelope = Envelope(
                    self.path, body.decode("utf-8", "replace"), parse_envelope(body)
                )
                with sink._lock:
                    sink.envelopes.append(envelope)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def dsn(self) -> str:
        """Return a DSN that sends this sink everything."""
        return f"http://public@127.0.0.1:{self.port}/1"

    def start(self) -> SentrySink:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(
        self, predicate: Callable[[Envelope], bool], timeout: float = 20.0
    ) -> list[Envelope]:
        """Return the envelopes that match, waiting until one arrives (or raise)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [envelope for envelope in self.envelopes if predicate(envelope)]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if not found:
            raise AssertionError(f"no matching envelope in {timeout} s: {len(self.envelopes)} got")
        return found
