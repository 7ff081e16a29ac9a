"""Deployment defaults (issue 11): a production server behind a proxy it was not told about
refuses to guess who its clients are, and /metrics is not served to loopback by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect

# Production, with the settings production needs (a database URL and a key the test
# server has) and no TRUSTED_PROXIES: as the systemd layout left it.
SERVER_ENV = {"BANK_ENV": "production", "METRICS_LOOPBACK": "false", "TRUSTED_PROXIES": ""}


@pytest.fixture(scope="module")
def proxied(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A twin of the server told that nginx on this host is its proxy (the packaged unit)."""
    twin = ServerProcess(
        mongodb_url=server.mongodb_url, database_name=server.database_name,
        data_dir=tmp_path_factory.mktemp("proxied"),
        env={**SERVER_ENV, "TRUSTED_PROXIES": "127.0.0.1", "METRICS_LOOPBACK": "true"},
    ).start()  # fmt: skip
    yield twin.url
    twin.stop()


def test_a_forwarded_request_from_loopback_without_trusted_proxies_answers_503(
    server: ServerProcess,
) -> None:
    # Every client would be 127.0.0.1: one lockout counter for all, /metrics for anyone.
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    response = httpx.get(f"{server.url}/health", headers=forwarded, timeout=30)
    expect(response, 503, "service_unavailable")
    assert "TRUSTED_PROXIES" in response.json()["detail"]
    login = httpx.post(f"{server.url}/login", data={"username": "admin", "password": "x"},
                       headers=forwarded, timeout=30)  # fmt: skip
    expect(login, 503, "service_unavailable")
    assert "set TRUSTED_PROXIES" in server.full_log()  # the operator is told what to do
    # A direct caller (no forwarded header) is served.
    expect(httpx.get(f"{server.url}/health", timeout=30), 200)


def test_with_trusted_proxies_the_forwarded_client_is_served(proxied: str) -> None:
    response = httpx.get(f"{proxied}/health", headers={"X-Forwarded-For": "203.0.113.7"})
    expect(response, 200)


def test_metrics_are_not_served_to_loopback_unless_asked(
    server: ServerProcess, proxied: str, admin: Api
) -> None:
    expect(httpx.get(f"{server.url}/metrics", timeout=30), 403, "forbidden")
    assert "http_requests_total" in admin.get("/metrics").text  # admins still get them
    # METRICS_LOOPBACK=true: a scraper on the host, not through the proxy, gets them.
    response = httpx.get(f"{proxied}/metrics", timeout=30)
    assert response.status_code == 200
    assert "http_requests_total" in response.text
    outside = httpx.get(f"{proxied}/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    expect(outside, 403, "forbidden")


def test_the_admin_of_this_production_server_signs_in(anon: Api) -> None:
    body: dict[str, Any] = expect(
        anon.client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}), 200
    )
    assert body["token_type"] == "bearer"
