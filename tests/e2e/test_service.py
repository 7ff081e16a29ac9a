"""Service routes and cross-cutting conventions: shapes, slashes, CORS, size cap."""

from __future__ import annotations

from tests.support import Api, expect


def test_root_names_the_service_and_docs(anon: Api) -> None:
    body = expect(anon.get("/"), 200)
    assert body["docs"] == "/docs"
    assert body["name"]
    assert body["version"]


def test_health_reports_database(anon: Api) -> None:
    body = expect(anon.get("/health"), 200)
    assert body == {"status": "ok", "database": "ok", "version": body["version"]}


def test_docs_and_schema_are_served(anon: Api) -> None:
    assert anon.get("/docs").status_code == 200
    schema = expect(anon.get("/openapi.json"), 200)
    assert "/accounts/{account_id}/deposit" in schema["paths"]
    sort = next(p for p in schema["paths"]["/users"]["get"]["parameters"] if p["name"] == "sort")
    spec = sort["schema"]
    if "$ref" in spec:
        spec = schema["components"]["schemas"][spec["$ref"].rsplit("/", 1)[-1]]
    assert set(spec["enum"]) == {"id", "username", "full_name", "created_at"}


def test_trailing_slash_answers_the_same_without_redirect(admin: Api) -> None:
    with_slash = admin.get("/users/")
    without = admin.get("/users")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()
    assert admin.get("/health/").status_code == 200


def test_unknown_route_and_method_use_error_shape(anon: Api) -> None:
    expect(anon.get("/no/such/route"), 404, "not_found")
    expect(anon.request("DELETE", "/health"), 405, "method_not_allowed")


def test_request_id_is_echoed_or_generated(anon: Api) -> None:
    echoed = anon.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(anon.get("/health").headers["x-request-id"]) >= 8


def test_cors_allows_only_configured_origins(anon: Api) -> None:
    allowed = anon.client.options(
        "/health",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:3000"
    denied = anon.client.options(
        "/health",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in denied.headers


def test_oversized_body_is_refused_with_413(anon: Api) -> None:
    big = "x" * (65 * 1024)
    response = anon.post("/users", json={"username": "big", "password": big})
    expect(response, 413, "payload_too_large")


def test_malformed_json_is_a_validation_error(anon: Api) -> None:
    response = anon.post(
        "/users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    expect(response, 422, "validation_error")


def test_rule_based_validation_errors_keep_the_list_shape(admin: Api) -> None:
    body = expect(admin.post("/accounts", json={"account_type": "checking"}), 422)
    assert body["code"] == "validation_error"
    assert isinstance(body["detail"], list)
    assert body["detail"][0]["loc"] == ["body", "owner_id"]
    user = expect(
        admin.post("/users", json={"username": "samepw1x", "password": "other-pass-1",
                                   "full_name": "Same Pw", "email": "s@example.com"}),
        201,
    )  # fmt: skip
    refused = expect(admin.put(f"/users/{user['id']}", json={"password": "SAMEPW1X"}), 422)
    assert refused["code"] == "validation_error"
    assert refused["detail"][0]["loc"] == ["body", "password"]
