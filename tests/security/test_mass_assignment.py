"""API3 Broken Object Property Level Authorization: mass assignment and excessive exposure.

Every JSON request body of the schema gets, as every role that may send it, an unknown
field and each privileged field its schema does not name (`role`, `balance`, `owner_id`,
`id`, `version`, `is_active`, ...): 422 naming exactly that field, and an admin reading the
target before and after sees nothing changed. Privileged fields a body does name are refused
with 403 to roles that may not set them, again with nothing changed. On the way out, no
response carries a property its schema does not declare, and no schema declares a secret.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.conftest import World
from tests.security.routes import Operation, resolve
from tests.support import expect

_names = itertools.count(1)

# Fields a client must never set through a body that does not name them, with a value each.
PRIVILEGED: dict[str, Any] = {
    "id": 1, "_id": 1, "role": "admin", "is_active": True, "is_admin": True,
    "balance": "1000000.00", "owner_id": 1, "owner_name": "Someone Else", "number": "0000000195",
    "version": 99, "status": "active", "overdraft_limit": "1000000.00",
    "daily_withdrawal_limit": None, "currency": "EUR", "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z", "deleted_at": None, "password_hash": "$argon2id$x",
    "failed_logins": 0, "locked_until": None, "performed_by": 1, "entry_seq": 0,
    "account_id": 1, "type": "deposit", "balance_after": "1.00", "transfer_id": 1,
    "username": "admin", "user_id": 1, "sid": "x", "Role": "admin", "ROLE": "admin",
    "unknown_field": 1,
}  # fmt: skip


@dataclass
class Sender:
    """How one role sends a valid body to an operation, and what a refusal must not change."""

    url: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    state: Callable[[World, dict[str, Any]], Any]


def user_state(name: str) -> Callable[[World, dict[str, Any]], Any]:
    """An admin's view of a user."""
    return lambda world, _body: world.snapshot("user", world.people[name]["id"])


def account_state(*names: str) -> Callable[[World, dict[str, Any]], Any]:
    """An admin's view of accounts and their ledgers."""

    def read(world: World, _body: dict[str, Any]) -> Any:
        views = []
        for name in names:
            account_id = world.accounts[name]["id"]
            ledger = world.admin.get(f"/accounts/{account_id}/transactions", params={"limit": 1})
            views.append((world.snapshot("account", account_id), expect(ledger, 200)["total"]))
        return views

    return read


def accounts_of(name: str) -> Callable[[World, dict[str, Any]], Any]:
    """How many accounts a user has."""

    def read(world: World, _body: dict[str, Any]) -> Any:
        params = {"owner_id": world.people[name]["id"], "limit": 200}
        return expect(world.admin.get("/accounts", params=params), 200)["total"]

    return read


def new_user_body(_world: World) -> dict[str, Any]:
    """A sign-up with a username never used."""
    name = f"massassign{next(_names)}x{os.getpid() % 1000}"
    return {"username": name, "password": "a-good-password", "full_name": "New Person",
            "email": f"{name}@example.com"}  # fmt: skip


def username_taken(world: World, body: dict[str, Any]) -> Any:
    """Whether a body's username exists (deleted users included)."""
    params = {"q": body["username"], "include_deleted": "true"}
    return expect(world.admin.get("/users", params=params), 200)["total"]


def refresh_token(world: World) -> str:
    """A new refresh token of alice's."""
    username = world.people["alice"]["username"]
    token: str = world.anon.tokens(username, world.passwords["alice"])["refresh_token"]
    return token


def url(template: str, **names: str) -> Callable[[World], str]:
    """Fill a path with the ids of named people (`user`) or accounts (`account`)."""

    def build(world: World) -> str:
        values = {}
        for key, name in names.items():
            values[key] = (world.people if key == "user_id" else world.accounts)[name]["id"]
        return template.format(**values)

    return build


def fixed(body: dict[str, Any]) -> Callable[[World], dict[str, Any]]:
    """Always the same body."""
    return lambda _world: dict(body)


def with_ids(body: dict[str, Any], **names: str) -> Callable[[World], dict[str, Any]]:
    """A body with ids of named people or accounts filled in."""

    def build(world: World) -> dict[str, Any]:
        filled = dict(body)
        for key, name in names.items():
            filled[key] = (world.people if key == "owner_id" else world.accounts)[name]["id"]
        return filled

    return build


def admin_view(*paths: Callable[[World], str]) -> Callable[[World, dict[str, Any]], Any]:
    """What an admin reads at some paths (version 2's objects: tills, the vault, policies)."""

    def read(world: World, _body: dict[str, Any]) -> Any:
        return [(r.status_code, r.json()) for r in (world.admin.get(p(world)) for p in paths)]

    return read


def made(key: str, make: Callable[[World], int]) -> Callable[[World], int]:
    """An object made once per world (a pending approval, a hold, a document): its id."""

    def get(world: World) -> int:
        cache: dict[str, int] = world.__dict__.setdefault("probe_objects", {})
        if key not in cache:
            cache[key] = make(world)
        return cache[key]

    return get


def after(make: Callable[[World], int], path: Callable[[World], str]) -> Callable[[World], str]:
    """A path read once its object is made (the state before a refusal includes it)."""
    return lambda world: (make(world), path(world))[1]


def teller_session(world: World) -> dict[str, Any]:
    """The teller caller's open till session."""
    return dict(expect(world.caller("teller").get("/sessions/current"), 200))


def alice_transaction(world: World) -> int:
    """The id of a movement on alice's account (her opening deposit)."""
    path = f"/accounts/{world.accounts['alice']['id']}/transactions"
    items = expect(world.admin.get(path, params={"limit": 1}), 200)["items"]
    return int(items[0]["id"])


def pending_approval(world: World) -> int:
    """A request waiting for a checker: the admin bringing cash into the vault."""
    body = {"direction": "in", "currency": "USD", "amount": "1.00", "reference": "probe"}
    return int(expect(world.admin.post("/vault/cash", json=body), 202)["approval"]["id"])


def active_hold(world: World) -> int:
    """A hold on alice's account."""
    path = f"/accounts/{world.accounts['alice']['id']}/holds"
    body = {"amount": "1.00", "reason_code": "other"}
    return int(expect(world.admin.post(path, json=body), 201)["id"])


DOCUMENT = {"type": "passport", "number": "P1234567", "country": "GB", "expires_on": "2040-01-01"}


def bob_document(world: World) -> int:
    """An identity document of bob's, not yet verified."""
    path = f"/users/{world.people['bob']['id']}/documents"
    return int(expect(world.admin.post(path, json=DOCUMENT), 201)["id"])


def open_date(world: World) -> str:
    """The open business date."""
    return str(expect(world.admin.get("/business-day"), 200)["date"])


_approval = made("approval", pending_approval)
_hold = made("hold", active_hold)
_document = made("document", bob_document)
_transaction = made("transaction", alice_transaction)
TILLS = lambda _w: "/tills?limit=200"  # noqa: E731
CASH = lambda _w: "/cash-position"  # noqa: E731
TILL = lambda w: f"/tills/{teller_session(w)['till_id']}"  # noqa: E731
SESSION = lambda w: f"/sessions/{teller_session(w)['id']}"  # noqa: E731
APPROVAL = lambda w: f"/approvals/{_approval(w)}"  # noqa: E731
HOLDS = lambda w: f"/accounts/{w.accounts['alice']['id']}/holds"  # noqa: E731
BOB = lambda w: f"/users/{w.people['bob']['id']}"  # noqa: E731
COUNTED = {"counted": {"USD": "0.00"}}
# Version 2's bodies: each sent by its least privileged role, against a real object.
V2_SENDERS: dict[tuple[str, str], dict[str, Sender]] = {
    ("POST", "/transactions/{transaction_id}/reverse"): {
        "teller": Sender(lambda w: f"/transactions/{_transaction(w)}/reverse",
                         fixed({"reason_code": "teller_error"}), account_state("alice")),
    },
    ("POST", "/tills"): {
        "supervisor": Sender(lambda _w: "/tills", fixed({"name": "Probe till"}),
                             admin_view(TILLS)),
    },
    ("PATCH", "/tills/{till_id}"): {
        "supervisor": Sender(TILL, fixed({"name": "Renamed till"}), admin_view(TILL)),
    },
    ("POST", "/tills/{till_id}/sessions"): {
        "teller": Sender(lambda w: f"{TILL(w)}/sessions", fixed({}), admin_view(TILL, SESSION)),
    },
    ("POST", "/sessions/{session_id}/close"): {
        "teller": Sender(lambda w: f"{SESSION(w)}/close", fixed(COUNTED), admin_view(SESSION)),
    },
    ("POST", "/vault/count"): {
        "supervisor": Sender(lambda _w: "/vault/count", fixed(COUNTED), admin_view(CASH)),
    },
    ("POST", "/vault/cash"): {
        "admin": Sender(lambda _w: "/vault/cash",
                        fixed({"direction": "in", "currency": "USD", "amount": "1.00",
                               "reference": "probe"}), admin_view(CASH, APPROVAL)),
    },
    ("POST", "/tills/{till_id}/cash"): {
        "teller": Sender(lambda w: f"{TILL(w)}/cash",
                         fixed({"direction": "to_till", "currency": "USD", "amount": "1.00"}),
                         admin_view(CASH)),
    },
    ("PUT", "/approval-policies/{action}"): {
        "admin": Sender(lambda _w: "/approval-policies/deposit", fixed({"version": 1}),
                        admin_view(lambda _w: "/approval-policies?limit=200")),
    },
    ("POST", "/approvals/{approval_id}/approve"): {
        "supervisor": Sender(lambda w: f"{APPROVAL(w)}/approve", fixed({}),
                             admin_view(APPROVAL, CASH)),
    },
    ("POST", "/approvals/{approval_id}/reject"): {
        "supervisor": Sender(lambda w: f"{APPROVAL(w)}/reject", fixed({"reason": "probe"}),
                             admin_view(APPROVAL, CASH)),
    },
    ("POST", "/business-day/close"): {
        "supervisor": Sender(lambda _w: "/business-day/close", lambda w: {"date": open_date(w)},
                             admin_view(lambda _w: "/business-day")),
    },
    ("POST", "/accounts/{account_id}/holds"): {
        "teller": Sender(HOLDS, fixed({"amount": "1.00", "reason_code": "other"}),
                         admin_view(HOLDS)),
    },
    ("POST", "/holds/{hold_id}/release"): {
        "teller": Sender(lambda w: f"/holds/{_hold(w)}/release", fixed({}),
                         admin_view(after(_hold, HOLDS))),
    },
    ("PUT", "/users/{user_id}/profile"): {
        "user": Sender(url("/users/{user_id}/profile", user_id="alice"),
                       fixed({"phone": "+441234567890"}), user_state("alice")),
        "teller": Sender(lambda w: f"{BOB(w)}/profile", fixed({"phone": "+441234567890"}),
                         user_state("bob")),
    },
    ("POST", "/users/{user_id}/documents"): {
        "teller": Sender(lambda w: f"{BOB(w)}/documents", fixed(DOCUMENT), user_state("bob")),
    },
    ("POST", "/users/{user_id}/documents/{document_id}/verify"): {
        "teller": Sender(lambda w: f"{BOB(w)}/documents/{_document(w)}/verify", fixed({}),
                         admin_view(after(_document, BOB))),
    },
}  # fmt: skip


MOVE = {"amount": "7.00", "description": "mass assignment probe"}
TRANSFER = {**MOVE, "from_account_id": 0, "to_account_id": 0}
SENDERS: dict[tuple[str, str], dict[str, Sender]] = {
    ("POST", "/login/refresh"): {
        "anon": Sender(lambda _w: "/login/refresh", lambda w: {"refresh_token": refresh_token(w)},
                       lambda _w, _b: None),
    },
    ("POST", "/users"): {
        role: Sender(lambda _w: "/users", new_user_body, username_taken)
        for role in ("anon", "user", "teller", "admin")
    },
    ("PUT", "/users/{user_id}"): {
        "user": Sender(url("/users/{user_id}", user_id="alice"), fixed({"full_name": "Renamed"}),
                       user_state("alice")),
        "teller": Sender(url("/users/{user_id}", user_id="bob"), fixed({"full_name": "Renamed"}),
                         user_state("bob")),
        "admin": Sender(url("/users/{user_id}", user_id="bob"), fixed({"full_name": "Renamed"}),
                        user_state("bob")),
    },
    ("POST", "/accounts"): {
        "user": Sender(lambda _w: "/accounts", fixed({"account_type": "savings"}),
                       accounts_of("alice")),
        "teller": Sender(lambda _w: "/accounts",
                         with_ids({"account_type": "savings"}, owner_id="bob"), accounts_of("bob")),
        "admin": Sender(lambda _w: "/accounts",
                        with_ids({"account_type": "savings"}, owner_id="bob"), accounts_of("bob")),
    },
    ("PATCH", "/accounts/{account_id}"): {
        "user": Sender(url("/accounts/{account_id}", account_id="alice"),
                       fixed({"nickname": "Renamed"}), account_state("alice")),
    },
    ("PUT", "/accounts/{account_id}/admin"): {
        "admin": Sender(url("/accounts/{account_id}/admin", account_id="alice2"),
                        fixed({"status": "frozen"}), account_state("alice2")),
    },
    ("POST", "/accounts/{account_id}/deposit"): {
        role: Sender(url("/accounts/{account_id}/deposit", account_id="alice"), fixed(MOVE),
                     account_state("alice"))
        for role in ("user", "teller", "admin")
    },
    ("POST", "/accounts/{account_id}/withdraw"): {
        role: Sender(url("/accounts/{account_id}/withdraw", account_id="alice"), fixed(MOVE),
                     account_state("alice"))
        for role in ("user", "teller", "admin")
    },
    ("POST", "/transfers"): {
        role: Sender(lambda _w: "/transfers",
                     with_ids(TRANSFER, from_account_id="alice", to_account_id="carol"),
                     account_state("alice", "carol"))
        for role in ("user", "teller", "admin")
    },
    **V2_SENDERS,
}  # fmt: skip


def json_body_ops(ops: list[Operation]) -> list[Operation]:
    """The operations that take a JSON body."""
    return [op for op in ops if op.json_body is not None]


def test_every_json_body_has_senders(ops: list[Operation]) -> None:
    keys = {op.key for op in json_body_ops(ops)}
    assert keys == set(SENDERS), f"add: {keys - set(SENDERS)}; stale: {set(SENDERS) - keys}"


def object_schemas(openapi: dict[str, Any], node: Any, seen: set[int]) -> list[dict[str, Any]]:
    """Every object schema inside a schema, following refs and combinators."""
    node = resolve(openapi, node)
    if not isinstance(node, dict) or id(node) in seen:
        return []
    seen.add(id(node))
    found = [node] if node.get("type") == "object" or "properties" in node else []
    for key in ("anyOf", "oneOf", "allOf"):
        for child in node.get(key, []):
            found += object_schemas(openapi, child, seen)
    for child in node.get("properties", {}).values():
        found += object_schemas(openapi, child, seen)
    if "items" in node:
        found += object_schemas(openapi, node["items"], seen)
    return found


def test_every_request_body_forbids_unknown_fields(
    openapi: dict[str, Any], ops: list[Operation]
) -> None:
    for op in json_body_ops(ops):
        schemas = object_schemas(openapi, op.json_body, set())
        assert schemas, op.label
        for schema in schemas:
            extra = schema.get("additionalProperties")
            is_map = isinstance(extra, dict) or "patternProperties" in schema
            if is_map and not schema.get("properties"):
                continue  # a map ({CUR: amount}): its keys are data, its values typed
            assert extra is False, (op.label, schema.get("title"))


def sender_cases() -> list[Any]:
    """(operation, role) for every role that may send each JSON body."""
    from tests.security.routes import app_openapi, operations

    keys = [op.key for op in operations(app_openapi()) if op.json_body is not None]
    return [
        pytest.param(key, role, id=f"{key[0]} {key[1]}-{role}")
        for key in keys
        for role in SENDERS.get(key, {})
    ]


def refused_as_extra(response: Any, name: str) -> bool:
    """Tell whether a 422 names exactly one unknown field: this one."""
    if response.status_code != 422 or response.json().get("code") != "validation_error":
        return False
    errors = response.json()["detail"]
    return [(error["type"], error["loc"]) for error in errors] == [
        ("extra_forbidden", ["body", name])
    ]


@pytest.mark.parametrize(("key", "role"), sender_cases())
def test_unknown_and_privileged_fields_are_refused(
    world: World, ops: list[Operation], key: tuple[str, str], role: str
) -> None:
    op = next(op for op in ops if op.key == key)
    sender = SENDERS[key][role]
    body = sender.body(world)
    before = sender.state(world, body)
    wrong = []
    sent = 0
    for name, value in PRIVILEGED.items():
        if name in op.body_fields:
            continue  # named by the schema: see test_privileged_fields_need_the_role
        response = world.caller(role).request(key[0], sender.url(world), json={**body, name: value})
        sent += 1
        if not refused_as_extra(response, name):
            wrong.append((name, response.status_code, response.text[:200]))
    assert sent >= 20
    assert not wrong, wrong
    assert sender.state(world, body) == before, "a refused body changed data"
    if "refresh_token" in body:  # the refused requests did not use the refresh token up
        expect(world.anon.client.post("/login/refresh", json=body), 200)


def self_url(role: str) -> Callable[[World], str]:
    """The caller's own user."""
    return lambda world: f"/users/{world.me(role)['id']}"


# Privileged fields a body names, sent by a role that may not set them: 403, nothing changed.
REFUSED: list[tuple[str, str, str, Callable[[World], str], dict[str, Any]]] = [
    *[(role, "POST", "role", lambda _w: "/users", {"role": given})
      for role in ("anon", "user", "teller") for given in ("teller", "admin")],
    *[(role, "PUT", field, self_url(role), {field: value})
      for role in ("user", "teller")
      for field, value in (("role", "admin"), ("is_active", False))],
    ("teller", "PUT", "role", url("/users/{user_id}", user_id="bob"), {"role": "teller"}),
    ("user", "POST", "owner_id", lambda _w: "/accounts", {"owner_id": "bob"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("role", "method", "name", "path", "change"),
    REFUSED,
    ids=[f"{r[0]}-{r[1]}-{r[2]}-{next(iter(r[4].values()))}" for r in REFUSED],
)
def test_privileged_fields_need_the_role(
    world: World,
    role: str,
    method: str,
    name: str,
    path: Callable[[World], str],
    change: dict[str, Any],
) -> None:
    url_ = path(world)
    if method == "POST" and url_ == "/users":
        body = {**new_user_body(world), **change}
        state: Callable[[], Any] = lambda: username_taken(world, body)  # noqa: E731
    elif url_ == "/accounts":
        body = {"account_type": "checking", "owner_id": world.people["bob"]["id"]}
        state = lambda: accounts_of("bob")(world, body)  # noqa: E731
    else:
        body = change
        target = int(url_.rsplit("/", 1)[1])
        state = lambda: world.snapshot("user", target)  # noqa: E731
    before = state()
    expect(world.caller(role).request(method, url_, json=body), 403, "forbidden")
    assert state() == before, "a refused body changed data"


def test_login_form_ignores_privilege_fields(world: World) -> None:
    username = world.people["alice"]["username"]
    form = {"username": username, "password": world.passwords["alice"], "role": "admin",
            "scope": "admin", "is_admin": "true", "sub": "1", "grant_type": "password"}  # fmt: skip
    token = expect(world.anon.client.post("/login", data=form), 200)["access_token"]
    me = expect(world.anon.client.get("/me", headers={"Authorization": f"Bearer {token}"}), 200)
    assert me["role"] == "user"
    assert me["id"] == world.people["alice"]["id"]


# Names that must never be declared in, or appear in, any response.
# (A closed day's `hash` is public by contract: API.md "Business day"; stored hashes of
# secrets are named *_hash.)
SECRET_NAMES = {"password", "password_hash", "current_password", "secret", "refresh_jti",
                "failed_logins", "locked_until", "entry_seq", "out_day", "out_total", "_id",
                "deleted_at", "ip_hash", "claim_token"}  # fmt: skip


def test_no_response_schema_declares_a_secret(
    openapi: dict[str, Any], ops: list[Operation]
) -> None:
    for op in ops:
        for answer in op.spec.get("responses", {}).values():
            for media in answer.get("content", {}).values():
                for schema in object_schemas(openapi, media.get("schema", {}), set()):
                    leaked = set(schema.get("properties", {})) & SECRET_NAMES
                    assert not leaked, (op.label, leaked)


def undeclared_keys(openapi: dict[str, Any], schema: Any, value: Any, where: str) -> list[str]:
    """Keys of a response value that its schema does not declare (recursively)."""
    schema = resolve(openapi, schema)
    if isinstance(value, list):
        return [
            k
            for item in value
            for k in undeclared_keys(openapi, schema.get("items", {}), item, where)
        ]
    if not isinstance(value, dict):
        return []
    options = [resolve(openapi, s) for s in schema.get("anyOf", [])] or [schema]
    best: list[str] | None = None
    for option in options:
        props = option.get("properties")
        if props is None:
            extra = option.get("additionalProperties")
            if extra is True:
                return []  # a free-form object (a report's figures): anything is declared
            if extra not in (None, False):
                return [
                    k for v in value.values() for k in undeclared_keys(openapi, extra, v, where)
                ]
            continue
        found = [f"{where}.{key}" for key in value if key not in props]
        for key, item in value.items():
            if key in props:
                found += undeclared_keys(openapi, props[key], item, f"{where}.{key}")
        if best is None or len(found) < len(best):
            best = found
    return best or []


def all_keys(value: Any) -> set[str]:
    """Every key of every object inside a JSON value."""
    if isinstance(value, list):
        return {key for item in value for key in all_keys(item)}
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in all_keys(item)}
    return set()


def test_responses_carry_only_declared_properties(
    world: World, openapi: dict[str, Any], ops: list[Operation]
) -> None:
    values = {"user_id": world.people["alice"]["id"], "account_id": world.accounts["alice"]["id"],
              "transfer_id": world.transfers["outgoing"]["id"],
              "number": world.accounts["bob"]["number"]}  # fmt: skip
    current = expect(world.caller("admin").get("/sessions/current"), 200)
    values |= {"session_id": current["id"], "till_id": current["till_id"], "code": "vault:USD"}
    checked = 0
    for op in ops:
        if op.method != "GET" or "200" not in op.spec["responses"]:
            continue
        content = op.spec["responses"]["200"].get("content", {})
        if "application/json" not in content:
            continue
        for role in ("user", "admin"):
            params = {"include": "accounts"} if op.path == "/users" else {}
            # Version 2's other path ids: the admin's session and till, a ledger code; an id
            # nobody has answers 404 and is skipped like any refusal.
            path_values = {p["name"]: values.get(p["name"], 1) for p in op.path_params}
            response = world.caller(role).get(op.url(**path_values), params=params)
            if response.status_code != 200:
                continue
            schema = content["application/json"].get("schema", {})
            extra = undeclared_keys(openapi, schema, response.json(), op.path)
            assert not extra, (op.label, role, extra)
            assert not SECRET_NAMES & all_keys(response.json()), op.label
            checked += 1
    assert checked >= 15
