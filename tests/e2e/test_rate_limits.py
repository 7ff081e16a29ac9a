"""Abuse limits with their real values: sign-in attempts per IP and username, lockouts per
(username, IP), per IP and per username with remembered devices, password changes counted
as sign-ins, the money movement rate, client IPs through trusted proxies, and state shared
through a real Redis by two server processes (and not shared without Redis, the default).

Clients pick the IP they are counted under by speaking through 127.0.0.2, the one trusted
proxy (`TRUSTED_PROXIES`), with `X-Forwarded-For`; 127.0.0.1 is an untrusted peer whose
header is ignored. No test fails a login from 127.0.0.1 on a server other tests sign in to.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

from server.config import Settings
from tests.redis_support import RedisProcess, redis_server_fixture, redis_url_fixture  # noqa: F401
from tests.support import Api, ServerProcess, expect, free_port, open_till_session, real_limits

PROXY = "127.0.0.2"
DEFAULTS = Settings.model_fields
MAX_FAILURES = DEFAULTS["login_max_failures"].default
IP_MAX_FAILURES = DEFAULTS["login_max_failures_per_ip"].default
WINDOW_SECONDS = DEFAULTS["login_window_seconds"].default
ATTEMPTS_PER_IP = DEFAULTS["login_attempts_per_minute_per_ip"].default
ATTEMPTS_PER_USER = DEFAULTS["login_attempts_per_minute_per_user"].default
DELAY = DEFAULTS["login_delay_seconds"].default
DEVICE = "X-Device-Token"
SIGNUPS_PER_HOUR = DEFAULTS["signup_rate_per_hour"].default
OPENINGS_PER_HOUR = DEFAULTS["open_rate_per_hour"].default
MOVEMENTS_PER_MINUTE = 5
# Every limit at its real value, except attempts per minute (the fixtures sign in from
# 127.0.0.1 over and over): those are tested on a twin server of their own (`strict`).
SERVER_ENV = real_limits(
    MOVEMENT_RATE_PER_MINUTE=str(MOVEMENTS_PER_MINUTE), TRUSTED_PROXIES=f"{PROXY}/32",
    LOGIN_ATTEMPTS_PER_MINUTE_PER_IP="1000000", LOGIN_ATTEMPTS_PER_MINUTE_PER_USER="1000000",
)  # fmt: skip
REAL_ATTEMPTS = {
    "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP": str(ATTEMPTS_PER_IP),
    "LOGIN_ATTEMPTS_PER_MINUTE_PER_USER": str(ATTEMPTS_PER_USER),
}
MakeUser = Callable[..., tuple[dict[str, Any], Api]]


class Clients:
    """Sign-in attempts to one server, from a chosen client IP (via the trusted proxy) or not."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.proxied = httpx.Client(
            base_url=url, timeout=30, transport=httpx.HTTPTransport(local_address=PROXY)
        )
        self.direct = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        """Close both connection pools."""
        self.proxied.close()
        self.direct.close()

    def login(
        self,
        username: str,
        password: str,
        *,
        ip: str | None,
        rid: str | None = None,
        device: str | None = None,
    ) -> httpx.Response:
        """POST /login as client `ip` through the proxy, or straight from 127.0.0.1 (None);
        with `device`, as a remembered device (its X-Device-Token)."""
        headers = {"X-Request-ID": rid} if rid else {}
        if device:
            headers[DEVICE] = device
        if ip is None:
            return self.direct.post("/login", data={"username": username, "password": password},
                                    headers=headers)  # fmt: skip
        headers["X-Forwarded-For"] = f"203.0.113.250, {ip}"  # the left entry is the client's say
        return self.proxied.post(
            "/login", data={"username": username, "password": password}, headers=headers
        )


def password_of(user: dict[str, Any]) -> str:
    """Return the password conftest's make_user gave a user."""
    return f"pw-{user['username']}-secret"


def login_events(mongo: Any, user_id: int) -> list[dict[str, Any]]:
    """Return the `login.failed` events of a user."""
    found = mongo.audit_events.find({"action": "login.failed", "target_id": user_id})
    return list(found.sort("_id", 1))


def expect_limited(response: httpx.Response, window: int = WINDOW_SECONDS) -> int:
    """Assert a 429 `rate_limited` with a sane Retry-After and return it."""
    expect(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window, retry_after
    assert response.json()["context"] == {"retry_after": retry_after}
    return retry_after


def audit_of(mongo: Any, rid: str) -> list[dict[str, Any]]:
    """Return the audit events a request wrote."""
    return list(mongo.audit_events.find({"request_id": rid}).sort("_id", 1))


def claims_of(token: str) -> dict[str, Any]:
    """Return a JWT's claims (read without checking the signature)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def expect_device(response: httpx.Response) -> str:
    """Assert a successful sign-in and return the device token it answered with."""
    expect(response, 200)
    token = response.headers[DEVICE]
    assert claims_of(token)["type"] == "device"
    return token


def sid_of(token: str) -> str:
    """Return the login session id a JWT carries (read without checking the signature)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


def start_all(*servers: ServerProcess) -> None:
    """Start servers side by side; stop them all if one fails."""
    with ThreadPoolExecutor(len(servers)) as pool:
        futures = [pool.submit(server.start) for server in servers]
        errors = [future.exception() for future in futures]
    if any(errors):
        for server in servers:
            server.stop()
        raise next(error for error in errors if error is not None)


def twin(server: ServerProcess, tmp: Any, **env: str) -> ServerProcess:
    """Return (unstarted) another server process on the same database, with extra settings."""
    return ServerProcess(mongodb_url=server.mongodb_url, database_name=server.database_name,
                         data_dir=tmp, env={**SERVER_ENV, **env})  # fmt: skip


@pytest.fixture(scope="module")
def clients(server: ServerProcess) -> Iterator[Clients]:
    """Sign-in clients of the module's server (memory counters)."""
    made = Clients(server.url)
    yield made
    made.close()


@pytest.fixture(scope="module")
def strict(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    """Sign-in clients of a twin server with attempts per minute at their real values."""
    process = twin(server, tmp_path_factory.mktemp("strict"), **REAL_ATTEMPTS)
    start_all(process)
    made = Clients(process.url)
    yield made
    made.close()
    process.stop()


@pytest.fixture(scope="module")
def cluster(
    server: ServerProcess,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, ServerProcess, ServerProcess]]:
    """Two servers sharing REDIS_URL, and one without Redis, all on the module's database."""
    shared_a = twin(server, tmp_path_factory.mktemp("redis-a"), REDIS_URL=redis_url)
    shared_b = twin(server, tmp_path_factory.mktemp("redis-b"), REDIS_URL=redis_url)
    alone = twin(server, tmp_path_factory.mktemp("memory"))
    start_all(shared_a, shared_b, alone)
    try:
        yield shared_a, shared_b, alone
    finally:
        for process in (shared_a, shared_b, alone):
            process.stop()


# --- login lockout --------------------------------------------------------------------------


def test_username_lockout_holds_with_the_right_password_until_unlocked(
    clients: Clients, make_user: MakeUser, admin: Api, mongo: Any
) -> None:
    user, _ = make_user("user")
    name, right = user["username"], password_of(user)
    rids = [f"limits-{uuid.uuid4().hex}" for _ in range(MAX_FAILURES)]
    for n, rid in enumerate(rids):  # one failure from each of several IPs
        response = clients.login(name, "wrong-password", ip=f"10.1.0.{n}", rid=rid)
        expect(response, 401, "invalid_credentials")
    # The lockout's start is audited once, by the failure that started it.
    [event] = login_events(mongo, user["id"])
    assert event["request_id"] == rids[-1]
    assert (event["action"], event["outcome"], event["code"]) == (
        "login.failed", "refused", "rate_limited"
    )  # fmt: skip
    assert event["details"]["locks"] == ["username"]
    assert (event["target_id"], event["ip"]) == (user["id"], f"10.1.0.{MAX_FAILURES - 1}")
    # An unknown client is refused even the right password, and the refusals write nothing.
    expect_limited(clients.login(name, right, ip="10.1.1.1"))
    expect_limited(clients.login(name.upper(), right, ip="10.1.1.2"))  # names fold
    assert len(login_events(mongo, user["id"])) == 1

    # Others are untouched, also from the IPs above: refused attempts are not failures.
    other, _ = make_user("user")
    expect(clients.login(other["username"], password_of(other), ip="10.1.1.1"), 200)

    expect(admin.post(f"/users/{user['id']}/unlock"), 204)
    expect(clients.login(name, right, ip="10.1.1.3"), 200)


def test_ip_lockout_counts_failures_for_any_username(clients: Clients, make_user: MakeUser) -> None:
    user, _ = make_user("user")
    names = [user["username"], "Nobody-Here", *(f"ghost{n}.user" for n in range(IP_MAX_FAILURES))]
    for n in range(IP_MAX_FAILURES):
        response = clients.login(names[n], "wrong-password", ip="10.2.0.1")
        expect(response, 401, "invalid_credentials")
    expect_limited(clients.login(user["username"], password_of(user), ip="10.2.0.1"))
    expect_limited(clients.login("never-seen", "whatever-pass", ip="10.2.0.1"))
    # The user is not locked, only that IP is.
    expect(clients.login(user["username"], password_of(user), ip="10.2.0.2"), 200)


def test_failures_count_per_username_and_ip(clients: Clients, make_user: MakeUser) -> None:
    # One IP guessing one name is stopped there even when the owner's sign-ins from
    # elsewhere keep the username's own count low.
    user, _ = make_user("user")
    name, right = user["username"], password_of(user)
    for n in range(MAX_FAILURES - 1):
        expect(clients.login(name, "wrong-password", ip="10.7.0.1"), 401)
    expect(clients.login(name, right, ip="10.7.0.2"), 200)  # forgets the username's count
    expect(clients.login(name, "wrong-password", ip="10.7.0.1"), 401)  # the pair's 5th
    expect_limited(clients.login(name, right, ip="10.7.0.1"))
    expect(clients.login(name, right, ip="10.7.0.3"), 200)


def test_a_remembered_device_is_slowed_down_not_locked_out(
    clients: Clients, make_user: MakeUser, admin: Api
) -> None:
    # Issue 11: five wrong passwords from anywhere locked a named user out, again and again.
    user, _ = make_user("teller")
    name, right = user["username"], password_of(user)
    first = expect_device(clients.login(name, right, ip="10.8.0.1"))
    for n in range(MAX_FAILURES):
        expect(clients.login(name, "wrong-password", ip=f"10.8.1.{n}"), 401)
    expect_limited(clients.login(name, right, ip="10.8.2.1"))  # unknown client: refused
    started = time.monotonic()
    again = expect_device(clients.login(name, right, ip="10.8.0.9", device=first))
    assert time.monotonic() - started >= DELAY  # slowed down, from any address
    # The same device id comes back in a new token.
    assert claims_of(again)["sid"] == claims_of(first)["sid"]
    # The delay doubles with the device's own failures.
    started = time.monotonic()
    expect(clients.login(name, "wrong-password", ip="10.8.0.1", device=again), 401)
    expect(clients.login(name, "wrong-password", ip="10.8.0.1", device=again), 401)
    assert time.monotonic() - started >= DELAY + 2 * DELAY
    # The username stays locked for unknown clients after the owner got in.
    expect_limited(clients.login(name, right, ip="10.8.2.2"))
    expect(admin.post(f"/users/{user['id']}/unlock"), 204)
    expect(clients.login(name, right, ip="10.8.2.2"), 200)


def test_a_device_token_speaks_for_its_own_user_only(clients: Clients, make_user: MakeUser) -> None:
    owner, _ = make_user("user")
    victim, _ = make_user("user")
    token = expect_device(clients.login(owner["username"], password_of(owner), ip="10.9.0.1"))
    for n in range(MAX_FAILURES):
        expect(clients.login(victim["username"], "wrong-password", ip=f"10.9.1.{n}"), 401)
    response = clients.login(victim["username"], password_of(victim), ip="10.9.0.1", device=token)
    expect_limited(response)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    expect_limited(clients.login(victim["username"], password_of(victim), ip="10.9.0.2",
                                 device=forged))  # fmt: skip


def test_attempts_are_limited_per_username_not_only_failures(
    strict: Clients, make_user: MakeUser
) -> None:
    user, _ = make_user("user")
    name, right = user["username"], password_of(user)
    device = None
    for n in range(ATTEMPTS_PER_USER):  # successes: each is an attempt all the same
        device = expect_device(strict.login(name, right, ip=f"10.10.0.{n}"))
    expect_limited(strict.login(name, right, ip="10.10.1.1"), window=60)
    # A remembered device counts its own attempts.
    expect(strict.login(name, right, ip="10.10.1.1", device=device), 200)


def test_attempts_are_limited_per_ip_not_only_failures(strict: Clients) -> None:
    for n in range(ATTEMPTS_PER_IP):
        response = strict.login(f"nobody{n}", "wrong-password", ip="10.11.0.1")
        assert response.status_code in (401, 429), response.text  # failures lock the IP first
    # The attempt after the last allowed one is refused by the attempt count: a minute's wait.
    expect_limited(strict.login("nobody-else", "wrong-password", ip="10.11.0.1"), window=60)


def test_a_wrong_current_password_is_a_failed_sign_in(
    clients: Clients, make_user: MakeUser, admin: Api, mongo: Any
) -> None:
    # Issue 11: a stolen token allowed unlimited guesses at current_password.
    user, api = make_user("user")
    path, right = f"/users/{user['id']}", password_of(user)
    for _ in range(MAX_FAILURES):
        change = {"password": "a-new-password-1", "current_password": "a-guess-123"}
        expect(api.put(path, json=change), 403, "forbidden")
    [event] = login_events(mongo, user["id"])  # the lockout's start, once
    assert event["details"]["locks"] == ["origin", "username"]
    change = {"password": "a-new-password-1", "current_password": right}
    expect_limited(api.put(path, json=change))  # even the right one, while locked
    expect_limited(clients.login(user["username"], right, ip="10.12.0.1"))  # locked the same way
    expect(admin.post(f"/users/{user['id']}/unlock"), 204)
    expect(api.put(path, json=change), 200)
    expect(clients.login(user["username"], "a-new-password-1", ip="10.12.0.1"), 200)


def test_a_success_forgets_the_usernames_failures(clients: Clients, make_user: MakeUser) -> None:
    user, _ = make_user("user")
    name, right = user["username"], password_of(user)
    for round_ in range(2):
        for n in range(MAX_FAILURES - 1):
            ip = f"10.3.{round_}.{n}"
            expect(clients.login(name, "wrong-password", ip=ip), 401, "invalid_credentials")
        expect(clients.login(name, right, ip=f"10.3.{round_}.99"), 200)


# --- sign-ups and openings -----------------------------------------------------------------


def sign_up(clients: Clients, ip: str) -> httpx.Response:
    """Sign up anonymously as client `ip` (through the trusted proxy)."""
    name = f"signup{uuid.uuid4().hex[:10]}"
    body = {"username": name, "password": "a-good-password", "full_name": "Sign Up",
            "email": f"{name}@example.com"}  # fmt: skip
    headers = {"X-Forwarded-For": ip}
    return clients.proxied.post("/users", json=body, headers=headers)


def test_anonymous_sign_ups_are_limited_per_ip(clients: Clients) -> None:
    for _ in range(SIGNUPS_PER_HOUR):
        expect(sign_up(clients, "10.13.0.1"), 201)
    expect_limited(sign_up(clients, "10.13.0.1"), window=3600)
    expect(sign_up(clients, "10.13.0.2"), 201)


def test_users_and_accounts_created_are_limited_per_user(make_user: MakeUser, admin: Api) -> None:
    customer, _ = make_user("user")
    _, busy = make_user("teller")
    _, calm = make_user("teller")
    body = {"account_type": "savings", "owner_id": customer["id"]}
    for _ in range(OPENINGS_PER_HOUR):
        expect(busy.post("/accounts", json=body), 201)
    expect_limited(busy.post("/accounts", json=body), window=3600)
    new_user = {"username": f"by{uuid.uuid4().hex[:10]}", "password": "a-good-password",
                "full_name": "By Teller", "email": "by-teller@example.com"}  # fmt: skip
    expect_limited(busy.post("/users", json=new_user), window=3600)  # one allowance for both
    expect(calm.post("/accounts", json=body), 201)


# --- money movement rate ------------------------------------------------------------------


def test_movements_are_limited_per_user(
    make_user: MakeUser, admin: Api, open_account: Callable[..., dict[str, Any]]
) -> None:
    owner, _ = make_user("user")
    source = open_account(owner["id"])
    target = open_account(owner["id"])
    _, busy = make_user("teller")
    _, calm = make_user("teller")
    _, manager = make_user("supervisor")  # stocks the tills: the admin's allowance is spent
    for staff in (busy, calm):
        open_till_session(manager, staff)  # staff cash goes through a till
    moves = [
        (f"/accounts/{source['id']}/deposit", {"amount": "100.00"}),
        (f"/accounts/{source['id']}/withdraw", {"amount": "10.00"}),
        ("/transfers", {"from_account_id": source["id"], "to_account_id": target["id"],
                        "amount": "5.00"}),
    ]  # fmt: skip
    # Opening a session (it may post a counted difference) was one of busy's allowance.
    for n in range(MOVEMENTS_PER_MINUTE - 1):
        path, body = moves[n % len(moves)]
        expect(busy.post(path, json=body), 201)
    before = expect(admin.get(f"/accounts/{source['id']}"), 200)
    entries = expect(admin.get(f"/accounts/{source['id']}/transactions"), 200)["total"]
    for path, body in moves:
        expect_limited(
            busy.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}), 60
        )
    # A refused request changed nothing; another user is not slowed down.
    assert expect(admin.get(f"/accounts/{source['id']}"), 200)["balance"] == before["balance"]
    assert expect(admin.get(f"/accounts/{source['id']}/transactions"), 200)["total"] == entries
    deposit = f"/accounts/{source['id']}/deposit"
    expect(calm.post(deposit, json={"amount": "1.00"}), 201)
    after = expect(admin.get(f"/accounts/{source['id']}"), 200)["balance"]
    assert Decimal(after) == Decimal(before["balance"]) + 1


def test_openapi_declares_the_429s(anon: Api) -> None:
    paths = expect(anon.get("/openapi.json"), 200)["paths"]
    for path in ("/login", "/accounts/{account_id}/deposit", "/accounts/{account_id}/withdraw",
                 "/transfers"):  # fmt: skip
        assert "429" in paths[path]["post"]["responses"], path


# --- client IPs --------------------------------------------------------------------------------


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    clients: Clients, make_user: MakeUser, mongo: Any
) -> None:
    user, _ = make_user("user")
    through_proxy, spoofed = f"limits-{uuid.uuid4().hex}", f"limits-{uuid.uuid4().hex}"
    expect(clients.login(user["username"], password_of(user), ip="198.51.100.23",
                         rid=through_proxy), 200)  # fmt: skip
    response = clients.direct.post(
        "/login", data={"username": user["username"], "password": password_of(user)},
        headers={"X-Forwarded-For": "198.51.100.99", "X-Request-ID": spoofed},
    )  # fmt: skip
    expect(response, 200)
    assert [e["ip"] for e in audit_of(mongo, through_proxy)] == ["198.51.100.23"]
    assert [e["ip"] for e in audit_of(mongo, spoofed)] == ["127.0.0.1"]


# --- shared through Redis, or not -------------------------------------------------------------


def test_two_processes_share_the_login_limit_through_redis(
    cluster: tuple[ServerProcess, ServerProcess, ServerProcess],
    make_user: MakeUser,
    redis_server: RedisProcess,
) -> None:
    shared_a, shared_b = Clients(cluster[0].url), Clients(cluster[1].url)
    try:
        user, _ = make_user("user")
        name, right = user["username"], password_of(user)
        for n in range(MAX_FAILURES):
            either = shared_a if n % 2 else shared_b
            expect(either.login(name, "wrong-password", ip=f"10.4.0.{n}"), 401)
        expect_limited(shared_a.login(name, right, ip="10.4.1.1"))
        expect_limited(shared_b.login(name, right, ip="10.4.1.2"))
        redis = redis_server.client()
        try:
            assert redis.keys(f"bank:*:limits:*login-user/{name}/*")
        finally:
            redis.close()
    finally:
        shared_a.close()
        shared_b.close()


def test_without_redis_each_process_counts_alone(
    server: ServerProcess,
    cluster: tuple[ServerProcess, ServerProcess, ServerProcess],
    make_user: MakeUser,
) -> None:
    here, there = Clients(server.url), Clients(cluster[2].url)
    try:
        user, _ = make_user("user")
        name, right = user["username"], password_of(user)
        for n in range(MAX_FAILURES):
            expect(here.login(name, "wrong-password", ip=f"10.5.0.{n}"), 401)
        expect_limited(here.login(name, right, ip="10.5.1.1"))
        expect(there.login(name, right, ip="10.5.1.1"), 200)  # the default: memory, per process
    finally:
        here.close()
        there.close()


def test_a_logout_on_one_process_ends_the_session_on_the_other_at_once(
    cluster: tuple[ServerProcess, ServerProcess, ServerProcess],
    make_user: MakeUser,
    redis_server: RedisProcess,
) -> None:
    user, _ = make_user("user")
    a, b = Api(cluster[0].url), Api(cluster[1].url)
    signed_in = a.login(user["username"], password_of(user))
    on_b = Api(cluster[1].url, signed_in.token)
    redis = redis_server.client()
    try:
        expect(on_b.get("/me"), 200)
        expect(signed_in.post("/logout"), 204)
        expect(on_b.get("/me"), 401, "invalid_token")
        assert redis.ttl(f"bank:{cluster[0].database_name}:revoked:{sid_of(on_b.token or '')}") > 0
        # Process B reads Redis first: a session listed there is refused though the database
        # still has it open.
        other = b.login(user["username"], password_of(user))
        expect(other.get("/me"), 200)
        redis.set(f"bank:{cluster[1].database_name}:revoked:{sid_of(other.token or '')}", 1, ex=60)
        expect(other.get("/me"), 401, "invalid_token")
    finally:
        redis.close()
        for api in (a, b, signed_in, on_b):
            api.close()


def test_spoofed_forwarded_for_does_not_dodge_the_ip_limit(
    cluster: tuple[ServerProcess, ServerProcess, ServerProcess], make_user: MakeUser
) -> None:
    # On the memory-only twin: it locks 127.0.0.1, which no later test of it uses.
    alone = Clients(cluster[2].url)
    try:
        user, _ = make_user("user")
        for n in range(IP_MAX_FAILURES):
            response = alone.direct.post(
                "/login", data={"username": f"nobody{n}", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )  # fmt: skip
            expect(response, 401)
        response = alone.direct.post(
            "/login", data={"username": user["username"], "password": password_of(user)},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )  # fmt: skip
        expect_limited(response)
    finally:
        alone.close()


def test_redis_down_degrades_to_memory_limits_without_errors(
    server: ServerProcess, make_user: MakeUser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    process = twin(server, tmp_path_factory.mktemp("redis-down"), REDIS_URL=dead)
    start_all(process)
    door = Clients(process.url)
    try:
        user, _ = make_user("user")
        name, right = user["username"], password_of(user)
        token = expect(door.login(name, right, ip="10.6.0.1"), 200)["access_token"]
        api = Api(process.url, token)
        expect(api.get("/me"), 200)
        expect(api.post("/logout"), 204)
        expect(api.get("/me"), 401, "invalid_token")  # the database still revokes
        api.close()
        for n in range(MAX_FAILURES):
            expect(door.login(name, "wrong-password", ip=f"10.6.1.{n}"), 401)
        expect_limited(door.login(name, right, ip="10.6.2.1"))  # counted in memory
        assert "Redis does not answer" in process.log()
    finally:
        door.close()
        process.stop()
