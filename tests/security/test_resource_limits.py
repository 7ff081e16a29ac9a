"""API4 Unrestricted Resource Consumption: body cap, page sizes, nesting, lengths, lockout.

The server runs with the production values of the limits (the suite's other servers raise
them), so the login lockout at the end is the real one: 5 failures answer 429.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.conftest import MISSING_ID, MakeUser
from tests.security.routes import Operation, resolve
from tests.support import Api, ServerProcess, expect

MAX_BODY = 64 * 1024
SERVER_ENV = {
    "MAX_BODY_BYTES": str(MAX_BODY),
    "LOGIN_MAX_FAILURES": "5",
    "LOGIN_WINDOW_SECONDS": "900",
    "MOVEMENT_RATE_PER_MINUTE": "120",
}
# A path parameter that is deliberately unbounded: any string that is not an active account's
# 10-digit number answers 404 without a database read, and uvicorn bounds the request line.
UNBOUNDED = {("GET", "/payees/{number}", "number")}


def ids_for(op: Operation) -> str:
    """The operation's URL with id 1 in every path parameter."""
    return op.url(**{p["name"]: 1 for p in op.path_params})


def test_every_operation_declares_413(ops: list[Operation]) -> None:
    assert [op.label for op in ops if 413 not in op.statuses] == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_a_body_over_the_cap_answers_413_everywhere(
    admin: Api, ops: list[Operation], chunked: bool
) -> None:
    oversized = b'{"a":"' + b"x" * MAX_BODY + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(oversized), 8192):
            yield oversized[start : start + 8192]

    for op in ops:
        if chunked and op.json_body is None and op.form_body is None:
            continue  # a route without a body never reads one; Content-Length is checked above
        content: Any = chunks() if chunked else oversized
        media = "application/x-www-form-urlencoded" if op.form_body else "application/json"
        headers = admin.headers({"Content-Type": media})
        response = admin.client.request(op.method, ids_for(op), content=content, headers=headers)
        assert response.status_code == 413, (op.label, response.status_code, response.text[:200])
        assert response.json()["code"] == "payload_too_large"


def test_a_body_at_the_cap_is_read(admin: Api) -> None:
    body = json.dumps({"refresh_token": "x" * 10, "pad": "y" * (MAX_BODY - 64)})
    assert len(body) <= MAX_BODY
    response = admin.client.post(
        "/login/refresh", content=body, headers={"Content-Type": "application/json"}
    )
    expect(response, 422, "validation_error")  # read and refused as invalid, not as too large


def list_ops(ops: list[Operation]) -> list[Operation]:
    """Operations that page (they take `limit`)."""
    found = [op for op in ops if any(p["name"] == "limit" for p in op.query_params)]
    assert len(found) >= 5
    return found


def test_every_list_declares_its_page_bounds(ops: list[Operation]) -> None:
    for op in list_ops(ops):
        params = {p["name"]: p["schema"] for p in op.query_params}
        assert params["limit"].get("maximum") == 200, op.label
        assert params["limit"].get("minimum") == 1, op.label
        assert params["skip"].get("minimum") == 0, op.label
        assert "maximum" in params["skip"], op.label


@pytest.mark.parametrize(
    ("params", "status"),
    [({"limit": 201}, 422), ({"limit": 10**30}, 422), ({"limit": 0}, 422), ({"limit": -1}, 422),
     ({"skip": -1}, 422), ({"skip": 10**30}, 422), ({"limit": "1e3"}, 422), ({"limit": 200}, 200)],
    ids=["201", "huge", "zero", "negative", "skip_negative", "skip_huge", "exponent", "200"],
)  # fmt: skip
def test_page_sizes_are_bounded_on_every_list(
    admin: Api, ops: list[Operation], world: Any, params: dict[str, Any], status: int
) -> None:
    values = {"user_id": world.people["alice"]["id"], "account_id": world.accounts["alice"]["id"]}
    # Version 2's lists under a session, a till or a ledger account: the admin's own session.
    current = expect(admin.get("/sessions/current"), 200)
    values |= {"session_id": current["id"], "till_id": current["till_id"], "code": "vault:USD"}
    for op in list_ops(ops):
        # A list with a required query (the customer search's `q`) gets a plain one.
        required = {p["name"]: "alice" for p in op.query_params if p.get("required")}
        response = admin.get(op.url(**values), params={**required, **params})
        assert response.status_code == status, (op.label, response.text[:300])
        if status == 200:
            assert len(response.json()["items"]) <= 200


def json_body_ops(ops: list[Operation]) -> list[Operation]:
    """Operations that take a JSON body."""
    return [op for op in ops if op.json_body is not None]


@pytest.mark.parametrize("depth", [100, 5_000, 30_000])
def test_deep_nesting_answers_422(admin: Api, ops: list[Operation], depth: int) -> None:
    nested = "[" * depth + "]" * depth
    objects = min(depth, 10_000)  # five bytes a level
    documents = [nested, f'{{"amount": {nested}}}', '{"a":' * objects + "1" + "}" * objects]
    for op in json_body_ops(ops):
        for document in documents:
            assert len(document) < MAX_BODY
            response = admin.client.request(
                op.method,
                ids_for(op),
                content=document,
                headers=admin.headers({"Content-Type": "application/json"}),
            )
            assert response.status_code == 422, (
                op.label,
                depth,
                response.status_code,
                response.text[:200],
            )
            assert response.json()["code"] == "validation_error"


def test_many_fields_answer_a_bounded_422(admin: Api, ops: list[Operation]) -> None:
    document = json.dumps({f"k{i}": 1 for i in range(5_000)}, separators=(",", ":"))
    assert len(document) < MAX_BODY
    for op in json_body_ops(ops):
        response = admin.client.request(
            op.method,
            ids_for(op),
            content=document,
            headers=admin.headers({"Content-Type": "application/json"}),
        )
        expect(response, 422, "validation_error")
        # The answer stays small: the list is capped and echoed inputs are cut short.
        assert len(response.content) < 8 * 1024, (op.label, len(response.content))
        assert len(response.json()["detail"]) <= 21


@pytest.mark.parametrize(
    "literal",
    ["1" * 5000, "1e999999", "-1e999999", "1.0e-999999", "NaN", "Infinity", "-Infinity", "0x10"],
)
def test_number_literals_cannot_exhaust_the_parser(admin: Api, world: Any, literal: str) -> None:
    url = f"/accounts/{world.accounts['alice']['id']}/deposit"
    started = time.monotonic()
    response = admin.client.post(
        url,
        content=f'{{"amount": {literal}}}',
        headers=admin.headers({"Content-Type": "application/json"}),
    )
    expect(response, 422, "validation_error")
    assert time.monotonic() - started < 10  # generous: a quadratic parse would take minutes


def string_fields(openapi: dict[str, Any], op: Operation) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, name, schema) of every string input of an operation."""
    found = []
    for where in ("path", "query", "header"):
        for param in op.params(where):
            found.append((where, param["name"], param["schema"]))
    body = op.json_body or op.form_body or {}
    for name, schema in body.get("properties", {}).items():
        found.append(("body", name, resolve(openapi, schema)))
    return [item for item in found if accepts_string(openapi, item[2])]


def accepts_string(openapi: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Tell whether a schema lets a free string through (not an enum or a format)."""
    options = [resolve(openapi, s) for s in schema.get("anyOf", [])] or [schema]
    return any(o.get("type") == "string" and "enum" not in o and "const" not in o for o in options)


def max_length(openapi: dict[str, Any], schema: dict[str, Any]) -> int | None:
    """The declared maxLength of a string schema (on it or on its string branch)."""
    if "maxLength" in schema:
        return int(schema["maxLength"])
    for option in schema.get("anyOf", []):
        option = resolve(openapi, option)
        if option.get("type") == "string" and "maxLength" in option:
            return int(option["maxLength"])
    return None


def bounded(openapi: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Tell whether a string input's length is bounded by its schema.

    By `maxLength`, by an anchored pattern without unbounded repetition (money), or by the
    date-time format (RFC 3339, which the server enforces: see shared/schemas/common.py).
    """
    if max_length(openapi, schema) is not None:
        return True
    options = [resolve(openapi, s) for s in schema.get("anyOf", [])] or [schema]
    for option in options:
        if option.get("type") != "string":
            continue
        pattern = option.get("pattern", "")
        anchored = pattern.startswith("^") and pattern.endswith("$")
        if anchored and not re.search(r"[*+]|\{\d+,\}", pattern):
            continue
        if option.get("format") == "date-time":
            continue
        return False
    return True


def test_every_string_input_declares_a_max_length(
    openapi: dict[str, Any], ops: list[Operation]
) -> None:
    unbounded = [
        (op.label, where, name)
        for op in ops
        for where, name, schema in string_fields(openapi, op)
        if not bounded(openapi, schema) and (op.method, op.path, name) not in UNBOUNDED
    ]
    assert unbounded == []


def test_strings_one_over_their_max_length_answer_422(
    admin: Api, openapi: dict[str, Any], ops: list[Operation]
) -> None:
    checked = 0
    for op in ops:
        for where, name, schema in string_fields(openapi, op):
            if where not in ("query", "body") or (limit := max_length(openapi, schema)) is None:
                continue
            value = "a" * (limit + 1)
            kwargs: dict[str, Any] = {"params": {name: value}} if where == "query" else {}
            if where == "body":
                kwargs = {"data": {name: value}} if op.form_body else {"json": {name: value}}
            response = admin.request(
                op.method, op.url(**{p["name"]: MISSING_ID for p in op.path_params}), **kwargs
            )
            assert response.status_code == 422, (op.label, name, response.status_code)
            locs = [tuple(e["loc"]) for e in response.json()["detail"]]
            assert (where, name) in locs, (op.label, name, locs)
            checked += 1
    assert checked >= 15


def test_a_large_header_does_not_break_the_server(server: ServerProcess) -> None:
    # uvicorn's httptools parser sets no header size limit (a 50 MB header was read whole):
    # production puts a proxy with header limits in front (see the security report).
    response = httpx.get(
        f"{server.url}/me", headers={"Authorization": "Bearer " + "a" * 1_000_000}, timeout=60
    )
    expect(response, 401, "invalid_token")
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200


def test_movements_are_rate_limited_per_user(make_user: MakeUser) -> None:
    # The real limit (120 a minute); requests on a missing account are cheap but still count.
    _user, api = make_user("teller")
    statuses = [
        api.post(f"/accounts/{MISSING_ID}/deposit", json={"amount": "1.00"}).status_code
        for _ in range(120)
    ]
    assert statuses == [404] * 120
    limited = api.post(f"/accounts/{MISSING_ID}/deposit", json={"amount": "1.00"})
    expect(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    api.close()


def test_login_lockout_answers_429_then_unlocks(anon: Api, admin: Api, make_user: MakeUser) -> None:
    # Last in the module: the lockout also counts this client's IP (127.0.0.1).
    user, api = make_user("user", password="the-right-password")
    api.close()
    form = {"username": user["username"], "password": "a-wrong-password"}
    failures = [anon.client.post("/login", data=form).status_code for _ in range(5)]
    assert failures == [401] * 5
    locked = anon.client.post("/login", data={**form, "password": "the-right-password"})
    expect(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) >= 1
    # An admin clears the username's count (the IP's stays until its window passes).
    expect(admin.post(f"/users/{user['id']}/unlock"), 204)
