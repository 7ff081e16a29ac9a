"""The route table of the security suite, read from the server's own OpenAPI schema.

Every test module here builds its cases from `operations(openapi)`, so a route added to the
server is picked up automatically; the hand-written tables (who may call a route, which id
it takes) are checked against the schema, so a new route fails a test until it is placed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tests.support import ROOT

ROLES = ("anon", "user", "teller", "supervisor", "admin")
SIGNED_IN = frozenset({"user", "teller", "supervisor", "admin"})
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"teller", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
ADMIN = frozenset({"admin"})

# Who may use each route at all (function-level authorization, API.md's "who" columns).
# Object-level rules (the owner, a teller's customers) are the BOLA matrix's business.
ROUTE_ROLES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/health"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/login/refresh"): EVERYONE,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/me"): SIGNED_IN,
    ("POST", "/users"): EVERYONE,  # self sign-up; the role given is checked per caller
    ("GET", "/users"): STAFF,
    ("GET", "/users/{user_id}"): SIGNED_IN,
    ("PUT", "/users/{user_id}"): SIGNED_IN,
    ("DELETE", "/users/{user_id}"): ADMIN,
    ("GET", "/users/{user_id}/accounts"): SIGNED_IN,
    ("POST", "/users/{user_id}/unlock"): ADMIN,
    ("POST", "/accounts"): SIGNED_IN,
    ("GET", "/accounts"): SIGNED_IN,
    ("GET", "/accounts/{account_id}"): SIGNED_IN,
    ("PATCH", "/accounts/{account_id}"): SIGNED_IN,
    ("DELETE", "/accounts/{account_id}"): ADMIN,
    ("PUT", "/accounts/{account_id}/admin"): ADMIN,
    ("GET", "/payees/{number}"): SIGNED_IN,
    ("POST", "/accounts/{account_id}/deposit"): SIGNED_IN,
    ("POST", "/accounts/{account_id}/withdraw"): SIGNED_IN,
    ("POST", "/transfers"): SIGNED_IN,
    ("GET", "/transfers/{transfer_id}"): SIGNED_IN,
    ("GET", "/accounts/{account_id}/transactions"): SIGNED_IN,
    ("GET", "/accounts/{account_id}/statement"): SIGNED_IN,
    # Holds and customer identification (API.md version 2).
    ("POST", "/accounts/{account_id}/holds"): STAFF,
    ("GET", "/accounts/{account_id}/holds"): SIGNED_IN,
    ("POST", "/holds/{hold_id}/release"): STAFF,
    ("PUT", "/users/{user_id}/profile"): SIGNED_IN,
    ("POST", "/users/{user_id}/documents"): STAFF,
    ("POST", "/users/{user_id}/documents/{document_id}/verify"): STAFF,
    ("GET", "/customers/search"): STAFF,
    ("GET", "/audit"): SUPERVISORS,
    ("GET", "/stats"): STAFF,
    ("GET", "/stats/daily"): STAFF,
    # Loopback callers (the tests) or admins; may be left out of the schema.
    ("GET", "/metrics"): EVERYONE,
}
# Routes the table knows that the schema may leave out (served, but not documented there).
OPTIONAL_ROUTES = frozenset({("GET", "/metrics")})

# Version 2's routes (API.md "Version 2: branch operations"), kept apart from version 1's
# table above. Who reads the ledger and manages tills: supervisors and admins.
_SUPERVISORS = frozenset({"supervisor", "admin"})
V2_ROUTE_ROLES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/tills"): STAFF,
    ("POST", "/tills"): _SUPERVISORS,
    ("GET", "/tills/{till_id}"): STAFF,
    ("POST", "/tills/{till_id}/sessions"): STAFF,
    ("GET", "/sessions/current"): STAFF,
    ("GET", "/sessions/{session_id}"): STAFF,  # its teller; the BOLA matrix's business
    ("POST", "/sessions/{session_id}/close"): STAFF,
    ("POST", "/vault/cash"): ADMIN,  # always through approval vault.cash
    ("POST", "/tills/{till_id}/cash"): STAFF,  # tellers: their own till, through approval
    ("GET", "/ledger/accounts"): _SUPERVISORS,
    ("GET", "/ledger/accounts/{code}/entries"): _SUPERVISORS,
    ("GET", "/ledger/journal/{journal_id}"): _SUPERVISORS,
    ("GET", "/ledger/trial-balance"): _SUPERVISORS,
    ("GET", "/approval-policies"): STAFF,
    ("PUT", "/approval-policies/{action}"): ADMIN,
    ("GET", "/approvals"): STAFF,  # tellers: their own and the till.receive ones for them
    # Its maker (a customer's own large transfer too), its checkers, supervisors, admins.
    ("GET", "/approvals/{approval_id}"): SIGNED_IN,
    ("POST", "/approvals/{approval_id}/approve"): STAFF,  # tellers: till.receive only
    ("POST", "/approvals/{approval_id}/reject"): STAFF,
    ("POST", "/approvals/{approval_id}/cancel"): SIGNED_IN,  # its maker
    # Tills, sessions and the vault beyond the first ones (API.md "Tills and teller sessions").
    ("PATCH", "/tills/{till_id}"): _SUPERVISORS,
    ("GET", "/sessions"): STAFF,  # tellers: their own
    ("GET", "/sessions/{session_id}/journal"): STAFF,  # its teller, supervisors, admins
    ("POST", "/vault/count"): _SUPERVISORS,
    ("GET", "/cash-position"): _SUPERVISORS,
    # The business day and reversals (API.md "Business day", "Reversals").
    ("GET", "/business-day"): STAFF,
    ("POST", "/business-day/close"): _SUPERVISORS,
    ("GET", "/business-days"): _SUPERVISORS,
    ("GET", "/business-days/verify"): _SUPERVISORS,
    ("GET", "/business-days/{date}/report"): _SUPERVISORS,
    ("POST", "/transactions/{transaction_id}/reverse"): STAFF,
}
ROUTE_ROLES.update(V2_ROUTE_ROLES)

_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


@dataclass
class Operation:
    """One operation of the OpenAPI schema, with its parameters and body resolved."""

    method: str
    path: str
    spec: dict[str, Any]
    openapi: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """Return (METHOD, path), the key of the hand-written tables."""
        return self.method, self.path

    @property
    def label(self) -> str:
        """Return `METHOD /path`, for test ids."""
        return f"{self.method} {self.path}"

    def params(self, where: str) -> list[dict[str, Any]]:
        """Return the parameters in `path`, `query` or `header`, schemas resolved."""
        found = []
        for param in self.spec.get("parameters", []):
            param = resolve(self.openapi, param)
            if param["in"] == where:
                found.append({**param, "schema": resolve(self.openapi, param.get("schema", {}))})
        return found

    @property
    def path_params(self) -> list[dict[str, Any]]:
        """Return the path parameters."""
        return self.params("path")

    @property
    def query_params(self) -> list[dict[str, Any]]:
        """Return the query parameters."""
        return self.params("query")

    def body(self, media_type: str) -> dict[str, Any] | None:
        """Return the resolved body schema for a media type, or None."""
        content = self.spec.get("requestBody", {}).get("content", {})
        if media_type not in content:
            return None
        return resolve(self.openapi, content[media_type].get("schema", {}))

    @property
    def json_body(self) -> dict[str, Any] | None:
        """Return the JSON request body schema, or None."""
        return self.body("application/json")

    @property
    def form_body(self) -> dict[str, Any] | None:
        """Return the form request body schema, or None."""
        return self.body("application/x-www-form-urlencoded")

    @property
    def body_fields(self) -> dict[str, dict[str, Any]]:
        """Return the properties of the request body (JSON or form), resolved."""
        schema = self.json_body or self.form_body or {}
        return {
            name: resolve(self.openapi, prop) for name, prop in schema.get("properties", {}).items()
        }

    @property
    def secured(self) -> bool:
        """Tell whether the schema names a security requirement (a bearer token is read)."""
        return bool(self.spec.get("security"))

    @property
    def statuses(self) -> set[int]:
        """Return the statuses the schema declares."""
        return {int(code) for code in self.spec.get("responses", {}) if code.isdigit()}

    def url(self, **values: object) -> str:
        """Fill the path template."""
        return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), self.path)


def resolve(openapi: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s (local ones) until a concrete node."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = openapi
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations(openapi: dict[str, Any]) -> list[Operation]:
    """Return every operation of the schema, in schema order."""
    found = []
    for path, item in openapi["paths"].items():
        for method in _METHODS:
            if method in item:
                found.append(Operation(method.upper(), path, item[method], openapi))
    return found


_SCHEMA_SCRIPT = """
import json
from server.config import Settings
from server.main import create_app
from tests.support import TEST_SECRET
app = create_app(Settings(secret_key=TEST_SECRET, mongodb_url=None))
print("OPENAPI:" + json.dumps(app.openapi()))
"""


@cache
def app_openapi() -> dict[str, Any]:
    """Build the OpenAPI schema of the code the test servers run, without a server.

    Parametrization happens at collection, before any fixture starts a server, so the
    schema is built in a child process (building the app here would reconfigure this
    process's logging); the suite checks that its servers serve exactly this schema.
    """
    env = {**os.environ, "BANK_ENV": "development", "SENTRY_DSN": "", "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-c", _SCHEMA_SCRIPT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    line = next(line for line in done.stdout.splitlines() if line.startswith("OPENAPI:"))
    schema: dict[str, Any] = json.loads(line.removeprefix("OPENAPI:"))
    return schema


def load_openapi(base_url: str) -> dict[str, Any]:
    """Fetch a running server's OpenAPI schema."""
    import httpx

    response = httpx.get(f"{base_url}/openapi.json", timeout=30)
    response.raise_for_status()
    schema: dict[str, Any] = response.json()
    return schema


def probe(op: Operation) -> tuple[str, dict[str, Any], bool]:
    """Build a request invalid in every input the route validates; tell if any was invalid."""
    invalid = False
    values: dict[str, Any] = {}
    for param in op.path_params:
        schema = param["schema"]
        if schema.get("type") == "integer" and "minimum" in schema:
            values[param["name"]] = int(schema["minimum"]) - 1
            invalid = True
        else:
            values[param["name"]] = "0"
    kwargs: dict[str, Any] = {}
    query = {}
    for param in op.query_params:
        schema = param["schema"]
        if schema.get("type") == "integer" and "minimum" in schema:
            query[param["name"]] = int(schema["minimum"]) - 1
            invalid = True
    if query:
        kwargs["params"] = query
    if op.json_body is not None:
        kwargs["json"] = ["not", "an", "object"]
        invalid = True
    elif op.form_body is not None:
        kwargs["data"] = {}
        invalid = bool(op.form_body.get("required"))
    return op.url(**values), kwargs, invalid


def status_code(status: int) -> str | None:
    """Return the error code API.md pairs with an authorization answer."""
    return {401: "not_authenticated", 403: "forbidden", 404: "not_found"}.get(status)
