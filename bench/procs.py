"""The processes of a benchmark run: uvicorn apps, the wrk load generator, py-spy.

Every figure comes from real processes: `bank-server db` (started with
`server.db.EmbeddedDatabase`), the bank API and the bare FastAPI app under the same uvicorn
command, and wrk (a C load generator, not the app) or a separate Python process as the
client side.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.launcher import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
ADMIN_PASSWORD = "admin-pass-123"
# The bench measures the money path, not the abuse limits: raise them out of the way.
BENCH_ENV = {
    "MOVEMENT_RATE_PER_MINUTE": "100000000",
    "LOGIN_MAX_FAILURES": "1000000",
    "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP": "100000000",
    "LOGIN_ATTEMPTS_PER_MINUTE_PER_USER": "100000000",
    "SIGNUP_RATE_PER_HOUR": "100000000",
    "OPEN_RATE_PER_HOUR": "100000000",
    "OPEN_RATE_PER_HOUR_PER_IP": "100000000",
}


def cpu_seconds(pid: int, *, system_only: bool = False) -> float:
    """Return the CPU time (user + system, or system) a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[12]) if system_only else int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU milliseconds per operation of some processes over a block.

    CPU time, unlike wall time, hardly depends on what else the machine runs, so these
    figures stay comparable between a quiet and a busy run.
    """

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._start = {name: self._read(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {}
        for name, pid in self.pids.items():
            (total, system), (total0, system0) = self._read(pid), self._start[name]
            self.used[name], self.used[f"{name}_sys"] = total - total0, system - system0

    @staticmethod
    def _read(pid: int) -> tuple[float, float]:
        return cpu_seconds(pid), cpu_seconds(pid, system_only=True)

    def per_op(self, operations: int) -> dict[str, float]:
        """Return CPU ms per operation of each process (`_sys`: of it, in the kernel)."""
        return {f"{name}_cpu_ms": round(1000 * used / max(operations, 1), 3)
                for name, used in self.used.items()}  # fmt: skip


@dataclass
class AppProcess:
    """`python -m MODULE ARGS --port N` on a free loopback port, healthy when `health` says 200.

    The bank API runs as `bank-server serve` (`server.cli serve`, with MONGODB_URL set so it
    uses the bench's database) and the bare app as `bench.bare_app`, which calls
    `uvicorn.run` with the same arguments `bank-server serve` passes: one worker, uvloop and
    httptools, no uvicorn access log.
    """

    module: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    health: str = "/health"
    log_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Return the process id."""
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> AppProcess:
        """Start the app and wait until it is healthy."""
        self.port = self.port or free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{self.module}-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args, "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early; see {log.name}")
            with suppress(httpx.HTTPError):
                if httpx.get(self.url + self.health, timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.module} did not become healthy; see {log.name}")

    def stop(self) -> None:
        """Stop the app (SIGTERM, then SIGKILL)."""
        process, self.process = self.process, None
        stop_process(process, grace=15)


def bank_app(mongodb_url: str, database: str, data_dir: Path) -> AppProcess:
    """Return (not started) the bank API on a database of the embedded server."""
    env = {
        "BANK_ENV": "development",
        "MONGODB_URL": mongodb_url,
        "DATABASE_NAME": database,
        "SECRET_KEY": TEST_SECRET,
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "BANK_DATA_DIR": str(data_dir),
        **BENCH_ENV,
    }
    args = ["serve", "--host", "127.0.0.1", "--data-dir", str(data_dir)]
    return AppProcess("server.cli", args, env=env, log_dir=data_dir)


def bare_app(log_dir: Path) -> AppProcess:
    """Return (not started) the bare FastAPI app of bench/bare_app.py."""
    return AppProcess("bench.bare_app", health="/const", log_dir=log_dir)


# ------------------------------------------------------------------------------ wrk

_WRK_DONE = r"""
threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"timeouts":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def deposit_script(token: str, accounts: list[int], run_id: str) -> str:
    """Return a wrk script: POST a deposit with a unique Idempotency-Key, round-robin accounts.

    Each wrk thread has its own Lua state; its `tid` (set in `setup`) keeps the keys of the
    threads apart.
    """
    ids = ",".join(str(a) for a in accounts)
    return (
        _WRK_DONE
        + f"""
local accounts = {{{ids}}}
local counter = 0
local body = '{{"amount":"1.00","description":"bench"}}'
function request()
  counter = counter + 1
  local account = accounts[(counter + tid) % #accounts + 1]
  return wrk.format("POST", "/accounts/" .. account .. "/deposit", {{
    ["Authorization"] = "Bearer {token}",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "{run_id}-" .. tid .. "-" .. counter,
  }}, body)
end
"""
    )


def get_script(token: str | None) -> str:
    """Return a wrk script for plain GETs of the URL (with a bearer token when given)."""
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    return _WRK_DONE + auth


def wrk_path() -> str:
    """Return the wrk binary (installed by `make bench`)."""
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (make bench does it)")
    return path


def run_wrk(
    url: str, script: str, *, threads: int, connections: int, seconds: float
) -> dict[str, Any]:
    """Run wrk against a URL with a Lua script; return its summary (latencies in ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        result = subprocess.run(
            [wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
             "--timeout", "60s", "-s", path, url],
            capture_output=True, text=True, check=True, timeout=seconds + 120,
        )  # fmt: skip
    finally:
        os.unlink(path)
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    failed = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    ok = raw["requests"] - raw["status_errors"] - raw["timeouts"]
    return {
        "requests": raw["requests"],
        "ok": ok,
        "errors": failed + raw["status_errors"],
        "seconds": round(seconds_run, 2),
        "per_s": round(ok / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "threads": threads,
        "connections": connections,
    }


# ------------------------------------------------------------------------------ py-spy


class Profiler:
    """py-spy sampling a running process into a flame graph and a speedscope file."""

    def __init__(self, pid: int, out: Path, *, rate: int = 200) -> None:
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            raise RuntimeError("py-spy is not installed: pip install py-spy")
        self.command = [spy, "record", "--pid", str(pid), "--rate", str(rate),
                        "--format", "raw", "--output", str(out), "--nonblocking"]  # fmt: skip

    def __enter__(self) -> Profiler:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)  # let py-spy attach before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(2)  # SIGINT: py-spy writes the profile and exits
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# Innermost frames of a thread that waits: the event loop's poll (uvloop's run loop is C, so
# its waiting shows as Runner.run), an idle worker thread, a lock or condition wait.
_IDLE_LEAVES = ("select (", "Runner.run (", "_worker (thread.py:89",
                "Condition.wait (", "wait (threading.py", "Event.wait (", "sleep (")  # fmt: skip


def _short(frame: str) -> str:
    """Return `function (file.py:line)` of a py-spy frame `function (path/file.py:line)`."""
    if " (" not in frame:
        return frame
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1]}"


def _is_idle(stack: str) -> bool:
    leaf = _short(stack.rsplit(";", 1)[-1])
    return any(marker in leaf for marker in _IDLE_LEAVES)


def top_frames(raw_profile: Path, *, limit: int = 12, own: bool = False) -> list[tuple[str, float]]:
    """Return the functions with the largest share of busy samples in a py-spy raw profile.

    Samples of waiting threads (see `_IDLE_LEAVES`) are left out, so shares are of CPU work.

    `own=False` counts a function in every sample it is on the stack of (inclusive time);
    `own=True` counts only samples where it is the innermost frame.
    """
    totals: dict[str, int] = {}
    samples = 0
    for line in raw_profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or _is_idle(stack):
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        names = [frames[-1]] if own else list(dict.fromkeys(frames))
        for name in names:
            short = _short(name)
            totals[short] = totals.get(short, 0) + count
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    return [(name, round(100 * count / max(samples, 1), 1)) for name, count in ranked]


# ------------------------------------------------------------------------------ staff


def claims(token: str) -> dict[str, Any]:
    """Return a JWT's payload (not verified: the bench signed in to get it)."""
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def make_staff(
    http: httpx.Client, mongodb_url: str, database: str, username: str, password: str, role: str
) -> int:
    """Create a staff member as `bank-server create-user --role` does on the host.

    Through the API a role needs a checker's approval, and a new bank has no checker yet:
    the user signs up through the API and the role is set in the database (as the tests'
    `make_first_checker` does). `http` is signed in as the admin.
    """
    from pymongo import MongoClient

    answer = http.post("/users", json={"username": username, "password": password,
                                       "full_name": f"Bench {role.title()}",
                                       "email": f"{username}@example.com"})  # fmt: skip
    answer.raise_for_status()
    user_id = int(answer.json()["id"])
    with MongoClient(mongodb_url) as mongo:
        mongo[database].users.update_one(
            {"_id": user_id}, {"$set": {"role": role, "password_fit_for_staff": True}}
        )
    return user_id


def approved(answer: httpx.Response, checker: httpx.Client) -> dict[str, Any]:
    """Return the answer's body; a 202 (maker-checker) is approved by `checker` first."""
    if answer.status_code == 202:
        approval = answer.json()["approval"]["id"]
        decided = checker.post(f"/approvals/{approval}/approve", json={})
        decided.raise_for_status()
        if decided.json()["status"] != "executed":
            raise RuntimeError(f"approval {approval}: {decided.json()['status']}")
        return dict(decided.json())
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"{answer.request.method} {answer.request.url.path}: "
                           f"{answer.status_code} {answer.text[:300]}")  # fmt: skip
    return dict(answer.json())


@dataclass
class Branch:
    """The tokens a bench signs in with, once the branch can take deposits."""

    admin: str
    teller: str
    supervisor: str
    past_till: int  # a till with no session: the seeded past's cash went through it


def ready_branch(
    base_url: str,
    mongodb_url: str,
    database: str,
    *,
    teller: tuple[str, str],
    supervisor: tuple[str, str],
    currency: str,
) -> Branch:
    """Make a new bank take deposits at a teller's window, as a branch opens its first day.

    A teller and a supervisor (make_staff), cash into the vault (the supervisor approves),
    the deposit and withdrawal thresholds out of reach (no bench deposit waits for a
    checker), a stocked till with the teller's open session, and a second till.
    """

    def login(http: httpx.Client, username: str, password: str) -> str:
        answer = http.post("/login", data={"username": username, "password": password})
        answer.raise_for_status()
        token = str(answer.json()["access_token"])
        http.headers["Authorization"] = f"Bearer {token}"
        return token

    with (
        httpx.Client(base_url=base_url, timeout=120) as admin,
        httpx.Client(base_url=base_url, timeout=120) as checker,
        httpx.Client(base_url=base_url, timeout=120) as cashier,
    ):
        admin_token = login(admin, "admin", ADMIN_PASSWORD)
        make_staff(admin, mongodb_url, database, *teller, "teller")
        make_staff(admin, mongodb_url, database, *supervisor, "supervisor")
        supervisor_token = login(checker, *supervisor)
        teller_token = login(cashier, *teller)
        approved(admin.post("/vault/cash", json={
            "direction": "in", "currency": currency, "amount": "5000000.00",
            "reference": "bench stock"}), checker)  # fmt: skip
        policies = approved(admin.get("/approval-policies", params={"limit": 200}), checker)
        for policy in policies["items"]:
            if policy["action"] in ("deposit", "withdrawal"):
                approved(admin.put(f"/approval-policies/{policy['action']}", json={
                    "threshold": dict.fromkeys(policy["threshold"], "1000000000.00"),
                    "version": policy["version"]}), checker)  # fmt: skip
        till = approved(admin.post("/tills", json={"name": "Counter 1"}), checker)
        approved(admin.post(f"/tills/{till['id']}/cash", json={
            "direction": "to_till", "currency": currency, "amount": "500000.00"}),
            checker)  # fmt: skip
        approved(cashier.post(f"/tills/{till['id']}/sessions", json={}), checker)
        past = approved(admin.post("/tills", json={"name": "Counter 0"}), checker)
    return Branch(admin_token, teller_token, supervisor_token, int(past["id"]))
