"""Start the bundled server (`bank-server serve`) as a child process on a free port."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from shared.launcher import free_port, server_command, stop_process


class LocalServer:
    """The bundled server with its embedded database, owned by this desktop process."""

    def __init__(
        self, data_dir: Path | None = None, *, demo: bool = True, log_file: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.demo = demo
        self.log_file = log_file  # the server's output goes here (else nowhere)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> str:
        """Start `bank-server serve` and wait until /health answers; return its URL."""
        self.port = free_port()
        command = server_command("serve", "--port", str(self.port))
        if self.demo:
            command.append("--demo")
        if self.data_dir is not None:
            command += ["--data-dir", str(self.data_dir)]
        env = {k: v for k, v in os.environ.items() if k != "MONGODB_URL"}
        if self.log_file is None:
            output: int | IO[bytes] = subprocess.DEVNULL
        else:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_file.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        finally:
            if not isinstance(output, int):
                output.close()  # the child holds its own copy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the bundled server stopped while starting")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the bundled server did not become healthy in time")

    def stop(self) -> None:
        """Stop the server (it stops its embedded database)."""
        process, self.process = self.process, None
        stop_process(process, grace=20)
