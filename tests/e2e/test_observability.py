"""Logs, metrics, Sentry, security headers and request limits, against real server processes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.observability import JsonFormatter, RequestTimeout, TextFormatter, register_secret
from tests.sentry_sink import Envelope, SentrySink
from tests.support import (
    ADMIN_PASSWORD,
    TEST_SECRET,
    Api,
    ServerProcess,
    expect,
    free_port,
    user_id,
)

SINK_PORT = free_port()
PAGE_CAP = 20
SERVER_ENV = {
    "TRUSTED_PROXIES": "127.0.0.1",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    "MAX_PAGE_SIZE": str(PAGE_CAP),
    "SENTRY_DSN": f"http://public@127.0.0.1:{SINK_PORT}/1",
    "SENTRY_ENVIRONMENT": "e2e",
}
PUBLIC_IP = "203.0.113.7"  # TEST-NET-3: never loopback, never a trusted proxy

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module", autouse=True)
def sentry_sink() -> Iterator[SentrySink]:
    """Sentry's ingest endpoint for this module's server (autouse: it starts first)."""
    sink = SentrySink(SINK_PORT).start()
    yield sink
    sink.stop()


def rid() -> str:
    """Return a fresh request id."""
    return f"obs-{uuid.uuid4().hex}"


def log_records(server: ServerProcess) -> list[dict[str, Any]]:
    """Return the server's JSON log lines, parsed (every line that starts with `{`)."""
    records = []
    for line in server.full_log().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def wait_for_records(
    server: ServerProcess, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Return the log records that match, waiting for the server to write them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in log_records(server) if predicate(record)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def access_line(server: ServerProcess, request_id: str) -> dict[str, Any]:
    """Return the access log line of one request."""
    found = wait_for_records(
        server, lambda r: r.get("logger") == "bank.access" and r.get("request_id") == request_id
    )
    assert len(found) == 1, found
    return found[0]


def samples(api: Api, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape /metrics and return every sample by (name, sorted labels)."""
    response = api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    result = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            result[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return result


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Return the key of one sample in what `samples` returns."""
    return name, tuple(sorted(labels.items()))


def movement(kind: str, outcome: str, code: str = "") -> tuple[str, tuple[tuple[str, str], ...]]:
    """Return the sample key of a money-movement count."""
    return key("bank_money_movements_total", type=kind, outcome=outcome, code=code)


# --- logs ----------------------------------------------------------------------------------


def test_a_sign_in_line_names_who_signed_in_and_a_failed_one_nobody(
    server: ServerProcess, anon: Api, admin: Api
) -> None:
    me = expect(admin.get("/me"), 200)
    ok, bad = rid(), rid()
    form = {"username": "admin", "password": ADMIN_PASSWORD}
    assert anon.client.post("/login", data=form, headers={"X-Request-ID": ok}).status_code == 200
    form["password"] = "wrong-password"
    assert anon.client.post("/login", data=form, headers={"X-Request-ID": bad}).status_code == 401
    assert access_line(server, ok)["user_id"] == me["id"]
    assert access_line(server, bad)["user_id"] is None


def test_access_line_carries_request_user_route_status_and_duration(
    server: ServerProcess, admin: Api, make_user: MakeUser, open_account: OpenAccount
) -> None:
    owner, _ = make_user()
    account = open_account(owner["id"])
    request_id = rid()
    response = admin.get(f"/accounts/{account['id']}", headers={"X-Request-ID": request_id})
    expect(response, 200)
    assert response.headers["x-request-id"] == request_id
    line = access_line(server, request_id)
    assert line["route"] == "/accounts/{account_id}"
    assert line["path"] == f"/accounts/{account['id']}"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["user_id"] == user_id(admin)
    assert line["client_ip"] == "127.0.0.1"
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])


def test_generated_request_id_and_anonymous_unmatched_route_are_logged(
    server: ServerProcess, anon: Api
) -> None:
    response = anon.get("/no/such/place")
    expect(response, 404, "not_found")
    line = access_line(server, response.headers["x-request-id"])
    assert line["route"] == "<unmatched>"  # never the raw path: it would explode the metrics
    assert line["status"] == 404
    assert line["user_id"] is None


def test_oversized_body_is_logged_as_413(server: ServerProcess, anon: Api) -> None:
    request_id = rid()
    response = anon.post("/users", content=b"x" * (65 * 1024), headers={"X-Request-ID": request_id})
    expect(response, 413, "payload_too_large")
    assert access_line(server, request_id)["status"] == 413
    assert response.headers["x-content-type-options"] == "nosniff"


def test_forwarded_for_from_a_trusted_proxy_is_the_logged_client_ip(
    server: ServerProcess, anon: Api
) -> None:
    request_id = rid()
    anon.get("/health", headers={"X-Request-ID": request_id, "X-Forwarded-For": PUBLIC_IP})
    assert access_line(server, request_id)["client_ip"] == PUBLIC_IP


def test_secrets_never_reach_the_log(
    server: ServerProcess, anon: Api, admin: Api, make_user: MakeUser
) -> None:
    first_password = f"Pw-first-{uuid.uuid4().hex[:12]}"
    second_password = f"Pw-second-{uuid.uuid4().hex[:12]}"
    signup_password = f"Pw-signup-{uuid.uuid4().hex[:12]}"
    wrong_password = f"Pw-wrong-{uuid.uuid4().hex[:12]}"
    user, _ = make_user(password=first_password)
    login = expect(
        anon.client.post("/login", data={"username": user["username"], "password": first_password}),
        200,
    )
    refreshed = expect(
        anon.client.post("/login/refresh", json={"refresh_token": login["refresh_token"]}), 200
    )
    me = Api(server.url, refreshed["access_token"])
    body = {"password": second_password, "current_password": first_password}
    expect(me.put(f"/users/{user['id']}", json=body), 200)
    second = expect(
        anon.client.post(
            "/login", data={"username": user["username"], "password": second_password}
        ),
        200,
    )
    expect(Api(server.url, second["access_token"]).post("/logout"), 204)
    signup = {"username": f"obs{uuid.uuid4().hex[:8]}", "password": signup_password,
              "full_name": "Sign Up", "email": "signup@example.com"}  # fmt: skip
    expect(anon.post("/users", json=signup), 201)
    failed = anon.client.post(
        "/login", data={"username": user["username"], "password": wrong_password}
    )
    expect(failed, 401, "invalid_credentials")
    expect(me.get("/me"), 401, "invalid_token")  # a revoked token on the wire, too
    wait_for_records(server, lambda r: r.get("status") == 401 and r.get("route") == "/me")

    text = server.full_log()
    secrets = {
        "first password": first_password,
        "second password": second_password,
        "sign-up password": signup_password,
        "wrong password": wrong_password,
        "access token": login["access_token"],
        "refresh token": login["refresh_token"],
        "rotated access token": refreshed["access_token"],
        "rotated refresh token": refreshed["refresh_token"],
        "second access token": second["access_token"],
        "secret key": TEST_SECRET,
        "admin token": admin.token or "",
    }
    assert [name for name, value in secrets.items() if value in text] == []
    assert "authorization" not in text.lower()
    assert "bearer " not in text.lower()
    assert "/login" in text  # the scenario was logged, just not its secrets


# --- metrics -------------------------------------------------------------------------------


def test_metrics_count_requests_and_movements_by_outcome(
    anon: Api, admin: Api, make_user: MakeUser, open_account: OpenAccount
) -> None:
    owner, _ = make_user()
    account = open_account(owner["id"])
    before = samples(anon)
    expect(admin.post(f"/accounts/{account['id']}/deposit", json={"amount": "10.00"}), 201)
    refused = admin.post(f"/accounts/{account['id']}/withdraw", json={"amount": "99.00"})
    expect(refused, 409, "insufficient_funds")
    after = samples(anon)

    def delta(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(movement("deposit", "ok")) == 1
    assert delta(movement("withdrawal", "refused", "insufficient_funds")) == 1
    assert delta(movement("withdrawal", "ok")) == 0
    deposit = {"method": "POST", "route": "/accounts/{account_id}/deposit"}
    withdraw = {"method": "POST", "route": "/accounts/{account_id}/withdraw"}
    assert delta(key("http_requests_total", **deposit, status="201")) == 1
    assert delta(key("http_requests_total", **withdraw, status="409")) == 1
    assert delta(key("http_request_duration_seconds_count", **deposit)) == 1
    assert delta(key("http_request_duration_seconds_bucket", **deposit, le="+Inf")) == 1


def test_metrics_need_loopback_or_admin(anon: Api, admin: Api, teller: Api) -> None:
    outside = {"X-Forwarded-For": PUBLIC_IP}  # through the trusted proxy 127.0.0.1
    expect(anon.get("/metrics", headers=outside), 403, "forbidden")
    expect(teller.get("/metrics", headers=outside), 403, "forbidden")
    assert "http_requests_total" in admin.get("/metrics", headers=outside).text
    assert samples(admin, **outside)
    expect(Api(anon.base_url, "not-a-token").get("/metrics"), 401, "invalid_token")
    # The chain is read from the right: prepending 127.0.0.1 does not make a caller loopback.
    expect(anon.get("/metrics", headers={"X-Forwarded-For": f"127.0.0.1, {PUBLIC_IP}"}), 403)


def test_metrics_route_is_documented(anon: Api) -> None:
    schema = expect(anon.get("/openapi.json"), 200)
    answers = schema["paths"]["/metrics"]["get"]["responses"]
    assert {"200", "401", "403"} <= set(answers)
    assert "text/plain" in answers["200"]["content"]


# --- Sentry --------------------------------------------------------------------------------


def _has_exception(envelope: Envelope, type_name: str) -> bool:
    return any(
        value.get("type") == type_name
        for event in envelope.events()
        for value in event.get("exception", {}).get("values", [])
    )


def test_unexpected_error_answers_500_and_reaches_sentry_scrubbed(
    server: ServerProcess, admin: Api, make_user: MakeUser, mongo: Any, sentry_sink: SentrySink
) -> None:
    # Something real goes wrong: a stored user no longer matches the schema.
    victim, _ = make_user()
    mongo.users.update_one({"_id": victim["id"]}, {"$set": {"role": "wizard"}})
    password = f"Pw-sentry-{uuid.uuid4().hex[:12]}"
    request_id = rid()
    response = admin.put(
        f"/users/{victim['id']}",
        json={"password": password},
        headers={"X-Request-ID": request_id, "Cookie": "session=cookie-secret-value"},
    )
    assert response.status_code == 500, response.text
    assert response.json() == {"detail": "internal error; it has been logged",
                               "code": "internal_error"}  # fmt: skip
    assert response.headers["x-request-id"] == request_id
    assert response.headers["x-content-type-options"] == "nosniff"

    [envelope] = sentry_sink.wait_for(lambda e: _has_exception(e, "ValidationError"))
    [event] = envelope.events()
    assert event["environment"] == "e2e"
    assert event["tags"]["request_id"] == request_id
    assert event["request"]["url"].endswith(f"/users/{victim['id']}")
    headers = {key.lower() for key in event["request"].get("headers", {})}
    assert "authorization" not in headers
    assert "cookie" not in headers
    for secret in (password, admin.token or "", TEST_SECRET, "cookie-secret-value"):
        assert secret not in envelope.text
    assert "data" not in event["request"]  # no request bodies in reports

    line = access_line(server, request_id)
    assert line["status"] == 500
    assert line["level"] == "ERROR"
    errors = wait_for_records(
        server, lambda r: r.get("request_id") == request_id and "exc_type" in r
    )
    assert [error["exc_type"] for error in errors] == ["ValidationError"]
    assert password not in server.full_log()


# --- limits and headers --------------------------------------------------------------------


def test_security_headers_on_json_answers(anon: Api) -> None:
    for response in (anon.get("/health"), anon.get("/nowhere"), anon.get("/me")):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers  # development: no HSTS


def test_docs_page_policy_allows_exactly_its_cdn_and_inline_script(
    server: ServerProcess, anon: Api
) -> None:
    response = anon.get("/docs")
    assert response.status_code == 200
    assert access_line(server, response.headers["x-request-id"])["route"] == "/docs"
    policy = response.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert scripts, "Swagger UI starts from an inline script"
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    for source in re.findall(r'(?:src|href)="(https://[^/"]+)', response.text):
        assert source in policy, source
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "unsafe-eval" not in policy


def test_page_size_is_capped_and_the_answer_says_so(
    admin: Api, make_user: MakeUser, open_account: OpenAccount
) -> None:
    # Above the contract's 200: 422; within it but above MAX_PAGE_SIZE: served as the cap.
    owner, _ = make_user("user")
    while expect(admin.get("/accounts", params={"limit": 1}), 200)["total"] <= PAGE_CAP:
        open_account(owner["id"])
    body = expect(admin.get("/users", params={"limit": 201}), 422, "validation_error")
    assert body["detail"][0]["loc"] == ["query", "limit"]
    capped = expect(admin.get("/accounts", params={"limit": 200}), 200)
    assert capped["limit"] == PAGE_CAP
    assert len(capped["items"]) == PAGE_CAP < capped["total"]
    assert expect(admin.get("/accounts", params={"limit": PAGE_CAP}), 200)["limit"] == PAGE_CAP
    assert expect(admin.get("/accounts"), 200)["limit"] == PAGE_CAP  # default 50, capped


# --- a production server: docs off, HSTS, request deadline ---------------------------------


def _slow_body_request(port: int) -> tuple[bytes, float]:
    """Send headers and half a body, then nothing; return the answer and the seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nContent-Length: 100\r\nX-Request-ID: obs-slow-body\r\n\r\nusername=a"
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_production_turns_docs_off_adds_hsts_and_stops_slow_requests(
    wire_db: Any, tmp_path: Path
) -> None:
    env = {"BANK_ENV": "production", "DOCS_ENABLED": "false", "REQUEST_TIMEOUT_SECONDS": "2"}
    with ServerProcess(
        mongodb_url=wire_db.url, database_name=f"t_obs_prod_{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path, env=env,
    ).start() as prod:  # fmt: skip
        with httpx.Client(base_url=prod.url, timeout=30) as client:
            for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
                expect(client.get(path), 404, "not_found")
            root = client.get("/")
            assert expect(root, 200)["docs"] is None
            assert root.headers["strict-transport-security"].startswith("max-age=")
            answer, seconds = _slow_body_request(prod.port)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), answer
        assert json.loads(body)["code"] == "service_unavailable"
        assert b"x-request-id: obs-slow-body" in head.lower()
        assert 1.5 < seconds < 25  # the deadline, not the socket's own timeout
        line = access_line(prod, "obs-slow-body")
        assert line["status"] == 503
        assert line["route"] == "/login"


# --- the deadline lets a started answer finish (in-process ASGI) ---------------------------


def _run_asgi(app: Any) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "state": {}}
    asyncio.run(RequestTimeout(app, seconds=0.2)(scope, receive, send))
    return sent


def test_deadline_stops_a_slow_route_but_not_a_started_stream() -> None:
    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"a", b"b", b"c"):
            await asyncio.sleep(0.15)  # 0.45 s in all: past the 0.2 s deadline
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def stuck(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    streamed = _run_asgi(streaming)
    assert streamed[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in streamed[1:]) == b"abc"
    stopped = _run_asgi(stuck)
    assert stopped[0]["status"] == 503
    assert json.loads(stopped[1]["body"])["code"] == "service_unavailable"


def test_log_formats_replace_credentials_in_free_text() -> None:
    secret = f"backup-key-{uuid.uuid4().hex}"
    register_secret(secret)
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    record = logging.LogRecord(
        "bank.test", logging.WARNING, __file__, 1,
        "upstream said %s with Bearer abc.def-ghi and %s", (jwt_like, secret), None,
    )  # fmt: skip
    record.__dict__.update(request_id="r-1", user_id=7, duration_ms=1.5, client_ip="10.0.0.1")
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert parsed["message"] == "upstream said [Filtered] with [Filtered] and [Filtered]"
    assert (parsed["request_id"], parsed["user_id"], parsed["client_ip"]) == ("r-1", 7, "10.0.0.1")
    text = TextFormatter().format(record)
    for leaked in (jwt_like, secret, "abc.def-ghi"):
        assert leaked not in line
        assert leaked not in text
    assert "request_id=r-1 user_id=7 duration_ms=1.5 client_ip=10.0.0.1" in text
