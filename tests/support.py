"""Real processes for end-to-end tests: the wire database and uvicorn servers, and an API client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from bson import Decimal128

from shared.launcher import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
ADMIN_PASSWORD = "admin-pass-123"
RAISED_LIMITS = {
    name: "1000000"
    for name in (
        "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_IP", "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP",
        "LOGIN_ATTEMPTS_PER_MINUTE_PER_USER", "MOVEMENT_RATE_PER_MINUTE", "SIGNUP_RATE_PER_HOUR",
        "OPEN_RATE_PER_HOUR", "OPEN_RATE_PER_HOUR_PER_IP", "STATEMENT_RATE_PER_MINUTE",
        "PAYEE_RATE_PER_MINUTE",
    )
}  # fmt: skip


def real_limits(**overrides: str) -> dict[str, str]:
    """Return the limits the default test server raises, at their real (default) values."""
    from server.config import Settings

    real = {name: str(Settings.model_fields[name.lower()].default) for name in RAISED_LIMITS}
    return {**real, **overrides}


# Servers that are running, so a failed test's report can show what they logged.
LIVE_SERVERS: list[ServerProcess] = []

# Passwords and tokens each server was given, by its URL: none may ever reach its log.
ISSUED_SECRETS: dict[str, set[str]] = {}


def remember_secrets(base_url: str, *values: str) -> None:
    """Note passwords or tokens sent to a server, for the check of its log at the end."""
    ISSUED_SECRETS.setdefault(base_url, set()).update(value for value in values if value)


def leaked_secrets(text: str, secrets: set[str]) -> list[str]:
    """Return the secrets that appear in a log (shortened, so a report does not repeat them)."""
    return sorted(f"{secret[:6]}...({len(secret)} chars)" for secret in secrets if secret in text)


@dataclass
class ServerProcess:
    """A real `uvicorn server.main:create_app` process on a free port."""

    mongodb_url: str
    database_name: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server and wait until /health answers 200."""
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "BANK_ENV": "development",
            "MONGODB_URL": self.mongodb_url,
            "DATABASE_NAME": self.database_name,
            "SECRET_KEY": TEST_SECRET,
            "ADMIN_USERNAME": "admin",
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "BANK_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            # Every test client is 127.0.0.1 and some fail logins on purpose: limits that
            # protect production are raised here; the tests of those limits
            # (tests/e2e/test_rate_limits.py, test_abuse.py) set their own.
            **RAISED_LIMITS,
            # The tests scrape /metrics from loopback (off by default; test_deployment.py).
            "METRICS_LOOPBACK": "true",
            **self.env,
        }
        self.log_path = self.data_dir / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "server.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-proxy-headers"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    LIVE_SERVERS.append(self)
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def log(self) -> str:
        """Return what the server printed."""
        return self.full_log()[-5000:]

    def full_log(self) -> str:
        """Return everything the server printed, from its start."""
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        """Stop the server gracefully, then forcefully."""
        process, self.process = self.process, None
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        stop_process(process, grace=15)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


@contextmanager
def running_server(**kwargs: Any) -> Iterator[ServerProcess]:
    """Run a server for the duration of a block."""
    server = ServerProcess(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


class Api:
    """A small typed-enough client for tests: login, and JSON calls with a bearer token."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Return the auth header plus any extras."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request with this client's token."""
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a path."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to a path."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        """PUT to a path."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        """PATCH a path."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE a path."""
        return self.request("DELETE", path, **kwargs)

    def login(self, username: str, password: str) -> Api:
        """Return a new client signed in as a user."""
        return Api(self.base_url, self.tokens(username, password)["access_token"])

    def tokens(self, username: str, password: str) -> dict[str, Any]:
        """Return the full token answer of a login."""
        response = self.client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        remember_secrets(
            self.base_url, password, result["access_token"], result.get("refresh_token", "")
        )
        return result


def expect(response: httpx.Response, status: int, code: str | None = None) -> Any:
    """Assert a status (and error code) and return the JSON body, if any."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    if code is not None:
        assert response.json()["code"] == code, response.text
    if response.content and response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return None


def dec(value: Any) -> Decimal:
    """Return a stored money value as Decimal."""
    return value.to_decimal() if isinstance(value, Decimal128) else Decimal(value)


def iso_ms(moment: datetime) -> str:
    """Format a stored timestamp as the API does."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user_id(api: Api) -> int:
    """Return the id of the user an Api is signed in as."""
    return int(expect(api.get("/me"), 200)["id"])


VAULT_STOCK = {"USD": "5000000.00", "EUR": "5000000.00"}
TILL_STOCK = {"USD": "500000.00", "EUR": "500000.00"}
SUPERVISOR_PASSWORD = "supervisor-pass-123"
NO_THRESHOLD = "9999999999.99"


def approve_as(checker: Api, answer: httpx.Response) -> dict[str, Any]:
    """Approve a request that answered 202 and return the executed approval."""
    body = expect(answer, 202)
    approval = expect(checker.post(f"/approvals/{body['approval']['id']}/approve", json={}), 200)
    assert approval["status"] == "executed", approval
    return dict(approval)


def stock_vault(admin: Api, supervisor: Api, stock: dict[str, str] | None = None) -> None:
    """Bring cash into the vault from the cash centre (admin, approved by a supervisor)."""
    for currency, amount in (stock or VAULT_STOCK).items():
        body = {"direction": "in", "currency": currency, "amount": amount,
                "reference": f"test stock {currency}"}  # fmt: skip
        approve_as(supervisor, admin.post("/vault/cash", json=body))


def policy_of(api: Api, action: str) -> dict[str, Any]:
    """Return one approval policy as it is now."""
    policies = expect(api.get("/approval-policies", params={"limit": 200}), 200)["items"]
    return dict(next(policy for policy in policies if policy["action"] == action))


def set_policy(admin: Api, supervisor: Api, action: str, **changes: Any) -> dict[str, Any]:
    """Change a policy at its current version (a weakening one approved by `supervisor`)."""
    body = {**changes, "version": policy_of(admin, action)["version"]}
    answer = admin.put(f"/approval-policies/{action}", json=body)
    if answer.status_code == 202:
        approve_as(supervisor, answer)
    else:
        expect(answer, 200)
    return policy_of(admin, action)


def lift_thresholds(admin: Api, supervisor: Api) -> None:
    """Raise the deposit/withdrawal/transfer thresholds out of reach, for tests of other rules."""
    for action in ("deposit", "withdrawal", "transfer"):
        currencies = policy_of(admin, action)["threshold"]
        set_policy(admin, supervisor, action, threshold=dict.fromkeys(currencies, NO_THRESHOLD))


# Settings changes that version 1's tests make directly: with these policies off an admin
# changes roles, unfreezes accounts and raises limits at once (API.md "enabled: false").
SETTINGS_POLICIES = ("user.role", "account.unfreeze", "account.limits")


def relax_settings_policies(admin: Api, supervisor: Api) -> None:
    """Turn off approval of role, unfreeze and limit changes, for tests of other rules."""
    for action in SETTINGS_POLICIES:
        if policy_of(admin, action)["enabled"]:
            set_policy(admin, supervisor, action, enabled=False)


def make_first_checker(server: Any, api: Api, username: str, password: str, role: str) -> Api:
    """Sign a customer up and make them staff as `bank-server create-user` would, on the host.

    A new bank's first checker cannot come through the API: giving a role needs approval by
    a checker other than the admin who asks. The command itself is tested in
    tests/e2e/test_cli.py; a process start per test module would cost seconds, so the
    fixture sets the role in the database directly.
    """
    from pymongo import MongoClient

    body = {"username": username, "password": password, "full_name": f"First {role.title()}",
            "email": f"{username}@example.com"}  # fmt: skip
    user = expect(api.post("/users", json=body), 201)
    client: MongoClient[Any] = MongoClient(server.mongodb_url)
    try:
        client[server.database_name].users.update_one({"_id": user["id"]},
                                                      {"$set": {"role": role}})  # fmt: skip
    finally:
        client.close()
    remember_secrets(api.base_url, password)
    return api.login(username, password)


def stocked_till(manager: Api, name: str, stock: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a till and move cash into it from the vault (before any session opens on it)."""
    till = expect(manager.post("/tills", json={"name": name}), 201)
    for currency, amount in (stock or TILL_STOCK).items():
        body = {"direction": "to_till", "currency": currency, "amount": amount}
        expect(manager.post(f"/tills/{till['id']}/cash", json=body), 201)
    return dict(till)


def ready_branch(admin: Api, anon: Api, supervisor: Api) -> None:
    """Once per server (marked on its `anon` client): stock the vault, lift the thresholds,
    relax the settings policies; then give the admin an open session on a till."""
    if getattr(anon, "branch_ready", False) is False:
        stock_vault(admin, supervisor)
        lift_thresholds(admin, supervisor)
        relax_settings_policies(admin, supervisor)
        anon.branch_ready = True  # type: ignore[attr-defined]
    open_till_session(admin, admin)


def open_till_session(manager: Api, staff: Api, name: str | None = None) -> dict[str, Any]:
    """Give a staff member an open session on a new, stocked till (made by a supervisor/admin).

    Staff cash goes through a till (API.md "Cash needs a till"); returns the session.
    """
    current = staff.get("/sessions/current")
    if current.status_code == 200:
        return dict(current.json())
    me = expect(staff.get("/me"), 200)
    till = stocked_till(manager, name or f"Till of {me['username']}")
    return dict(expect(staff.post(f"/tills/{till['id']}/sessions", json={}), 201))
