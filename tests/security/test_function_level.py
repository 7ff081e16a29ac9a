"""API5 Broken Function Level Authorization: every route, every role, from the OpenAPI schema.

For each operation and role the request is a probe that is invalid in every input the
route validates (ids 0, `limit=0`, a JSON array for an object body): a role the route
refuses must get 401/403 first (the role gate runs before validation, so nothing of the
request is looked at), and a role it admits gets 422 (it passed the gate, and nothing ran).
Operations without inputs are called for real, except logout, which gets its own session.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.security.routes import (
    OPTIONAL_ROUTES,
    ROLES,
    ROUTE_ROLES,
    Operation,
    app_openapi,
    operations,
    probe,
)
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect

PASSWORD = "function-level-pass"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def callers(anon: Api, admin: Api, make_user: Any) -> dict[str, tuple[Api, str, str]]:
    """A signed-in client per role, with the credentials to open more sessions."""
    found = {"anon": (anon, "", ""), "admin": (admin, "admin", ADMIN_PASSWORD)}
    for role in ("user", "teller", "supervisor"):
        user, api = make_user(role, password=PASSWORD)
        found[role] = (api, user["username"], PASSWORD)
    return found


def test_every_route_has_its_roles(openapi: dict[str, Any]) -> None:
    documented = {op.key for op in operations(openapi)}
    missing = documented - set(ROUTE_ROLES)
    assert not missing, f"add to ROUTE_ROLES: {sorted(missing)}"
    stale = set(ROUTE_ROLES) - documented - OPTIONAL_ROUTES
    assert not stale, f"no longer in the schema: {sorted(stale)}"


def test_admin_routes_are_exactly_the_ones_api_md_names() -> None:
    admin_only = {key for key, roles in ROUTE_ROLES.items() if roles == {"admin"}}
    assert admin_only == {
        ("DELETE", "/users/{user_id}"), ("POST", "/users/{user_id}/unlock"),
        ("DELETE", "/accounts/{account_id}"), ("PUT", "/accounts/{account_id}/admin"),
        ("POST", "/vault/cash"), ("PUT", "/approval-policies/{action}"),
    }  # fmt: skip


def test_supervisor_routes_are_the_ones_api_md_names() -> None:
    # Version 2 ("Changes to version 1"): supervisors read /audit, /ledger/* and
    # /cash-position, manage tills and the vault count, and close the business day;
    # everything else a teller may use, they may too.
    supervisors = {key for key, roles in ROUTE_ROLES.items() if roles == {"supervisor", "admin"}}
    assert supervisors == {
        ("GET", "/audit"), ("GET", "/ledger/accounts"), ("GET", "/ledger/accounts/{code}/entries"),
        ("GET", "/ledger/journal/{journal_id}"), ("GET", "/ledger/trial-balance"),
        ("GET", "/cash-position"), ("POST", "/tills"), ("PATCH", "/tills/{till_id}"),
        ("POST", "/vault/count"), ("POST", "/business-day/close"), ("GET", "/business-days"),
        ("GET", "/business-days/verify"), ("GET", "/business-days/{date}/report"),
    }  # fmt: skip
    for key, roles in ROUTE_ROLES.items():
        if "teller" in roles:
            assert "supervisor" in roles, key


def _schema_ops() -> list[Any]:
    """Every (operation, role) of the running code's schema, for parametrization."""
    keys = [op.key for op in operations(app_openapi())]
    return [pytest.param(k, role, id=f"{k[0]} {k[1]}-{role}") for k in keys for role in ROLES]


@pytest.mark.parametrize(("key", "role"), _schema_ops())
def test_route_admits_only_its_roles(
    ops: list[Operation],
    callers: dict[str, tuple[Api, str, str]],
    key: tuple[str, str],
    role: str,
) -> None:
    op = next(op for op in ops if op.key == key)
    api, username, password = callers[role]
    url, kwargs, invalid = probe(op)
    allowed = role in ROUTE_ROLES[key]
    if allowed and key == ("POST", "/logout"):
        session = api.login(username, password)  # its own session: the module's stays usable
        response = session.request(op.method, url, **kwargs)
        session.close()
    else:
        response = api.request(op.method, url, **kwargs)
    if not allowed:
        status = 401 if role == "anon" else 403
        expect(response, status, "not_authenticated" if status == 401 else "forbidden")
        return
    assert response.status_code not in (401, 403), f"{role} refused: {response.text}"
    assert response.status_code < 500, response.text
    if invalid:
        expect(response, 422, "validation_error")


def test_undeclared_methods_answer_405(admin: Api, openapi: dict[str, Any]) -> None:
    checked = 0
    for path, item in openapi["paths"].items():
        declared = {method.upper() for method in item}
        url = re.sub(r"\{\w+\}", "1", path)
        for method in sorted(set(_METHODS) - declared):
            expect(admin.request(method, url, json={}), 405, "method_not_allowed")
            checked += 1
    assert checked > 20


def test_method_override_headers_are_ignored(admin: Api, make_user: Any) -> None:
    user, _api = make_user("user")
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        response = admin.post(f"/users/{user['id']}", headers={header: "DELETE"})
        expect(response, 405, "method_not_allowed")
    assert expect(admin.get(f"/users/{user['id']}"), 200)["is_active"] is True


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("teller", "/audit"),
        ("user", "/users"),
        ("user", "/stats"),
        ("teller", "/stats/../audit"),
        ("user", "/audit"),
    ],
)
def test_path_spellings_do_not_get_around_the_gate(
    server: ServerProcess, callers: dict[str, tuple[Api, str, str]], role: str, path: str
) -> None:
    api = callers[role][0]
    for spelled in (path, f"{path}/", f"{path}//", path.upper(), f"{path}%2F", f"{path};x=1",
                    f"{path}%00", f"{path}?role=admin", f"/.{path}"):  # fmt: skip
        # Sent as raw bytes: the client must not tidy the path before the server sees it.
        url = httpx.URL(server.url).copy_with(raw_path=spelled.encode())
        response = api.client.send(api.client.build_request("GET", url, headers=api.headers()))
        assert response.status_code in (403, 404), f"{spelled}: {response.status_code}"
        assert response.json()["code"] in ("forbidden", "not_found")
