"""API8 Security Misconfiguration, CORS: only the configured origins, never a wildcard.

The server allows two origins here. An allowed origin gets `Access-Control-Allow-Origin`
echoed (on successes and errors alike, so a browser app can read the error body); any other
origin, including look-alikes, gets none; preflights are answered only for allowed origins,
methods and headers; credentials are never allowed, so no cookie or browser-held credential
rides along.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.config import Settings
from tests.support import Api

ALLOWED = ("https://app.example.com", "http://localhost:5173")
SERVER_ENV = {"ALLOWED_ORIGINS": ",".join(ALLOWED)}
FOREIGN = (
    "https://evil.example",
    "null",
    "https://app.example.com.evil.example",
    "https://evilapp.example.com",
    "https://evil.app.example.com",
    "http://app.example.com",
    "https://app.example.com:8443",
    "https://app.example.com/",
    "https://APP.example.com",
    "http://localhost:5174",
    "http://localhost",
    "*",
)


def options(anon: Api, path: str, origin: str, method: str, headers: str = "") -> httpx.Response:
    """Send a CORS preflight."""
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return anon.client.options(path, headers=sent)


def assert_no_credentials_or_wildcard(response: httpx.Response) -> None:
    """Credentials are never allowed, and the origin is never a wildcard."""
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers.get("access-control-allow-origin") != "*"


@pytest.mark.parametrize("origin", ALLOWED)
@pytest.mark.parametrize(
    ("path", "token", "status"),
    [("/health", False, 200), ("/me", True, 200), ("/me", False, 401), ("/nowhere", False, 404),
     ("/users?limit=0", True, 422)],
    ids=["ok", "signed_in", "unauthenticated", "unknown_route", "invalid"],
)  # fmt: skip
def test_allowed_origin_is_echoed_on_every_answer(
    anon: Api, admin: Api, origin: str, path: str, token: bool, status: int
) -> None:
    api = admin if token else anon
    response = api.get(path, headers={"Origin": origin})
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers.get("vary", "").lower()
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert "retry-after" in exposed
    assert_no_credentials_or_wildcard(response)


@pytest.mark.parametrize("origin", ALLOWED)
def test_a_body_over_the_cap_is_a_413_a_browser_can_read(anon: Api, origin: str) -> None:
    response = anon.post(
        "/login",
        content=b"x" * (64 * 1024 + 1),
        headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["access-control-allow-origin"] == origin
    assert_no_credentials_or_wildcard(response)


@pytest.mark.parametrize("origin", FOREIGN)
def test_foreign_origins_get_no_cors_headers(anon: Api, admin: Api, origin: str) -> None:
    for api, path in ((anon, "/health"), (admin, "/me"), (anon, "/me")):
        response = api.get(path, headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers, (origin, path)
        assert_no_credentials_or_wildcard(response)
    preflight = options(anon, "/accounts", origin, "POST", "authorization,content-type")
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert_no_credentials_or_wildcard(preflight)


@pytest.mark.parametrize("origin", ALLOWED)
@pytest.mark.parametrize(
    ("path", "method"),
    [("/accounts", "POST"), ("/users/1", "PUT"), ("/accounts/1", "PATCH"),
     ("/accounts/1", "DELETE"), ("/transfers", "POST"), ("/login", "POST")],
)  # fmt: skip
def test_preflight_for_an_allowed_origin(anon: Api, origin: str, path: str, method: str) -> None:
    response = options(anon, path, origin, method, "authorization,content-type,idempotency-key")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert method in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key"):
        assert header in allowed_headers
    assert_no_credentials_or_wildcard(response)


@pytest.mark.parametrize(
    ("method", "headers"),
    [("TRACE", ""), ("CONNECT", ""), ("PROPFIND", ""), ("POST", "x-evil"),
     ("POST", "authorization,cookie"), ("GET", "x-forwarded-for")],
)  # fmt: skip
def test_preflight_refuses_other_methods_and_headers(anon: Api, method: str, headers: str) -> None:
    response = options(anon, "/accounts", ALLOWED[0], method, headers)
    assert response.status_code == 400
    assert_no_credentials_or_wildcard(response)


def test_a_cookie_is_never_read_as_a_credential(anon: Api, admin: Api) -> None:
    token = admin.token
    assert token
    response = anon.client.get(
        "/me", headers={"Origin": ALLOWED[0], "Cookie": f"access_token={token}; token={token}"}
    )
    assert response.status_code == 401


def test_default_origins_are_explicit() -> None:
    defaults: Any = Settings.model_fields["allowed_origins"].default
    assert defaults
    assert all(origin.startswith(("http://", "https://")) for origin in defaults)
    assert "*" not in defaults
