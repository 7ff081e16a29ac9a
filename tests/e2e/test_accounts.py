"""Accounts and payees over HTTP, for every role: opening, reading, lists, settings, closing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128

from tests.support import Api, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

ACCOUNT_KEYS = {
    "id", "number", "owner_id", "owner_name", "account_type", "currency", "balance",
    "overdraft_limit", "daily_withdrawal_limit", "status", "nickname", "created_at",
    "updated_at", "version", "held", "available",
}  # fmt: skip
PAGE_KEYS = {"items", "total", "skip", "limit"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SUPPORTED = (
    "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD",
    "SEK", "NOK", "DKK", "PLN", "CZK", "SGD", "HKD",
)  # fmt: skip


def expected_number(account_id: int) -> str:
    """Compute an account number as API.md defines it (ISO 7064 MOD 97-10), independently."""
    base = f"{account_id:08d}"
    return base + f"{98 - int(base + '00') % 97:02d}"


def me(api: Api) -> dict[str, Any]:
    """Return the signed-in user."""
    result: dict[str, Any] = expect(api.get("/me"), 200)
    return result


def audit_events(mongo: Any, account_id: int) -> list[dict[str, Any]]:
    """Return the audit events about one account, oldest first."""
    query = {"target_type": "account", "target_id": account_id}
    return list(mongo.audit_events.find(query).sort("_id", 1))


def actions(mongo: Any, account_id: int) -> list[str]:
    """Return the actions audited about one account, oldest first."""
    return [event["action"] for event in audit_events(mongo, account_id)]


def deposit(admin: Api, account_id: int, amount: str) -> None:
    """Pay cash into an account as admin."""
    expect(admin.post(f"/accounts/{account_id}/deposit", json={"amount": amount}), 201)


def field_errors(body: dict[str, Any]) -> set[str]:
    """Return the last location element of every validation error."""
    assert body["code"] == "validation_error"
    assert isinstance(body["detail"], list)
    return {str(error["loc"][-1]) for error in body["detail"]}


@pytest.fixture(scope="module")
def alice(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A customer with a distinctive name."""
    return make_user("user", full_name="Alice Smith")


@pytest.fixture(scope="module")
def bob(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """Another customer."""
    return make_user("user", full_name="Bob Jones")


@pytest.fixture(scope="module")
def admin_user(admin: Api) -> dict[str, Any]:
    """The admin's own user record."""
    return me(admin)


@pytest.fixture(scope="module")
def alice_account(alice: tuple[dict[str, Any], Api]) -> dict[str, Any]:
    """An account Alice opened herself (left active and unchanged by the tests)."""
    account: dict[str, Any] = expect(
        alice[1].post("/accounts", json={"account_type": "checking", "nickname": "Everyday"}), 201
    )
    return account


# --- opening ---------------------------------------------------------------------------------


def test_customer_opens_own_account_with_defaults(
    alice: tuple[dict[str, Any], Api], mongo: Any
) -> None:
    user, api = alice
    account = expect(api.post("/accounts", json={"account_type": "checking"}), 201)
    assert set(account) == ACCOUNT_KEYS
    assert account["owner_id"] == user["id"]
    assert account["owner_name"] == "Alice Smith"
    assert account["account_type"] == "checking"
    assert account["currency"] == "USD"
    assert account["balance"] == "0.00"
    assert account["overdraft_limit"] == "0.00"
    assert account["daily_withdrawal_limit"] == "10000.00"
    assert account["version"] == 1
    assert account["status"] == "active"
    assert account["nickname"] is None
    assert isinstance(account["id"], int)
    assert account["id"] >= 1
    assert account["number"] == expected_number(account["id"])
    assert len(account["number"]) == 10
    assert int(account["number"]) % 97 == 1
    assert TIMESTAMP.fullmatch(account["created_at"])
    assert account["created_at"] == account["updated_at"]
    # The same values, to the millisecond, on every later read.
    assert expect(api.get(f"/accounts/{account['id']}"), 200) == account
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["number"] == account["number"]
    assert stored["balance"] == Decimal128("0.00")
    assert stored["owner_id"] == user["id"]


def test_ids_are_sequential(alice: tuple[dict[str, Any], Api]) -> None:
    api = alice[1]
    first = expect(api.post("/accounts", json={"account_type": "savings"}), 201)
    second = expect(api.post("/accounts/", json={"account_type": "savings"}), 201)
    assert second["id"] == first["id"] + 1
    assert second["number"] == expected_number(second["id"])


def test_customer_may_name_self_as_owner(alice: tuple[dict[str, Any], Api]) -> None:
    user, api = alice
    body = {
        "account_type": "savings",
        "currency": "EUR",
        "nickname": "Rainy day",
        "owner_id": user["id"],
    }
    account = expect(api.post("/accounts", json=body), 201)
    assert account["owner_id"] == user["id"]
    assert account["account_type"] == "savings"
    assert account["currency"] == "EUR"
    assert account["nickname"] == "Rainy day"


def test_customer_cannot_open_for_someone_else(
    alice: tuple[dict[str, Any], Api], bob: tuple[dict[str, Any], Api], mongo: Any
) -> None:
    bob_id = bob[0]["id"]
    before = mongo.accounts.count_documents({"owner_id": bob_id})
    body = {"account_type": "checking", "owner_id": bob_id}
    expect(alice[1].post("/accounts", json=body), 403, "forbidden")
    expect(alice[1].post("/accounts", json={**body, "owner_id": 10**9}), 403, "forbidden")
    assert mongo.accounts.count_documents({"owner_id": bob_id}) == before


@pytest.mark.parametrize("role", ["teller", "admin"])
def test_staff_open_for_a_customer(
    role: str,
    request: pytest.FixtureRequest,
    make_user: MakeUser,
    mongo: Any,
) -> None:
    staff: Api = request.getfixturevalue(role)
    staff_id = me(staff)["id"]
    customer, customer_api = make_user("user", full_name=f"Carol {role.title()}client")
    account = expect(
        staff.post("/accounts", json={"account_type": "savings", "owner_id": customer["id"]}), 201
    )
    assert account["owner_id"] == customer["id"]
    assert account["owner_name"] == customer["full_name"]
    assert account["balance"] == "0.00"
    assert account["version"] == 1
    # The customer sees it as theirs.
    assert expect(customer_api.get(f"/accounts/{account['id']}"), 200) == account
    (event,) = audit_events(mongo, account["id"])
    assert event["action"] == "account.opened"
    assert event["actor_id"] == staff_id
    assert event["details"]["owner_id"] == customer["id"]


@pytest.mark.parametrize("role", ["teller", "admin"])
def test_staff_must_name_the_owner(role: str, request: pytest.FixtureRequest, mongo: Any) -> None:
    staff: Api = request.getfixturevalue(role)
    staff_id = me(staff)["id"]
    body = expect(staff.post("/accounts", json={"account_type": "checking"}), 422)
    assert body["code"] == "validation_error"
    assert mongo.accounts.count_documents({"owner_id": staff_id}) == 0


def test_teller_cannot_open_for_staff(
    teller: Api, make_user: MakeUser, admin_user: dict[str, Any], mongo: Any
) -> None:
    other_teller, _ = make_user("teller")
    for owner in (other_teller["id"], admin_user["id"]):
        body = {"account_type": "checking", "owner_id": owner}
        # A teller cannot see other staff: their ids answer as missing ones (API.md).
        expect(teller.post("/accounts", json=body), 404, "not_found")
        assert mongo.accounts.count_documents({"owner_id": owner}) == 0
    teller_id = expect(teller.get("/me"), 200)["id"]
    body = {"account_type": "checking", "owner_id": teller_id}
    expect(teller.post("/accounts", json=body), 403, "forbidden")


@pytest.mark.parametrize("role", ["teller", "admin"])
def test_unknown_or_deleted_owner_is_not_found(
    role: str, request: pytest.FixtureRequest, make_user: MakeUser, admin: Api
) -> None:
    staff: Api = request.getfixturevalue(role)
    gone, _ = make_user("user")
    expect(admin.delete(f"/users/{gone['id']}"), 204)
    for owner in (gone["id"], 10**9):
        body = {"account_type": "checking", "owner_id": owner}
        expect(staff.post("/accounts", json=body), 404, "not_found")


def test_every_supported_currency_opens(make_user: MakeUser, admin: Api) -> None:
    customer, _ = make_user("user")
    for currency in SUPPORTED:
        body = {"account_type": "checking", "owner_id": customer["id"], "currency": currency}
        assert expect(admin.post("/accounts", json=body), 201)["currency"] == currency


@pytest.mark.parametrize("currency", ["XYZ", "JPY", "KWD", "usd", "Eur", "US D", "USDX"])
def test_unsupported_currency_is_refused(
    currency: str, alice: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    user, api = alice
    before = mongo.accounts.count_documents({"owner_id": user["id"]})
    body = {"account_type": "checking", "currency": currency}
    answer = expect(api.post("/accounts", json=body), 422, "unsupported_currency")
    assert isinstance(answer["detail"], str)
    assert "USD" in answer["detail"]
    staff_body = {**body, "owner_id": user["id"]}
    expect(admin.post("/accounts", json=staff_body), 422, "unsupported_currency")
    assert mongo.accounts.count_documents({"owner_id": user["id"]}) == before


@pytest.mark.parametrize("currency", [None, 840, "", "TOOLONGCUR"])
def test_malformed_currency_is_a_validation_error(
    currency: Any, alice: tuple[dict[str, Any], Api]
) -> None:
    body = {"account_type": "checking", "currency": currency}
    answer = expect(alice[1].post("/accounts", json=body), 422)
    assert "currency" in field_errors(answer)


@pytest.mark.parametrize("account_type", ["current", "CHECKING", "", None, 1, ["checking"]])
def test_invalid_account_type_is_refused(
    account_type: Any, alice: tuple[dict[str, Any], Api]
) -> None:
    answer = expect(alice[1].post("/accounts", json={"account_type": account_type}), 422)
    assert "account_type" in field_errors(answer)


def test_missing_account_type_or_body_is_refused(alice: tuple[dict[str, Any], Api]) -> None:
    api = alice[1]
    assert "account_type" in field_errors(expect(api.post("/accounts", json={}), 422))
    expect(api.post("/accounts"), 422, "validation_error")
    expect(api.post("/accounts", json=["checking"]), 422, "validation_error")
    expect(api.post("/accounts", json="checking"), 422, "validation_error")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("balance", "1000000.00"),
        ("status", "active"),
        ("id", 1),
        ("_id", 1),
        ("number", "0000000195"),
        ("version", 7),
        ("owner_name", "Mallory"),
        ("overdraft_limit", "99999.00"),
        ("daily_withdrawal_limit", None),
        ("created_at", "2020-01-01T00:00:00.000Z"),
        ("entry_seq", 5),
    ],
)
def test_unknown_fields_are_refused_when_opening(
    field: str, value: Any, alice: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    user, api = alice
    before = mongo.accounts.count_documents({"owner_id": user["id"]})
    answer = expect(api.post("/accounts", json={"account_type": "checking", field: value}), 422)
    assert field in field_errors(answer)
    body = {"account_type": "checking", "owner_id": user["id"], field: value}
    assert field in field_errors(expect(admin.post("/accounts", json=body), 422))
    assert mongo.accounts.count_documents({"owner_id": user["id"]}) == before


def test_nickname_rules_when_opening(alice: tuple[dict[str, Any], Api]) -> None:
    api = alice[1]
    for good in ("N" * 50, "Épargne 💶 «vacances»", "Joint: Ann & Ben"):
        body = {"account_type": "checking", "nickname": good}
        assert expect(api.post("/accounts", json=body), 201)["nickname"] == good
    bad_nicknames: tuple[Any, ...] = (
        "N" * 51,
        "line\nbreak",
        "tab\there",
        "nul\x00",
        "bell\x07",
        42,
    )
    for bad in bad_nicknames:
        body = {"account_type": "checking", "nickname": bad}
        assert "nickname" in field_errors(expect(api.post("/accounts", json=body), 422)), bad


# --- reading one account ---------------------------------------------------------------------


def test_owner_and_staff_read_an_account(
    alice: tuple[dict[str, Any], Api], alice_account: dict[str, Any], teller: Api, admin: Api
) -> None:
    path = f"/accounts/{alice_account['id']}"
    seen = [expect(api.get(path), 200) for api in (alice[1], teller, admin)]
    assert seen[0] == seen[1] == seen[2]
    assert seen[0]["id"] == alice_account["id"]
    assert seen[0]["number"] == alice_account["number"]
    assert expect(admin.get(path + "/"), 200) == seen[0]


def test_other_customer_gets_the_same_404_as_for_a_missing_account(
    bob: tuple[dict[str, Any], Api], alice_account: dict[str, Any], mongo: Any
) -> None:
    api = bob[1]
    hidden = api.get(f"/accounts/{alice_account['id']}")
    missing_id = mongo.accounts.count_documents({}) + 10_000
    missing = api.get(f"/accounts/{missing_id}")
    expect(hidden, 404, "not_found")
    expect(missing, 404, "not_found")
    assert hidden.json() == missing.json()
    assert alice_account["number"] not in hidden.text


def test_missing_account_is_404_for_staff(admin: Api, teller: Api) -> None:
    for api in (admin, teller):
        expect(api.get("/accounts/99999999"), 404, "not_found")


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", str(2**63)])
def test_malformed_account_id_is_a_validation_error(bad_id: str, admin: Api) -> None:
    expect(admin.get(f"/accounts/{bad_id}"), 422, "validation_error")


# --- anonymous and bad tokens ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/accounts", {"account_type": "checking"}),
        ("GET", "/accounts", None),
        ("GET", "/accounts/", None),
        ("GET", "/accounts/{id}", None),
        ("PATCH", "/accounts/{id}", {"nickname": "x"}),
        ("PUT", "/accounts/{id}/admin", {"status": "frozen"}),
        ("DELETE", "/accounts/{id}", None),
        ("GET", "/payees/{number}", None),
    ],
)
def test_anonymous_callers_are_refused(
    method: str,
    path: str,
    body: dict[str, Any] | None,
    anon: Api,
    alice_account: dict[str, Any],
    admin: Api,
) -> None:
    url = path.format(id=alice_account["id"], number=alice_account["number"])
    answer = expect(anon.request(method, url, json=body), 401, "not_authenticated")
    assert alice_account["number"] not in str(answer)
    bad = Api(anon.base_url, "not.a.jwt")
    try:
        expect(bad.request(method, url, json=body), 401, "invalid_token")
    finally:
        bad.close()
    # Nothing changed.
    current = expect(admin.get(f"/accounts/{alice_account['id']}"), 200)
    assert current["status"] == "active"
    assert current["version"] == alice_account["version"]
    assert current["nickname"] == alice_account["nickname"]


# --- lists -----------------------------------------------------------------------------------


def test_customer_lists_only_own_accounts(
    alice: tuple[dict[str, Any], Api],
    bob: tuple[dict[str, Any], Api],
    alice_account: dict[str, Any],
    mongo: Any,
) -> None:
    user, api = alice
    bob_account = expect(bob[1].post("/accounts", json={"account_type": "checking"}), 201)
    page = expect(api.get("/accounts", params={"limit": 200}), 200)
    assert set(page) == PAGE_KEYS
    assert page["total"] == mongo.accounts.count_documents({"owner_id": user["id"]})
    assert page["total"] >= 1
    assert {item["owner_id"] for item in page["items"]} == {user["id"]}
    assert alice_account["id"] in {item["id"] for item in page["items"]}
    assert bob_account["id"] not in {item["id"] for item in page["items"]}
    assert all(set(item) == ACCOUNT_KEYS for item in page["items"])
    # Naming oneself is the same list; naming someone else is an empty page.
    mine = expect(api.get("/accounts", params={"limit": 200, "owner_id": user["id"]}), 200)
    assert mine == page
    other = expect(api.get("/accounts", params={"owner_id": bob[0]["id"], "skip": 3}), 200)
    assert other == {"items": [], "total": 0, "skip": 3, "limit": 50}
    assert expect(api.get("/accounts", params={"owner_id": 10**9}), 200)["total"] == 0


@pytest.mark.parametrize("role", ["teller", "admin"])
def test_staff_list_every_account(
    role: str,
    request: pytest.FixtureRequest,
    alice: tuple[dict[str, Any], Api],
    bob: tuple[dict[str, Any], Api],
    mongo: Any,
) -> None:
    staff: Api = request.getfixturevalue(role)
    expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    newest = expect(bob[1].post("/accounts", json={"account_type": "savings"}), 201)
    page = expect(staff.get("/accounts", params={"limit": 200, "order": "desc"}), 200)
    assert page["total"] == mongo.accounts.count_documents({})
    assert len(page["items"]) == min(page["total"], 200)
    assert page["items"][0] == newest
    assert len({item["owner_id"] for item in page["items"]}) > 1
    for owner in (alice, bob):
        only = expect(
            staff.get("/accounts", params={"owner_id": owner[0]["id"], "limit": 200}), 200
        )
        assert only["total"] == mongo.accounts.count_documents({"owner_id": owner[0]["id"]})
        assert {item["owner_id"] for item in only["items"]} == {owner[0]["id"]}


def test_trailing_slash_lists_the_same(admin: Api, alice: tuple[dict[str, Any], Api]) -> None:
    for api in (admin, alice[1]):
        with_slash = api.get("/accounts/", params={"limit": 200})
        without = api.get("/accounts", params={"limit": 200})
        assert with_slash.status_code == without.status_code == 200
        assert with_slash.json() == without.json()
        assert not with_slash.history  # no redirect


@pytest.fixture(scope="module")
def sorted_owner(make_user: MakeUser, admin: Api) -> dict[str, Any]:
    """A customer with five accounts of different balances (one negative), types and statuses."""
    user, api = make_user("user", full_name="Quentin Zebulon-Marsh")
    balances = ["100.00", "9.00", "0.00", "10.50", "-20.00"]
    ids = []
    for n, balance in enumerate(balances):
        kind = "savings" if n % 2 else "checking"
        account = expect(
            api.post("/accounts", json={"account_type": kind, "nickname": f"Pot {n} Zq"}), 201
        )
        ids.append(account["id"])
        if balance.startswith("-"):
            limits = {"overdraft_limit": "50.00"}
            expect(admin.put(f"/accounts/{account['id']}/admin", json=limits), 200)
            withdrawal = {"amount": balance[1:]}
            expect(admin.post(f"/accounts/{account['id']}/withdraw", json=withdrawal), 201)
        elif balance != "0.00":
            deposit(admin, account["id"], balance)
    expect(admin.put(f"/accounts/{ids[1]}/admin", json={"status": "frozen"}), 200)
    expect(admin.put(f"/accounts/{ids[2]}/admin", json={"status": "frozen"}), 200)
    expect(admin.delete(f"/accounts/{ids[2]}"), 204)
    return {"user": user, "api": api, "ids": ids, "balances": balances}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["id", "number", "balance", "owner_id", "created_at"])
def test_lists_sort_by_each_field(
    sort: str, order: str, sorted_owner: dict[str, Any], admin: Api
) -> None:
    owner_id = sorted_owner["user"]["id"]
    params = {"owner_id": owner_id, "sort": sort, "order": order}
    items = expect(admin.get("/accounts", params=params), 200)["items"]
    assert len(items) == 5
    # A customer gets the same order for their own list.
    assert expect(sorted_owner["api"].get("/accounts", params=params), 200)["items"] == items

    def key(item: dict[str, Any]) -> tuple[Any, int]:
        value = item[sort]
        return (Decimal(value) if sort == "balance" else value, item["id"])

    assert items == sorted(items, key=key, reverse=order == "desc")
    if sort == "balance":
        got = [item["balance"] for item in items]
        expected = ["-20.00", "0.00", "9.00", "10.50", "100.00"]
        assert got == (expected if order == "asc" else expected[::-1])


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_owner_breaks_ties_by_id(
    order: str, admin: Api, sorted_owner: Any, alice_account: Any
) -> None:
    items = expect(
        admin.get("/accounts", params={"sort": "owner_id", "order": order, "limit": 200}), 200
    )["items"]
    keys = [(item["owner_id"], item["id"]) for item in items]
    assert len(keys) >= 6
    assert keys == sorted(keys, reverse=order == "desc")


def test_default_order_is_id_ascending(admin: Api, sorted_owner: dict[str, Any]) -> None:
    params = {"owner_id": sorted_owner["user"]["id"]}
    ids = [item["id"] for item in expect(admin.get("/accounts", params=params), 200)["items"]]
    assert ids == sorted_owner["ids"]


def test_paging_walks_the_whole_list(admin: Api, sorted_owner: dict[str, Any]) -> None:
    owner_id = sorted_owner["user"]["id"]
    seen: list[int] = []
    for skip in (0, 2, 4):
        page = expect(
            admin.get(
                "/accounts", params={"owner_id": owner_id, "skip": skip, "limit": 2, "sort": "id"}
            ),
            200,
        )
        assert page["total"] == 5
        assert page["skip"] == skip
        assert page["limit"] == 2
        assert len(page["items"]) == (1 if skip == 4 else 2)
        seen += [item["id"] for item in page["items"]]
    assert seen == sorted_owner["ids"]
    beyond = expect(admin.get("/accounts", params={"owner_id": owner_id, "skip": 50}), 200)
    assert beyond == {"items": [], "total": 5, "skip": 50, "limit": 50}
    biggest = expect(admin.get("/accounts", params={"owner_id": owner_id, "limit": 200}), 200)
    assert biggest["limit"] == 200
    assert len(biggest["items"]) == 5
    one = expect(
        admin.get("/accounts", params={"owner_id": owner_id, "limit": 1, "order": "desc"}), 200
    )
    assert [item["id"] for item in one["items"]] == [sorted_owner["ids"][-1]]


def test_status_filter(admin: Api, sorted_owner: dict[str, Any]) -> None:
    owner_id = sorted_owner["user"]["id"]
    ids = sorted_owner["ids"]
    expected = {"active": [ids[0], ids[3], ids[4]], "frozen": [ids[1]], "closed": [ids[2]]}
    for status, wanted in expected.items():
        for api in (admin, sorted_owner["api"]):
            page = expect(
                api.get("/accounts", params={"owner_id": owner_id, "status": status}), 200
            )
            assert [item["id"] for item in page["items"]] == wanted
            assert page["total"] == len(wanted)
            assert {item["status"] for item in page["items"]} == {status}


def test_search_by_number_nickname_and_owner_name(
    admin: Api, teller: Api, sorted_owner: dict[str, Any], bob: tuple[dict[str, Any], Api]
) -> None:
    owner_id = sorted_owner["user"]["id"]
    ids = sorted_owner["ids"]
    target = expect(admin.get(f"/accounts/{ids[3]}"), 200)

    def found(api: Api, q: str, **extra: Any) -> list[int]:
        page = expect(api.get("/accounts", params={"q": q, "limit": 200, **extra}), 200)
        assert page["total"] == len(page["items"])
        return [item["id"] for item in page["items"]]

    for api in (admin, teller, sorted_owner["api"]):
        assert found(api, target["number"]) == [ids[3]]
        assert ids[3] in found(api, target["number"][2:8])  # part of a number
        assert found(api, "pot 3 zq") == [ids[3]]  # nickname, any case
        assert found(api, "POT") == ids  # every nickname here starts with "Pot"
        assert found(api, "zebulon-marsh") == ids  # owner name, any case
        assert found(api, "qUeNtIn ZEB") == ids
        assert found(api, "Zebulon", status="active") == [ids[0], ids[3], ids[4]]
        assert found(api, ".*") == []  # a literal text, not a pattern
        assert found(api, "Pot [0-9]") == []
    # Another customer finds nothing of Quentin's, even by his exact name or number.
    assert found(bob[1], "Zebulon") == []
    assert found(bob[1], target["number"]) == []
    assert found(admin, "zebulon", owner_id=owner_id) == ids


def test_owner_name_follows_a_rename_of_the_owner(make_user: MakeUser, admin: Api) -> None:
    user, api = make_user("user", full_name="Rita Before")
    account = expect(api.post("/accounts", json={"account_type": "checking"}), 201)
    expect(admin.put(f"/users/{user['id']}", json={"full_name": "Rita Afterwards"}), 200)
    assert expect(api.get(f"/accounts/{account['id']}"), 200)["owner_name"] == "Rita Afterwards"
    found = expect(admin.get("/accounts", params={"q": "rita afterwards"}), 200)["items"]
    assert [item["id"] for item in found] == [account["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": -5},
        {"limit": "ten"},
        {"skip": -1},
        {"skip": "x"},
        {"sort": "nickname"},
        {"sort": "owner_name"},
        {"sort": "_id"},
        {"sort": "balance; drop"},
        {"order": "up"},
        {"order": "DESC"},
        {"status": "open"},
        {"owner_id": 0},
        {"owner_id": "me"},
        {"q": "x" * 101},
    ],
)
def test_bad_list_parameters_are_validation_errors(
    params: dict[str, Any], admin: Api, alice: tuple[dict[str, Any], Api]
) -> None:
    for api in (admin, alice[1]):
        answer = expect(api.get("/accounts", params=params), 422, "validation_error")
        assert set(params) <= field_errors(answer)


def test_openapi_names_the_sortable_fields(anon: Api) -> None:
    schema = expect(anon.get("/openapi.json"), 200)
    operation = schema["paths"]["/accounts"]["get"]
    sort = next(p for p in operation["parameters"] if p["name"] == "sort")
    spec = sort["schema"]
    if "$ref" in spec:
        spec = schema["components"]["schemas"][spec["$ref"].rsplit("/", 1)[-1]]
    assert set(spec["enum"]) == {"id", "number", "balance", "owner_id", "created_at"}
    admin_put = schema["paths"]["/accounts/{account_id}/admin"]["put"]
    assert {"401", "403", "404", "409", "422"} <= set(admin_put["responses"])
    assert {"401", "404"} <= set(schema["paths"]["/payees/{number}"]["get"]["responses"])


# --- PATCH: the owner's nickname -------------------------------------------------------------


def test_owner_renames_an_account(alice: tuple[dict[str, Any], Api], mongo: Any) -> None:
    user, api = alice
    account = expect(api.post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}"
    renamed = expect(api.patch(path, json={"nickname": "Bills"}), 200)
    assert renamed["nickname"] == "Bills"
    assert renamed["version"] == 2
    assert renamed["created_at"] == account["created_at"]
    assert renamed["updated_at"] >= account["updated_at"]
    assert TIMESTAMP.fullmatch(renamed["updated_at"])
    assert {k: v for k, v in renamed.items() if k not in ("nickname", "version", "updated_at")} == {
        k: v for k, v in account.items() if k not in ("nickname", "version", "updated_at")
    }
    assert expect(api.get(path), 200) == renamed
    cleared = expect(api.patch(path + "/", json={"nickname": None}), 200)
    assert cleared["nickname"] is None
    assert cleared["version"] == 3
    fancy = expect(api.patch(path, json={"nickname": "Ü" * 50}), 200)
    assert fancy["nickname"] == "Ü" * 50
    assert fancy["version"] == 4
    events = audit_events(mongo, account["id"])
    assert [e["action"] for e in events] == ["account.opened"] + ["account.updated"] * 3
    assert all(e["actor_id"] == user["id"] and e["outcome"] == "ok" for e in events)
    assert events[1]["details"] == {"fields": ["nickname"]}


def test_only_the_owner_may_rename(
    alice_account: dict[str, Any],
    bob: tuple[dict[str, Any], Api],
    teller: Api,
    admin: Api,
) -> None:
    path = f"/accounts/{alice_account['id']}"
    expect(teller.patch(path, json={"nickname": "Teller was here"}), 403, "forbidden")
    expect(admin.patch(path, json={"nickname": "Admin was here"}), 403, "forbidden")
    hidden = expect(bob[1].patch(path, json={"nickname": "Bob was here"}), 404, "not_found")
    missing = expect(bob[1].patch("/accounts/99999999", json={"nickname": "x"}), 404, "not_found")
    assert hidden == missing
    expect(admin.patch("/accounts/99999999", json={"nickname": "x"}), 404, "not_found")
    current = expect(admin.get(path), 200)
    assert current["nickname"] == alice_account["nickname"]
    assert current["version"] == alice_account["version"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"nickname": "ok", "status": "closed"},
        {"nickname": "ok", "balance": "5.00"},
        {"nickname": "ok", "owner_id": 1},
        {"nickname": "ok", "version": 1},
        {"nickname": "N" * 51},
        {"nickname": "bad\r\n"},
        {"nickname": 5},
    ],
)
def test_invalid_rename_bodies_are_refused(
    body: dict[str, Any], alice_account: dict[str, Any], alice: tuple[dict[str, Any], Api]
) -> None:
    path = f"/accounts/{alice_account['id']}"
    expect(alice[1].patch(path, json=body), 422, "validation_error")
    current = expect(alice[1].get(path), 200)
    assert current["nickname"] == alice_account["nickname"]
    assert current["version"] == alice_account["version"]


def test_closed_account_cannot_be_renamed(alice: tuple[dict[str, Any], Api], admin: Api) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "savings"}), 201)
    expect(admin.delete(f"/accounts/{account['id']}"), 204)
    path = f"/accounts/{account['id']}"
    expect(alice[1].patch(path, json={"nickname": "Late"}), 409, "account_not_active")
    assert expect(alice[1].get(path), 200)["nickname"] is None


# --- PUT /admin: status, type and limits -----------------------------------------------------


def test_only_admins_change_settings(
    alice: tuple[dict[str, Any], Api], alice_account: dict[str, Any], teller: Api, bob: Any
) -> None:
    path = f"/accounts/{alice_account['id']}/admin"
    for api in (teller, alice[1], bob[1]):
        expect(api.put(path, json={"status": "frozen"}), 403, "forbidden")
        expect(api.put(path, json={"overdraft_limit": "1000.00"}), 403, "forbidden")
    current = expect(alice[1].get(f"/accounts/{alice_account['id']}"), 200)
    assert current["status"] == "active"
    assert current["overdraft_limit"] == "0.00"
    assert current["version"] == alice_account["version"]


def test_admin_settings_on_a_missing_account(admin: Api) -> None:
    expect(admin.put("/accounts/99999999/admin", json={"status": "frozen"}), 404, "not_found")


def test_freeze_and_unfreeze(
    alice: tuple[dict[str, Any], Api], admin: Api, admin_user: dict[str, Any], mongo: Any
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    account_id = account["id"]
    path = f"/accounts/{account_id}/admin"
    deposit(admin, account_id, "5.00")
    frozen = expect(admin.put(path, json={"status": "frozen"}), 200)
    assert frozen["status"] == "frozen"
    assert frozen["version"] == 2
    assert frozen["balance"] == "5.00"
    # A frozen account refuses movements, stays readable by its owner and is no payee.
    refused = admin.post(f"/accounts/{account_id}/deposit", json={"amount": "1.00"})
    expect(refused, 409, "account_not_active")
    withdrawal = admin.post(f"/accounts/{account_id}/withdraw", json={"amount": "1.00"})
    expect(withdrawal, 409, "account_not_active")
    assert expect(alice[1].get(f"/accounts/{account_id}"), 200)["status"] == "frozen"
    expect(alice[1].get(f"/payees/{account['number']}"), 404, "not_found")
    thawed = expect(admin.put(path, json={"status": "active", "version": 2}), 200)
    assert thawed["status"] == "active"
    assert thawed["version"] == 3
    deposit(admin, account_id, "1.00")
    assert expect(admin.get(f"/accounts/{account_id}"), 200)["balance"] == "6.00"
    settings_events = [
        e for e in audit_events(mongo, account_id) if not e["action"].startswith("money.")
    ]
    assert [e["action"] for e in settings_events] == [
        "account.opened",
        "account.frozen",
        "account.unfrozen",
    ]
    for event in settings_events[1:]:
        assert event["actor_id"] == admin_user["id"]
        assert event["outcome"] == "ok"
        assert event["target_type"] == "account"


def test_limits_and_type_change_with_version_bumps(
    alice: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}/admin"
    steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"overdraft_limit": "250.00"}, {"overdraft_limit": "250.00"}),
        ({"overdraft_limit": 100.5}, {"overdraft_limit": "100.50"}),
        ({"overdraft_limit": 0}, {"overdraft_limit": "0.00"}),
        ({"daily_withdrawal_limit": "500"}, {"daily_withdrawal_limit": "500.00"}),
        ({"daily_withdrawal_limit": None}, {"daily_withdrawal_limit": None}),
        ({"daily_withdrawal_limit": 9999999999.99}, {"daily_withdrawal_limit": "9999999999.99"}),
        ({"account_type": "savings"}, {"account_type": "savings"}),
        (
            {"account_type": "checking", "overdraft_limit": "0.5", "daily_withdrawal_limit": "1.1"},
            {
                "account_type": "checking",
                "overdraft_limit": "0.50",
                "daily_withdrawal_limit": "1.10",
            },
        ),
    ]
    version = 1
    for body, changed in steps:
        answer = expect(admin.put(path, json=body), 200)
        version += 1
        assert answer["version"] == version, body
        for field, value in changed.items():
            assert answer[field] == value, body
        assert answer["status"] == "active"
        assert answer["balance"] == "0.00"
        assert expect(alice[1].get(f"/accounts/{account['id']}"), 200) == answer
    stored = mongo.accounts.find_one({"_id": account["id"]})
    assert stored["overdraft_limit"] == Decimal128("0.50")
    assert stored["version"] == version
    updates = [e for e in audit_events(mongo, account["id"]) if e["action"] == "account.updated"]
    assert len(updates) == len(steps)
    assert updates[0]["details"] == {"fields": ["overdraft_limit"]}
    assert updates[-1]["details"] == {
        "fields": ["account_type", "daily_withdrawal_limit", "overdraft_limit"]
    }


def test_settings_that_change_nothing_keep_the_version(
    alice: tuple[dict[str, Any], Api], admin: Api
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}/admin"
    same = {
        "status": "active",
        "account_type": "checking",
        "overdraft_limit": "0",
        "daily_withdrawal_limit": "10000.00",
    }
    assert expect(admin.put(path, json=same), 200) == account
    assert expect(admin.put(path, json={}), 200) == account


def test_freezing_and_a_limit_together_write_both_events(
    alice: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}/admin"
    both = {"status": "frozen", "daily_withdrawal_limit": "20.00"}
    answer = expect(admin.put(path, json=both), 200)
    assert answer["status"] == "frozen"
    assert answer["daily_withdrawal_limit"] == "20.00"
    assert answer["version"] == 2  # one change of settings, one bump
    events = audit_events(mongo, account["id"])
    assert [e["action"] for e in events] == ["account.opened", "account.frozen", "account.updated"]
    assert events[2]["details"] == {"fields": ["daily_withdrawal_limit"]}


def test_stale_version_is_a_conflict(
    alice: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}/admin"
    first = expect(admin.put(path + "/", json={"overdraft_limit": "10.00", "version": 1}), 200)
    assert first["version"] == 2
    # A second admin working from version 1 loses, and nothing of theirs is applied.
    stale = {"overdraft_limit": "999.00", "status": "frozen", "version": 1}
    answer = expect(admin.put(path, json=stale), 409, "version_conflict")
    assert isinstance(answer["detail"], str)
    expect(admin.put(path, json={"version": 99}), 409, "version_conflict")
    assert expect(admin.get(f"/accounts/{account['id']}"), 200) == first
    assert actions(mongo, account["id"]) == ["account.opened", "account.updated"]
    current = expect(admin.put(path, json={"overdraft_limit": "999.00", "version": 2}), 200)
    assert current["overdraft_limit"] == "999.00"
    assert current["version"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"status": "closed"},
        {"status": "deleted"},
        {"status": None},
        {"account_type": None},
        {"version": "x"},
        {"account_type": "loan"},
        {"version": 0},
        {"version": -1},
        {"balance": "1000.00"},
        {"owner_id": 1},
        {"number": "0000000195"},
        {"currency": "EUR"},
        {"nickname": "admin"},
        {"created_at": "2020-01-01T00:00:00.000Z"},
    ],
)
def test_invalid_settings_are_refused(
    body: dict[str, Any], alice_account: dict[str, Any], admin: Api
) -> None:
    path = f"/accounts/{alice_account['id']}/admin"
    expect(admin.put(path, json=body), 422, "validation_error")
    current = expect(admin.get(f"/accounts/{alice_account['id']}"), 200)
    assert current["status"] == "active"
    assert current["version"] == alice_account["version"]
    assert current["balance"] == "0.00"
    assert current["owner_id"] == alice_account["owner_id"]


@pytest.mark.parametrize(
    "raw",
    [
        b'"-1.00"',
        b"-1",
        b"-0.01",
        b'"1.234"',
        b"1.234",
        b"1e3",
        b"1E3",
        b'"1e3"',
        b'"12345678901"',
        b"12345678901",
        b"true",
        b"false",
        b'""',
        b'" 1.00"',
        b'"1.00 "',
        b'"1,000.00"',
        b'"1_000"',
        b'"1."',
        b'".50"',
        b'"NaN"',
        b"NaN",
        b"Infinity",
        b'"Infinity"',
        b'"ten"',
        b'{"amount": "1.00"}',
        b'["1.00"]',
    ],
)
@pytest.mark.parametrize("field", ["overdraft_limit", "daily_withdrawal_limit"])
def test_invalid_money_settings_are_refused(
    field: str, raw: bytes, alice_account: dict[str, Any], admin: Api
) -> None:
    path = f"/accounts/{alice_account['id']}/admin"
    content = b'{"' + field.encode() + b'": ' + raw + b"}"
    response = admin.put(path, content=content, headers={"Content-Type": "application/json"})
    answer = expect(response, 422, "validation_error")
    assert "Traceback" not in response.text
    assert isinstance(answer["detail"], list)
    current = expect(admin.get(f"/accounts/{alice_account['id']}"), 200)
    assert current["overdraft_limit"] == "0.00"
    assert current["daily_withdrawal_limit"] == "10000.00"
    assert current["version"] == alice_account["version"]


def test_overdraft_limit_cannot_be_removed(alice_account: dict[str, Any], admin: Api) -> None:
    # The overdraft limit is a number (0.00 means none); only the daily limit may be null.
    path = f"/accounts/{alice_account['id']}/admin"
    answer = expect(admin.put(path, json={"overdraft_limit": None}), 422)
    assert field_errors(answer) == {"overdraft_limit"}
    current = expect(admin.get(f"/accounts/{alice_account['id']}"), 200)
    assert current["overdraft_limit"] == "0.00"
    assert current["version"] == alice_account["version"]


def test_overdraft_limit_cannot_drop_below_the_current_debt(
    alice: tuple[dict[str, Any], Api], admin: Api
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}/admin"
    expect(admin.put(path, json={"overdraft_limit": "50.00"}), 200)
    expect(admin.post(f"/accounts/{account['id']}/withdraw", json={"amount": "30.00"}), 201)
    before = expect(admin.get(f"/accounts/{account['id']}"), 200)
    assert before["balance"] == "-30.00"
    expect(admin.put(path, json={"overdraft_limit": "29.99"}), 409, "insufficient_funds")
    unchanged = expect(admin.get(f"/accounts/{account['id']}"), 200)
    assert unchanged["overdraft_limit"] == "50.00"
    assert unchanged["version"] == before["version"]
    lowered = expect(admin.put(path, json={"overdraft_limit": "30.00"}), 200)
    assert lowered["overdraft_limit"] == "30.00"


def test_closed_account_settings_cannot_change(
    alice: tuple[dict[str, Any], Api], admin: Api
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    expect(admin.delete(f"/accounts/{account['id']}"), 204)
    path = f"/accounts/{account['id']}/admin"
    for body in ({"status": "active"}, {"status": "frozen"}, {"overdraft_limit": "5.00"}, {}):
        expect(admin.put(path, json=body), 409, "account_not_active")
    after = expect(admin.get(f"/accounts/{account['id']}"), 200)
    assert after["status"] == "closed"
    assert after["overdraft_limit"] == "0.00"


# --- DELETE: closing -------------------------------------------------------------------------


def test_only_admins_close_accounts(
    alice: tuple[dict[str, Any], Api], alice_account: dict[str, Any], teller: Api, bob: Any
) -> None:
    path = f"/accounts/{alice_account['id']}"
    for api in (teller, alice[1], bob[1]):
        expect(api.delete(path), 403, "forbidden")
    assert expect(alice[1].get(path), 200)["status"] == "active"


def test_closing_a_missing_account_is_404(admin: Api) -> None:
    expect(admin.delete("/accounts/99999999"), 404, "not_found")


def test_admin_closes_a_zero_balance_account(
    alice: tuple[dict[str, Any], Api], admin: Api, admin_user: dict[str, Any], mongo: Any
) -> None:
    user, api = alice
    account = expect(api.post("/accounts", json={"account_type": "checking"}), 201)
    path = f"/accounts/{account['id']}"
    response = admin.delete(path + "/")
    assert response.status_code == 204
    assert response.content == b""
    closed = expect(api.get(path), 200)  # still readable by its owner
    assert closed["status"] == "closed"
    assert closed["version"] == 2
    assert closed["balance"] == "0.00"
    assert closed["number"] == account["number"]
    listed = expect(api.get("/accounts", params={"status": "closed", "limit": 200}), 200)
    assert account["id"] in {item["id"] for item in listed["items"]}
    assert mongo.accounts.find_one({"_id": account["id"]})["status"] == "closed"
    # Closing is final: no second close, no movements, no payee.
    expect(admin.delete(path), 409, "account_not_active")
    expect(admin.post(path + "/deposit", json={"amount": "1.00"}), 409, "account_not_active")
    expect(api.get(f"/payees/{account['number']}"), 404, "not_found")
    assert expect(api.get(path), 200) == closed
    events = [e for e in audit_events(mongo, account["id"]) if e["action"].startswith("account.")]
    assert [e["action"] for e in events] == ["account.opened", "account.closed"]
    assert events[1]["actor_id"] == admin_user["id"]
    assert events[1]["outcome"] == "ok"
    assert user["id"] != admin_user["id"]


@pytest.mark.parametrize("balance", ["0.01", "250.00", "-10.00"])
def test_account_holding_money_cannot_close(
    balance: str, alice: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "checking"}), 201)
    account_id = account["id"]
    path = f"/accounts/{account_id}"
    if balance.startswith("-"):
        expect(admin.put(path + "/admin", json={"overdraft_limit": "10.00"}), 200)
        expect(admin.post(path + "/withdraw", json={"amount": balance[1:]}), 201)
    else:
        deposit(admin, account_id, balance)
    answer = expect(admin.delete(path), 409, "balance_not_zero")
    assert isinstance(answer["detail"], str)
    current = expect(admin.get(path), 200)
    assert current["status"] == "active"
    assert current["balance"] == balance
    assert "account.closed" not in actions(mongo, account_id)
    # Once the balance is back at zero it closes.
    if balance.startswith("-"):
        deposit(admin, account_id, balance[1:])
    else:
        expect(admin.post(path + "/withdraw", json={"amount": balance}), 201)
    expect(admin.delete(path), 204)
    assert expect(admin.get(path), 200)["status"] == "closed"


def test_frozen_account_with_zero_balance_closes(
    alice: tuple[dict[str, Any], Api], admin: Api
) -> None:
    account = expect(alice[1].post("/accounts", json={"account_type": "savings"}), 201)
    path = f"/accounts/{account['id']}"
    expect(admin.put(path + "/admin", json={"status": "frozen"}), 200)
    expect(admin.delete(path), 204)
    closed = expect(admin.get(path), 200)
    assert closed["status"] == "closed"
    assert closed["version"] == 3


# --- payees ----------------------------------------------------------------------------------


def test_any_signed_in_user_looks_up_a_payee(
    alice_account: dict[str, Any],
    alice: tuple[dict[str, Any], Api],
    bob: tuple[dict[str, Any], Api],
    teller: Api,
    admin: Api,
) -> None:
    expected = {
        "number": alice_account["number"],
        "holder": "A. Smith",
        "currency": "USD",
        "account_type": "checking",
    }
    for api in (alice[1], bob[1], teller, admin):
        assert expect(api.get(f"/payees/{alice_account['number']}"), 200) == expected
        assert expect(api.get(f"/payees/{alice_account['number']}/"), 200) == expected


@pytest.mark.parametrize(
    ("full_name", "holder"),
    [("Mary Ann van Dyke", "M. Dyke"), ("Cher", "C."), ("  Zoë   Łukasiewicz ", "Z. Łukasiewicz")],
)
def test_payee_holder_is_masked(
    full_name: str, holder: str, make_user: MakeUser, open_account: OpenAccount, bob: Any
) -> None:
    user, _ = make_user("user", full_name=full_name)
    account = open_account(user["id"], currency="GBP", account_type="savings")
    answer = expect(bob[1].get(f"/payees/{account['number']}"), 200)
    assert answer == {
        "number": account["number"],
        "holder": holder,
        "currency": "GBP",
        "account_type": "savings",
    }


def test_payee_lookup_misses_are_404(
    alice_account: dict[str, Any], bob: tuple[dict[str, Any], Api], admin: Api, mongo: Any
) -> None:
    api = bob[1]
    number = alice_account["number"]
    unused_id = mongo.accounts.count_documents({}) + 5_000
    wrong_check = number[:8] + f"{(int(number[8:]) + 1) % 100:02d}"
    swapped = number[:8] + number[9] + number[8]
    candidates = [
        expected_number(unused_id),  # valid check digits, no such account
        expected_number(99_999_999),
        wrong_check,
        "0000000098",  # passes the check but names id 0
        number[:9],
        number + "0",
        "0" + number,
        number[:9] + "x",
        "abcdefghij",
        "%20" + number,
        number + "%20",
        "-" + number[1:],
        "+" + number[1:],
        "١" * 10,
        "x" * 32,
        "9" * 33,
        number * 20,
    ]
    if swapped != number:
        candidates.append(swapped)
    for candidate in candidates:
        expect(api.get(f"/payees/{candidate}"), 404, "not_found")
    expect(admin.get(f"/payees/{expected_number(unused_id)}"), 404, "not_found")


def test_payee_needs_a_sign_in(anon: Api, alice_account: dict[str, Any]) -> None:
    expect(anon.get(f"/payees/{alice_account['number']}"), 401, "not_authenticated")
    expect(anon.get("/payees/0000000000"), 401, "not_authenticated")


# --- audit -----------------------------------------------------------------------------------


def test_opening_is_audited(
    alice: tuple[dict[str, Any], Api], alice_account: dict[str, Any], mongo: Any
) -> None:
    events = audit_events(mongo, alice_account["id"])
    assert len(events) >= 1
    opened = events[0]
    assert opened["action"] == "account.opened"
    assert opened["outcome"] == "ok"
    assert opened["actor_id"] == alice[0]["id"]
    assert opened["target_type"] == "account"
    assert opened["target_id"] == alice_account["id"]
    assert opened["details"]["owner_id"] == alice[0]["id"]
    assert opened["details"]["number"] == alice_account["number"]
    assert opened["details"]["currency"] == "USD"
    assert opened["details"]["account_type"] == "checking"
    assert opened["code"] is None
    created = datetime.fromisoformat(alice_account["created_at"])
    assert abs((opened["at"] - created).total_seconds()) < 60


def test_refused_opening_writes_no_account_event(
    alice: tuple[dict[str, Any], Api], bob: tuple[dict[str, Any], Api], mongo: Any
) -> None:
    before = mongo.audit_events.count_documents({"action": "account.opened"})
    body = {"account_type": "checking", "owner_id": bob[0]["id"]}
    expect(alice[1].post("/accounts", json=body), 403, "forbidden")
    expect(alice[1].post("/accounts", json={"account_type": "x"}), 422, "validation_error")
    assert mongo.audit_events.count_documents({"action": "account.opened"}) == before
