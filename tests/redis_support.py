"""A real `redis-server` on a free loopback port for the tests that share state through Redis.

Import the fixture into a test module (`from tests.redis_support import redis_url_fixture`);
it is named `redis_url`. A missing `redis-server` fails the tests with a clear message
instead of skipping them: `make test` installs Debian's package when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import redis

from shared.launcher import free_port, stop_process

INSTALL_HINT = (
    "redis-server is not installed; `make test` installs it "
    "(apt-get install redis-server), or install it yourself"
)


class RedisProcess:
    """A throwaway `redis-server` without persistence, on 127.0.0.1 and a free port."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "redis.log"

    @property
    def url(self) -> str:
        """Return the server's `redis://` URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> RedisProcess:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.work_dir), "--logfile", str(self.log_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited early:\n{self.log()}")
                with suppress(redis.RedisError):
                    if client.ping():
                        return self
                time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING:\n{self.log()}")

    def client(self) -> redis.Redis:
        """Return a client of this server (close it when done)."""
        return redis.Redis(port=self.port, socket_timeout=5)

    def log(self) -> str:
        """Return the end of the server's log."""
        if self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        process, self.process = self.process, None
        stop_process(process, grace=10)


@pytest.fixture(scope="session", name="redis_server")
def redis_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A real redis-server for the session; stopped at the end, also when tests fail."""
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", name="redis_url")
def redis_url_fixture(redis_server: RedisProcess) -> str:
    """The `redis://` URL of the session's redis-server."""
    return redis_server.url
