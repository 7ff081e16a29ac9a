"""Schemathesis against the server's own OpenAPI schema, over HTTP, as every role.

Each role gets its own server and database with the same seed data (so one role's fuzzing,
which deletes users, freezes accounts and changes passwords, cannot spoil another's), abuse
limits raised for the run, a fixed seed and bounded example counts. The checks are exactly
the five the issue names, and the run must find nothing.

Genuine false positives are excluded here, each with its reason:
- Cases that would end the caller's own session or take away its rights (its own logout,
  an admin changing its own password, role or activity, or deleting itself) are not sent:
  they would turn every later example into a 401 and test nothing. Logout is still fuzzed,
  with a session of its own per example.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from server.db import EmbeddedDatabase
from tests.security.routes import ROLES, app_openapi
from tests.support import (
    ADMIN_PASSWORD,
    TEST_SECRET,
    Api,
    ServerProcess,
    expect,
    leaked_secrets,
    make_first_checker,
)

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
]
SEED = 20261129
# Per operation and role; the coverage and examples phases add their own (bounded) cases.
MAX_EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "30"))
SERVER_ENV = {
    "LOGIN_MAX_FAILURES": "1000000",
    "MOVEMENT_RATE_PER_MINUTE": "1000000",
    "REQUEST_TIMEOUT_SECONDS": "60",
}
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "phases": {"stateful": {"enabled": False}},
        "generation": {"database": "none"},
    }
)
_databases = itertools.count(1)
# Statuses each role's examples got, by operation; and how many operations must have seen 2xx.
ANSWERS: dict[str, dict[str, Counter[int]]] = {}
MIN_OPERATIONS_WITH_SUCCESS = {"anon": 3, "user": 12, "teller": 15, "admin": 18}
SEED_PASSWORDS = {name: f"{name}-fuzz-pass-7f3e" for name in ("teller", "alice", "bob")}


@dataclass
class Target:
    """A server seeded with the same data for each role, and that role's credentials."""

    role: str
    server: ServerProcess
    username: str | None = None
    password: str | None = None
    token: str | None = None
    user_id: int | None = None
    seeded: dict[str, Any] = field(default_factory=dict)

    def headers(self, case: Case) -> dict[str, str]:
        """Return the Authorization header for a case (a throwaway session for logout)."""
        if self.token is None:
            return {}
        if case.operation.path == "/logout":
            return {"Authorization": f"Bearer {self.login()}"}
        return {"Authorization": f"Bearer {self.token}"}

    def login(self) -> str:
        """Open a new session for this role and return its access token."""
        response = httpx.post(
            f"{self.server.url}/login",
            data={"username": self.username, "password": self.password},
            timeout=30,
        )
        token: str = expect(response, 200)["access_token"]
        return token

    def sabotages_itself(self, case: Case) -> bool:
        """Tell whether a case would revoke or remove the caller's own account."""
        if self.user_id is None or case.operation.path != "/users/{user_id}":
            return False
        raw = str((case.path_parameters or {}).get("user_id")).strip()
        if not (raw.isascii() and raw.isdigit() and int(raw) == self.user_id):
            return False
        if case.method.upper() == "DELETE":
            return True
        body = case.body if isinstance(case.body, dict) else {}
        return case.method.upper() == "PUT" and any(
            key in body for key in ("password", "role", "is_active")
        )


def seed(server: ServerProcess) -> dict[str, Any]:
    """Create the same small bank in every role's database: staff, customers, money."""
    anon = Api(server.url)
    admin = anon.login("admin", ADMIN_PASSWORD)
    users = {}
    for name, role in (("teller", "teller"), ("alice", "user"), ("bob", "user")):
        if role != "user":  # giving a role waits for a checker (user.role): made on the host
            staff = make_first_checker(server, anon, f"fz-{name}", SEED_PASSWORDS[name], role)
            users[name] = expect(staff.get("/me"), 200)
            staff.close()
            continue
        body = {"username": f"fz-{name}", "password": SEED_PASSWORDS[name], "role": role,
                "full_name": f"Fuzz {name.title()}", "email": f"{name}@example.com"}  # fmt: skip
        users[name] = expect(admin.post("/users", json=body), 201)
    # Cash goes through a till: the admin works an (empty) till of its own for the seed.
    till = expect(admin.post("/tills", json={"name": "Fuzz till"}), 201)
    expect(admin.post(f"/tills/{till['id']}/sessions", json={}), 201)
    accounts = {}
    for name, owner, currency in (("alice", "alice", "USD"), ("alice2", "alice", "USD"),
                                  ("bob", "bob", "USD"), ("bob_eur", "bob", "EUR")):  # fmt: skip
        body = {"account_type": "checking", "owner_id": users[owner]["id"], "currency": currency}
        accounts[name] = expect(admin.post("/accounts", json=body), 201)
        expect(admin.post(f"/accounts/{accounts[name]['id']}/deposit",
                          json={"amount": "5000.00"}), 201)  # fmt: skip
    transfer = {"from_account_id": accounts["alice"]["id"], "to_account_id": accounts["bob"]["id"],
                "amount": "10.00", "description": "seed"}  # fmt: skip
    expect(admin.post("/transfers", json=transfer), 201)
    admin.close()
    anon.close()
    return {"users": users, "accounts": accounts}


@pytest.fixture(scope="module", params=ROLES)
def target(
    request: pytest.FixtureRequest,
    wire_db: EmbeddedDatabase,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    """A fresh seeded server for one role, with that role signed in."""
    role: str = request.param
    process = ServerProcess(
        mongodb_url=wire_db.url,
        database_name=f"t_fuzz_{role}_{os.getpid()}_{next(_databases)}",
        data_dir=tmp_path_factory.mktemp(f"fuzz-{role}"),
        env=dict(SERVER_ENV),
    ).start()
    try:
        seeded = seed(process)
        target = Target(role=role, server=process, seeded=seeded)
        if role != "anon":
            if role == "admin":
                target.username, target.password = "admin", ADMIN_PASSWORD
            else:
                name = "teller" if role == "teller" else "alice"
                target.username, target.password = f"fz-{name}", SEED_PASSWORDS[name]
            target.token = target.login()
            me = httpx.get(f"{process.url}/me", headers={"Authorization": f"Bearer {target.token}"})
            target.user_id = expect(me, 200)["id"]
        yield target
    finally:
        process.stop()
    # Fuzzing sends passwords and tokens in every shape: none may reach the server's log.
    secrets = {TEST_SECRET, ADMIN_PASSWORD, *SEED_PASSWORDS.values(), target.token or ""}
    assert not leaked_secrets(process.full_log(), secrets - {""}), "a secret reached the log"


OPENAPI = app_openapi()
schema = schemathesis.openapi.from_dict(copy.deepcopy(OPENAPI), config=CONFIG)


def test_servers_serve_the_schema_under_test(target: Target) -> None:
    served = httpx.get(f"{target.server.url}/openapi.json", timeout=30)
    assert expect(served, 200) == OPENAPI


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_its_schema(case: Case, target: Target) -> None:
    if target.sabotages_itself(case):
        return
    response = case.call_and_validate(
        base_url=target.server.url, headers=target.headers(case), checks=CHECKS, timeout=60
    )
    ANSWERS.setdefault(target.role, {}).setdefault(case.operation.label, Counter())[
        response.status_code
    ] += 1


def test_fuzzing_reached_the_handlers() -> None:
    # Not vacuous: as each signed-in role, most operations answered 2xx to some examples, so
    # the examples got past authentication, validation and lookups into the handlers.
    if not ANSWERS:
        pytest.skip("the fuzzing tests did not run (deselected)")
    for role, floor in MIN_OPERATIONS_WITH_SUCCESS.items():
        succeeded = sorted(
            label for label, counts in ANSWERS.get(role, {}).items()
            if any(200 <= status < 300 for status in counts)
        )  # fmt: skip
        assert len(succeeded) >= floor, (role, succeeded)
