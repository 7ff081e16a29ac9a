"""Fixtures of the security suite: the route table and a small bank to attack."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.security.routes import Operation, load_openapi, operations
from tests.support import Api, ServerProcess, expect, open_till_session

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
# An id no collection reaches in a test run, yet inside every id parameter's range.
MISSING_ID = 987_654_321
_fresh = itertools.count(1)


@pytest.fixture(scope="module")
def openapi(server: ServerProcess) -> dict[str, Any]:
    """The module's server's OpenAPI schema."""
    return load_openapi(server.url)


@pytest.fixture(scope="module")
def ops(openapi: dict[str, Any]) -> list[Operation]:
    """Every operation the server documents."""
    return operations(openapi)


@dataclass
class World:
    """Customers, staff, accounts and transfers, and a signed-in client per role.

    The callers: `user` is alice, `teller` a teller, `supervisor` a supervisor, `admin` the
    bootstrap admin, each staff caller with an account of their own. Around them: bob and
    carol (other customers), a second teller (with an account: another staff member's) and
    a second admin.
    """

    anon: Api
    admin: Api
    make_user: MakeUser
    callers: dict[str, Api] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def caller(self, role: str) -> Api:
        """Return the signed-in client of a role (or the anonymous one)."""
        return self.anon if role == "anon" else self.callers[role]

    def me(self, role: str) -> dict[str, Any]:
        """Return the user a role's client is signed in as (alice for anon, as a stand-in)."""
        return self.people[{"anon": "alice", "user": "alice"}.get(role, role)]

    def user_id(self, target: str, role: str) -> int:
        """Return the id of a user target as seen from a role."""
        if target == "missing":
            return MISSING_ID
        if target == "self":
            return int(self.me(role)["id"])
        name = {"customer": "bob", "teller": "teller2", "admin": "admin2"}[target]
        return int(self.people[name]["id"])

    def account_id(self, target: str, role: str = "user") -> int:
        """Return the id of an account target as seen from a role.

        `own` is alice's (the customer caller's), `customer` bob's, `mine` the staff caller's
        own account, `other_staff` the second teller's, `missing` none.
        """
        if target == "missing":
            return MISSING_ID
        name = {"own": "alice", "customer": "bob", "other_staff": "teller2"}.get(target)
        if target == "mine":  # (anonymous callers: any id, they get 401 first)
            name = role if role in ("teller", "supervisor", "admin") else "alice"
        assert name is not None, target
        return int(self.accounts[name]["id"])

    def fresh_user(self, role: str = "user") -> dict[str, Any]:
        """Create a new user (no accounts) for a case that may destroy it."""
        user, api = self.make_user(role, username=f"fresh{role}{next(_fresh)}x{os.getpid() % 1000}")
        api.close()
        return user

    def fresh_caller(self, role: str) -> tuple[dict[str, Any], Api]:
        """Create and sign in a new user of a role, for a case that may end its account."""
        return self.make_user(role, username=f"caller{role}{next(_fresh)}x{os.getpid() % 1000}")

    def fresh_account(self, role: str = "user") -> dict[str, Any]:
        """Open a new zero-balance account for a new customer (or staff member)."""
        owner = self.fresh_user(role)
        body = {"account_type": "checking", "owner_id": owner["id"]}
        account: dict[str, Any] = expect(self.admin.post("/accounts", json=body), 201)
        return account

    def snapshot(self, kind: str, value: object) -> Any:
        """Return what an admin reads of an object now, to prove a refusal changed nothing."""
        path = {"user": "/users/{}", "account": "/accounts/{}", "transfer": "/transfers/{}",
                "payee": "/payees/{}"}[kind].format(value)  # fmt: skip
        response = self.admin.get(path)
        return response.status_code, response.json()


def open_funded(admin: Api, owner_id: int, amount: str = "1000.00", **fields: Any) -> Any:
    """Open an account for an owner and pay money into it (as admin)."""
    body = {"account_type": "checking", "owner_id": owner_id, **fields}
    account = expect(admin.post("/accounts", json=body), 201)
    if amount != "0":
        expect(admin.post(f"/accounts/{account['id']}/deposit", json={"amount": amount}), 201)
    return expect(admin.get(f"/accounts/{account['id']}"), 200)


@pytest.fixture(scope="module")
def world(anon: Api, admin: Api, make_user: MakeUser) -> Iterator[World]:
    """Build the bank: three customers, two tellers, two admins, accounts and transfers."""
    bank = World(anon=anon, admin=admin, make_user=make_user)
    bank.callers["admin"] = admin
    bank.people["admin"] = expect(admin.get("/me"), 200)
    cast = (("alice", "user"), ("bob", "user"), ("carol", "user"),
            ("teller", "teller"), ("teller2", "teller"), ("supervisor", "supervisor"),
            ("admin2", "admin"))  # fmt: skip
    for name, role in cast:
        password = f"{name}-security-pass"
        user, api = make_user(role, username=f"sec{name}x{os.getpid() % 1000}", password=password)
        bank.people[name] = user
        bank.passwords[name] = password
        if name == "alice":
            bank.callers["user"] = api
        elif name in ("teller", "supervisor"):
            bank.callers[name] = api
            open_till_session(admin, api)  # staff cash goes through a till
        else:
            api.close()
    alice, bob, carol = (bank.people[name]["id"] for name in ("alice", "bob", "carol"))
    bank.accounts["alice"] = open_funded(admin, alice)
    bank.accounts["alice2"] = open_funded(admin, alice)
    bank.accounts["bob"] = open_funded(admin, bob)
    bank.accounts["carol"] = open_funded(admin, carol)
    frozen = open_funded(admin, bob, "0")
    expect(admin.put(f"/accounts/{frozen['id']}/admin", json={"status": "frozen"}), 200)
    bank.accounts["frozen"] = expect(admin.get(f"/accounts/{frozen['id']}"), 200)
    closed = open_funded(admin, bob, "0")
    expect(admin.delete(f"/accounts/{closed['id']}"), 204)
    bank.accounts["closed"] = expect(admin.get(f"/accounts/{closed['id']}"), 200)
    bank.accounts["bob_eur"] = open_funded(admin, bob, currency="EUR")
    bank.accounts["alice_eur"] = open_funded(admin, alice, currency="EUR")
    alice_frozen = open_funded(admin, alice, "0")
    expect(admin.put(f"/accounts/{alice_frozen['id']}/admin", json={"status": "frozen"}), 200)
    bank.accounts["alice_frozen"] = expect(admin.get(f"/accounts/{alice_frozen['id']}"), 200)
    # Staff accounts: each staff caller's own (no money: staff may not move any on them),
    # and the second teller's, which only its owner and admins may see.
    for name in ("teller", "supervisor", "admin"):
        bank.accounts[name] = open_funded(admin, bank.people[name]["id"], "0")
    bank.accounts["teller2"] = open_funded(admin, bank.people["teller2"]["id"])
    for name, source, destination in (("outgoing", "alice", "bob"), ("incoming", "bob", "alice"),
                                      ("unrelated", "bob", "carol"),
                                      ("staff_side", "bob", "teller2")):  # fmt: skip
        body = {"from_account_id": bank.accounts[source]["id"],
                "to_account_id": bank.accounts[destination]["id"], "amount": "10.00"}  # fmt: skip
        bank.transfers[name] = expect(admin.post("/transfers", json=body), 201)
    yield bank
    for role in ("user", "teller", "supervisor"):
        bank.callers[role].close()
