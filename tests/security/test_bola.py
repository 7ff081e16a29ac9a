"""API1 Broken Object Level Authorization: every route that takes an id, every role, every target.

API.md: an object the caller may not see answers 404 `not_found`, exactly as a missing one
does (the test compares the two bodies); a visible object the caller may not change answers
403 `forbidden`; a route the caller's role may not use answers 403 whatever the id. A
refusal changes nothing (an admin reads the target before and after). The matrix is checked
against the OpenAPI schema: a new route that takes an id (in its path, query or body) fails
`test_every_route_taking_an_id_is_in_the_matrix` until it is placed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.security.conftest import MISSING_ID, World
from tests.security.routes import Operation, status_code
from tests.support import ROOT, Api, expect

USER_TARGETS = ("self", "customer", "teller", "admin", "deleted", "missing")
# A status, or for list filters "items" (a page of the target's objects) / "empty" (none),
# or OWN: 403 `own_account` (a staff member's money request on their own account).
Outcome = int | str
OWN = "own_account"
Table = dict[str, dict[str, Outcome]]
BodyFn = Callable[[World, Any], dict[str, Any]]
# Tellers and supervisors see the same objects (API.md version 2: a supervisor has every
# right of a teller); only routes of their own (/audit) tell them apart.
SERVING = ("teller", "supervisor")


@dataclass(frozen=True)
class IdRoute:
    """How a route takes an id, and what each role gets for each kind of target."""

    kind: str  # user, account, transfer or payee
    table: Table  # role -> target -> outcome (anonymous callers always get 401)
    where: str = "path"  # path, or body:FIELD / query:FIELD
    body: BodyFn | None = None
    fresh: bool = False  # a success destroys the target: use a new one (and a new caller for self)


def for_all(targets: tuple[str, ...], status: Outcome) -> dict[str, Outcome]:
    """Give every target the same outcome."""
    return dict.fromkeys(targets, status)


def serving(targets: dict[str, Outcome]) -> dict[str, dict[str, Outcome]]:
    """The same outcomes for tellers and supervisors."""
    return {role: dict(targets) for role in SERVING}


SEE_USER: Table = {
    "user": {"self": 200, "customer": 404, "teller": 404, "admin": 404, "deleted": 404,
             "missing": 404},
    **serving({"self": 200, "customer": 200, "teller": 404, "admin": 404, "deleted": 404,
               "missing": 404}),
    "admin": {"self": 200, "customer": 200, "teller": 200, "admin": 200, "deleted": 200,
              "missing": 404},
}  # fmt: skip
CHANGE_USER: Table = {**SEE_USER, "admin": {**SEE_USER["admin"], "deleted": 404}}


def admin_on_user(success: int, deleted: int) -> Table:
    """An admin-only route on users: 403 for everyone else, whatever the id."""
    return {
        "user": for_all(USER_TARGETS, 403),
        **serving(for_all(USER_TARGETS, 403)),
        "admin": {**for_all(("self", "customer", "teller", "admin"), success),
                  "deleted": deleted, "missing": 404},
    }  # fmt: skip


def see_account(success: int) -> Table:
    """Owner and admins see an account; tellers and supervisors a customer's or their own,
    not another staff member's; another customer gets 404."""
    return {
        "user": {"own": success, "customer": 404, "other_staff": 404, "missing": 404},
        **serving({"customer": success, "mine": success, "other_staff": 404, "missing": 404}),
        "admin": {"customer": success, "mine": success, "other_staff": success, "missing": 404},
    }


def move_money(success: int) -> Table:
    """As `see_account`, but staff may not move money on their own accounts (403 own_account,
    before the visibility check)."""
    table = see_account(success)
    for role in (*SERVING, "admin"):
        table[role] = {**table[role], "mine": OWN}
    return table


OWNER_ONLY: Table = {
    "user": {"own": 200, "customer": 404, "other_staff": 404, "missing": 404},
    # Staff see the account but only its owner may rename it.
    **serving({"customer": 403, "mine": 200, "other_staff": 404, "missing": 404}),
    "admin": {"customer": 403, "mine": 200, "other_staff": 403, "missing": 404},
}


def admin_on_account(success: int) -> Table:
    """An admin-only route on accounts."""
    return {
        "user": {"own": 403, "customer": 403, "missing": 403},
        **serving({"customer": 403, "other_staff": 403, "missing": 403}),
        "admin": {"customer": success, "other_staff": success, "missing": 404},
    }


SEE_TRANSFER: Table = {
    "user": {"outgoing": 200, "incoming": 200, "unrelated": 404, "staff_side": 404,
             "missing": 404},
    # A transfer with another staff member's account on one side is theirs and admins'.
    **serving({"outgoing": 200, "incoming": 200, "unrelated": 200, "staff_side": 404,
               "missing": 404}),
    "admin": {"outgoing": 200, "incoming": 200, "unrelated": 200, "staff_side": 200,
              "missing": 404},
}  # fmt: skip
PAYEE_TARGETS = ("own", "customer", "frozen", "closed", "bad_check", "missing")
_PAYEE_BASE = {"own": 200, "customer": 200, "frozen": 404, "closed": 404, "bad_check": 404,
               "missing": 404}  # fmt: skip
PAYEE: Table = {
    "user": {**_PAYEE_BASE, "other_staff": 200},  # customers may pay anyone, staff too
    **serving({**_PAYEE_BASE, "mine": 200, "other_staff": 404}),
    "admin": {**_PAYEE_BASE, "mine": 200, "other_staff": 200},
}
OPEN_FOR: Table = {
    # Customers open accounts for themselves only: 403 for any other id, existing or not.
    "user": {"self": 201, "customer": 403, "teller": 403, "admin": 403, "deleted": 403,
             "missing": 403},
    # Tellers open accounts for customers; staff they cannot see answer as missing ones do.
    **serving({"self": 403, "customer": 201, "teller": 404, "admin": 404, "deleted": 404,
               "missing": 404}),
    "admin": {"self": 201, "customer": 201, "teller": 201, "admin": 201, "deleted": 404,
              "missing": 404},
}  # fmt: skip
ACCOUNTS_OF: Table = {
    # A customer asking for someone else's accounts gets an empty page, never theirs.
    "user": {"self": "items", "customer": "empty", "teller": "empty", "admin": "empty",
             "deleted": "empty", "missing": "empty"},
    # Another staff member's accounts are left out of a teller's or supervisor's lists.
    **serving({"self": "items", "customer": "items", "teller": "empty", "missing": "empty"}),
    "admin": {"self": "items", "customer": "items", "teller": "items", "missing": "empty"},
}  # fmt: skip
AUDIT_BY: Table = {
    "user": for_all(USER_TARGETS, 403),
    "teller": for_all(USER_TARGETS, 403),
    "supervisor": for_all(USER_TARGETS, 200),
    "admin": for_all(USER_TARGETS, 200),
}


def same_name(world: World, user_id: Any) -> dict[str, Any]:
    """A harmless update: the user's current full name (a placeholder for unknown ids)."""
    response = world.admin.get(f"/users/{user_id}")
    return {"full_name": response.json()["full_name"] if response.status_code == 200 else "X Y"}


def transfer_from(world: World, account_id: Any) -> dict[str, Any]:
    """A small transfer from the target account to carol's."""
    return {"from_account_id": account_id, "to_account_id": world.accounts["carol"]["id"],
            "amount": "1.00"}  # fmt: skip


MATRIX: dict[tuple[str, str], IdRoute] = {
    ("GET", "/users/{user_id}"): IdRoute("user", SEE_USER),
    ("PUT", "/users/{user_id}"): IdRoute("user", CHANGE_USER, body=same_name),
    ("DELETE", "/users/{user_id}"): IdRoute("user", admin_on_user(204, 404), fresh=True),
    ("GET", "/users/{user_id}/accounts"): IdRoute("user", SEE_USER),
    ("POST", "/users/{user_id}/unlock"): IdRoute("user", admin_on_user(204, 204)),
    ("POST", "/accounts"): IdRoute(
        "user",
        OPEN_FOR,
        where="body:owner_id",
        body=lambda _world, owner: {"account_type": "savings", "owner_id": owner},
    ),
    ("GET", "/accounts"): IdRoute("user", ACCOUNTS_OF, where="query:owner_id"),
    ("GET", "/accounts/{account_id}"): IdRoute("account", see_account(200)),
    ("PATCH", "/accounts/{account_id}"): IdRoute(
        "account", OWNER_ONLY, body=lambda _world, _id: {"nickname": "Mine"}
    ),
    ("PUT", "/accounts/{account_id}/admin"): IdRoute(
        "account", admin_on_account(200), body=lambda _world, _id: {}
    ),
    ("DELETE", "/accounts/{account_id}"): IdRoute("account", admin_on_account(204), fresh=True),
    ("GET", "/payees/{number}"): IdRoute("payee", PAYEE),
    ("POST", "/accounts/{account_id}/deposit"): IdRoute(
        "account", move_money(201), body=lambda _world, _id: {"amount": "1.00"}
    ),
    ("POST", "/accounts/{account_id}/withdraw"): IdRoute(
        "account", move_money(201), body=lambda _world, _id: {"amount": "1.00"}
    ),
    # The destination need not be visible (API.md); the source must be the caller's.
    # Destinations: test_transfer_destinations.
    ("POST", "/transfers"): IdRoute(
        "account", move_money(201), where="body:from_account_id", body=transfer_from
    ),
    ("GET", "/transfers/{transfer_id}"): IdRoute("transfer", SEE_TRANSFER),
    ("GET", "/accounts/{account_id}/transactions"): IdRoute("account", see_account(200)),
    ("GET", "/accounts/{account_id}/statement"): IdRoute("account", see_account(200)),
    ("GET", "/audit"): IdRoute("user", AUDIT_BY, where="query:actor_id"),
}

# Id-like names in paths, queries and bodies.
_ID_NAMES = ("_id", "number")


def takes_an_id(op: Operation) -> bool:
    """Tell whether an operation names an object by id, in its path, query or body."""
    if op.path_params:
        return True
    names = [param["name"] for param in op.query_params] + list(op.body_fields)
    return any(name.endswith(_ID_NAMES) for name in names)


# Version 2's routes that name an object: who may act on which object is the contract's
# per-section rule, tested in each section's own module (not as this matrix's rows yet).
OBJECT_RULES_TESTED_IN: dict[tuple[str, str], str] = {
    ("GET", "/accounts/{account_id}/holds"): "tests/e2e/test_holds.py",
    ("POST", "/accounts/{account_id}/holds"): "tests/e2e/test_holds.py",
    ("POST", "/holds/{hold_id}/release"): "tests/e2e/test_holds.py",
    ("GET", "/approvals"): "tests/e2e/test_approvals.py",
    ("GET", "/approvals/{approval_id}"): "tests/e2e/test_approvals.py",
    ("POST", "/approvals/{approval_id}/approve"): "tests/e2e/test_approvals.py",
    ("POST", "/approvals/{approval_id}/cancel"): "tests/e2e/test_approvals.py",
    ("POST", "/approvals/{approval_id}/reject"): "tests/e2e/test_approvals.py",
    ("PUT", "/approval-policies/{action}"): "tests/e2e/test_approvals.py",
    ("GET", "/business-days/{date}/report"): "tests/e2e/test_business_day.py",
    ("GET", "/ledger/accounts/{code}/entries"): "tests/e2e/test_ledger_reads.py",
    ("GET", "/ledger/journal/{journal_id}"): "tests/e2e/test_ledger_reads.py",
    ("GET", "/sessions"): "tests/e2e/test_sessions.py",
    ("GET", "/sessions/{session_id}"): "tests/e2e/test_sessions.py",
    ("GET", "/sessions/{session_id}/journal"): "tests/e2e/test_sessions.py",
    ("POST", "/sessions/{session_id}/close"): "tests/e2e/test_sessions.py",
    ("GET", "/tills/{till_id}"): "tests/e2e/test_tills.py",
    ("PATCH", "/tills/{till_id}"): "tests/e2e/test_tills.py",
    ("POST", "/tills/{till_id}/cash"): "tests/e2e/test_tills.py",
    ("POST", "/tills/{till_id}/sessions"): "tests/e2e/test_sessions.py",
    ("POST", "/transactions/{transaction_id}/reverse"): "tests/e2e/test_reversals.py",
    ("POST", "/users/{user_id}/documents"): "tests/e2e/test_customers.py",
    ("POST", "/users/{user_id}/documents/{document_id}/verify"): "tests/e2e/test_customers.py",
    ("PUT", "/users/{user_id}/profile"): "tests/e2e/test_customers.py",
}


def test_every_route_taking_an_id_is_in_the_matrix(ops: list[Operation]) -> None:
    taking = {op.key for op in ops if takes_an_id(op)}
    known = set(MATRIX) | set(OBJECT_RULES_TESTED_IN)
    assert taking == known, (
        f"add to MATRIX: {sorted(taking - known)}; "
        f"no longer in the schema: {sorted(known - taking)}"
    )
    for module in OBJECT_RULES_TESTED_IN.values():
        assert (ROOT / module).is_file(), module


def cases() -> list[Any]:
    """Every (route, role, target) of the matrix, anonymous callers included."""
    found = []
    for key, route in MATRIX.items():
        targets = dict.fromkeys(t for table in route.table.values() for t in table)
        for role in ("anon", "user", *SERVING, "admin"):
            for target in route.table.get(role, dict.fromkeys(targets, 401)):
                label = f"{key[0]} {key[1]}-{role}-{target}"
                found.append(pytest.param(key, role, target, id=label))
    return found


@pytest.fixture(scope="module")
def deleted_customer(world: World) -> dict[str, Any]:
    """A customer who was deleted (soft): still readable by admins, gone for everyone else."""
    user = world.fresh_user()
    expect(world.admin.delete(f"/users/{user['id']}"), 204)
    return user


def target_value(
    world: World, route: IdRoute, role: str, target: str, deleted: dict[str, Any], fresh: bool
) -> Any:
    """Resolve a target name to the id (or account number) to send."""
    if route.kind == "user":
        if target == "deleted":
            return deleted["id"]
        if fresh and target in ("customer", "teller", "admin"):
            return world.fresh_user({"customer": "user"}.get(target, target))["id"]
        return world.user_id(target, role)
    if route.kind == "account":
        if fresh and target == "customer":
            return world.fresh_account()["id"]
        if fresh and target == "other_staff":
            return world.fresh_account("teller")["id"]
        return world.account_id(target, role)
    if route.kind == "transfer":
        return MISSING_ID if target == "missing" else world.transfers[target]["id"]
    number = {"own": "alice", "customer": "bob", "frozen": "frozen", "closed": "closed",
              "other_staff": "teller2", "mine": role if role != "anon" else "alice"}  # fmt: skip
    if target in number:
        return world.accounts[number[target]]["number"]
    if target == "bad_check":  # an existing account's number with its check digits changed
        good = world.accounts["alice"]["number"]
        return good[:8] + f"{(int(good[8:]) + 1) % 100:02d}"
    return "0099999999"


def send(api: Api, method: str, path: str, route: IdRoute, value: Any, world: World) -> Any:
    """Send the request of a case with the id where the route takes it."""
    kwargs: dict[str, Any] = {}
    if route.where.startswith("query:"):
        kwargs["params"] = {route.where.split(":", 1)[1]: value}
    if route.body is not None:
        kwargs["json"] = route.body(world, value)
    url = re.sub(r"\{\w+\}", str(value), path) if route.where == "path" else path
    return api.request(method, url, **kwargs)


def snapshot(world: World, route: IdRoute, value: Any) -> Any:
    """What a refusal must leave untouched: the target, or the accounts a request names."""
    if route.where == "body:owner_id":
        return expect(world.admin.get("/accounts", params={"owner_id": value, "limit": 200}), 200)
    if route.where == "body:from_account_id":
        return [world.snapshot("account", value),
                world.snapshot("account", world.accounts["carol"]["id"])]  # fmt: skip
    return world.snapshot(route.kind, value)


def check_outcome(response: httpx.Response, outcome: Outcome, value: Any) -> None:
    """Assert a status (with its error code) or a list outcome."""
    if outcome in ("items", "empty"):
        page = expect(response, 200)
        owners = {item["owner_id"] for item in page["items"]}
        if outcome == "empty":
            assert page["total"] == 0, page
            assert page["items"] == [], page
        else:
            assert page["items"], page
            assert owners == {value}, page
        return
    if outcome == OWN:
        expect(response, 403, OWN)
        return
    assert isinstance(outcome, int)
    expect(response, outcome, status_code(outcome) if outcome >= 400 else None)


@pytest.mark.parametrize(("key", "role", "target"), cases())
def test_object_level_authorization(
    world: World, deleted_customer: dict[str, Any], key: tuple[str, str], role: str, target: str
) -> None:
    method, path = key
    route = MATRIX[key]
    outcome = route.table.get(role, {}).get(target, 401)
    succeeds = isinstance(outcome, int) and outcome < 300
    fresh = route.fresh and succeeds
    api = world.caller(role)
    fresh_api: Api | None = None
    if fresh and target == "self":
        me, fresh_api = world.fresh_caller(role)
        api, value = fresh_api, me["id"]
    else:
        value = target_value(world, route, role, target, deleted_customer, fresh)
    mutating = method != "GET"
    before = snapshot(world, route, value) if mutating and not succeeds else None
    response = send(api, method, path, route, value, world)
    try:
        check_outcome(response, outcome, value)
        if before is not None:
            assert snapshot(world, route, value) == before, "a refused request changed data"
        if outcome == 404 and target != "missing" and route.kind != "payee":
            # Never reveal existence: an invisible object answers exactly as a missing one.
            missing = send(api, method, path, route, MISSING_ID, world)
            assert (missing.status_code, missing.json()) == (404, response.json())
    finally:
        if fresh_api is not None:
            fresh_api.close()


# --- transfer destinations ---------------------------------------------------------------------

# Destination targets, and the account each names (None: no account; `mine`: the caller's).
DESTINATIONS = {
    "mine": None, "other_staff": "teller2", "customer_frozen": "frozen",
    "customer_closed": "closed", "customer_other_currency": "bob_eur",
    "own_frozen": "alice_frozen", "own_other_currency": "alice_eur", "missing": None,
}  # fmt: skip
NOT_ACTIVE, MISMATCH = "account_not_active", "currency_mismatch"
# What each role gets paying each destination. A customer paying someone else's account
# learns only that no active account has this number (404, as for a missing one), never
# that it is frozen, closed or in another currency; its owner, and staff who see it, get
# the reason. Staff may not pay their own account (403 own_account).
PAY_TO: dict[str, dict[str, Outcome]] = {
    "user": {"other_staff": 201, "customer_frozen": 404, "customer_closed": 404,
             "customer_other_currency": 404, "own_frozen": NOT_ACTIVE,
             "own_other_currency": MISMATCH, "missing": 404},
    **{role: {"mine": OWN, "other_staff": 404, "customer_frozen": NOT_ACTIVE,
              "customer_closed": NOT_ACTIVE, "customer_other_currency": MISMATCH,
              "own_frozen": NOT_ACTIVE, "own_other_currency": MISMATCH, "missing": 404}
       for role in SERVING},
    "admin": {"mine": OWN, "other_staff": 201, "customer_frozen": NOT_ACTIVE,
              "customer_closed": NOT_ACTIVE, "customer_other_currency": MISMATCH,
              "own_frozen": NOT_ACTIVE, "own_other_currency": MISMATCH, "missing": 404},
}  # fmt: skip


def destination_cases() -> list[Any]:
    """Every (role, destination, by id or number) of PAY_TO."""
    return [
        pytest.param(role, target, by, id=f"{role}-{target}-by_{by}")
        for role, table in PAY_TO.items()
        for target in table
        for by in ("id", "number")
    ]


def destination_field(world: World, role: str, target: str, by: str) -> dict[str, Any]:
    """The destination part of a transfer body."""
    name = role if target == "mine" else DESTINATIONS[target]
    if name is None:
        return {"to_account_id": MISSING_ID} if by == "id" else {"to_account_number": "0099999999"}
    account = world.accounts[name]
    return (
        {"to_account_id": account["id"]} if by == "id" else {"to_account_number": account["number"]}
    )


@pytest.mark.parametrize(("role", "target", "by"), destination_cases())
def test_transfer_destinations(world: World, role: str, target: str, by: str) -> None:
    api = world.caller(role)
    source = world.accounts["alice" if role == "user" else "bob"]
    outcome = PAY_TO[role][target]
    body = {"from_account_id": source["id"], "amount": "1.00",
            **destination_field(world, role, target, by)}  # fmt: skip
    watched = [source["id"], *(v for k, v in body.items() if k == "to_account_id")]
    before = [world.snapshot("account", account_id) for account_id in watched]
    response = api.post("/transfers", json=body)
    if outcome == 201:
        expect(response, 201)
        return
    if outcome in (NOT_ACTIVE, MISMATCH):
        expect(response, 409, str(outcome))
    else:
        check_outcome(response, outcome, None)
    assert [world.snapshot("account", account_id) for account_id in watched] == before
    if outcome == 404 and target != "missing":
        missing = {**body, **destination_field(world, role, "missing", by)}
        answer = api.post("/transfers", json=missing)
        assert (answer.status_code, answer.json()) == (404, response.json())
