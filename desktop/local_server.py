"""Start the bundled server (`bank-server serve`) as a child process on a free port.

The bundled bank lives in one data dir: the server's (its embedded database and key, as
`bank-server serve --data-dir` keeps them), the server's log, and `desktop.json`, where the
desktop remembers the bank's name to pass it as BANK_NAME on every start.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx
import platformdirs

from shared.launcher import free_port, server_command, stop_process

APP_DATA_NAME = "bank-system"  # the server's own default data dir has this name too
DEMO_DATA_NAME = "bank-system-demo"
BANK_FILE = "desktop.json"
LOG_FILE = "server.log"
LOG_ROTATE_BYTES = 5_000_000
# What a setting in the desktop's environment must not turn the bundled bank into: another
# bank's database, a demo with well-known passwords.
_NOT_INHERITED = ("MONGODB_URL", "BANK_DEMO")


def default_data_dir(*, demo: bool = False) -> Path:
    """Return where the bundled bank (or the bundled demo bank) keeps its data."""
    return Path(platformdirs.user_data_dir(DEMO_DATA_NAME if demo else APP_DATA_NAME))


def is_initialised(data_dir: Path) -> bool:
    """Tell whether a bank was set up in this data dir (its database file exists)."""
    return (data_dir / "db" / "bank.sqlite").exists()


def read_bank_name(data_dir: Path) -> str | None:
    """Return the bank's name the desktop remembered for this data dir, if any."""
    try:
        data = json.loads((data_dir / BANK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("bank_name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def write_bank_name(data_dir: Path, name: str) -> None:
    """Remember the bank's name for later starts (written whole, then renamed)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = data_dir / f"{BANK_FILE}.part"
    partial.write_text(json.dumps({"bank_name": name}, ensure_ascii=False), encoding="utf-8")
    partial.replace(data_dir / BANK_FILE)


def summary_line(line: str) -> str:
    """Return what a server output line says: a JSON log line's message, else the line."""
    text = line.strip()
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            return text
        if isinstance(record, dict) and "message" in record:
            return str(record["message"])
    return text


class LocalServerError(RuntimeError):
    """The bundled server did not start; the message ends with the server's own last line."""


class LocalServer:
    """The bundled server with its embedded database, owned by this desktop process."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        demo: bool = False,
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.demo = demo
        self.log_file = log_file  # the server's output is appended here too (else kept in memory)
        self.env = dict(env or {})  # BANK_NAME; ADMIN_USERNAME, ADMIN_PASSWORD on a first start
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=200)
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def last_line(self) -> str:
        """Return the server's last word: its last one-line error, else its last output line."""
        lines = [summary_line(line) for line in list(self._tail)]
        lines = [line for line in lines if line]
        own = [line for line in lines if line.startswith("bank-server")]
        return (own or lines or [""])[-1][:300]

    def start(self, timeout: float = 90.0) -> str:
        """Start `bank-server serve` and wait until /health answers; return its URL."""
        self.port = free_port()
        command = server_command("serve", "--port", str(self.port))
        if self.demo:
            command.append("--demo")
        if self.data_dir is not None:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            command += ["--data-dir", str(self.data_dir)]
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env.update(self.env, PYTHONUNBUFFERED="1")
        log = self._open_log()
        self._tail.clear()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._reader = threading.Thread(
            target=self._read_output, args=(self.process, log), daemon=True, name="bundled-server"
        )
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(2)  # the last lines it printed
                raise LocalServerError(self._reason("the bundled server stopped while starting"))
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LocalServerError(self._reason("the bundled server did not become healthy in time"))

    def _reason(self, what: str) -> str:
        last = self.last_line()
        return f"{what}: {last}" if last else what

    def _open_log(self) -> IO[bytes] | None:
        if self.log_file is None:
            return None
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.log_file.stat().st_size > LOG_ROTATE_BYTES:
                self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))
        except FileNotFoundError:
            pass
        return self.log_file.open("ab")

    def _read_output(self, process: subprocess.Popen[bytes], log: IO[bytes] | None) -> None:
        """Keep the server's recent lines (and append them to the log) until it exits."""
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                self._tail.append(raw.decode("utf-8", "replace"))
                if log is not None:
                    log.write(raw)
                    log.flush()
        finally:
            if log is not None:
                log.close()

    def stop(self) -> None:
        """Stop the server (it stops its embedded database)."""
        process, self.process = self.process, None
        stop_process(process, grace=20)
