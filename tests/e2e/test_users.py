"""Users end to end: sign-up, registration by staff, lists, reads, changes, deletion, unlock."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_PASSWORD, Api, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
# Version 2 adds the customer identification (null for staff).
USER_KEYS = {"id", "username", "full_name", "email", "role", "is_active", "created_at",
             "updated_at", "profile", "documents", "kyc_status"}  # fmt: skip
SUMMARY_KEYS = {"id", "number", "balance", "currency", "status"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MISSING = 10**9


# --- helpers -----------------------------------------------------------------------------


def uid(prefix: str = "u") -> str:
    """Return a fresh, valid username."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def new_rid() -> str:
    """Return a fresh request id, to find the audit events of one request."""
    return f"users-{uuid.uuid4().hex}"


def rid_header(rid: str) -> dict[str, str]:
    """Return the header that names a request."""
    return {"X-Request-ID": rid}


def body_for(username: str | None = None, **fields: Any) -> dict[str, Any]:
    """Return a valid sign-up body, with overrides."""
    username = username or uid()
    return {
        "username": username,
        "password": f"pw-{uuid.uuid4().hex[:12]}",
        "full_name": "Test Person",
        "email": f"{username.lower()}@example.com",
        **fields,
    }


def assert_user(body: dict[str, Any]) -> None:
    """Assert the User shape: exactly the public fields, never a password or hash."""
    assert set(body) - {"accounts"} == USER_KEYS, body
    assert isinstance(body["id"], int)
    assert TIMESTAMP.match(body["created_at"]), body["created_at"]
    assert TIMESTAMP.match(body["updated_at"]), body["updated_at"]
    text = json.dumps(body).lower()
    assert "password" not in text
    assert "$argon2" not in text
    assert "_id" not in body


def events(mongo: Any, rid: str, action: str | None = None) -> list[dict[str, Any]]:
    """Return the audit events a request wrote (of one action), oldest first."""
    query: dict[str, Any] = {"request_id": rid}
    if action is not None:
        query["action"] = action
    return list(mongo.audit_events.find(query).sort("_id", 1))


def login_status(anon: Api, username: str, password: str) -> int:
    """Try to sign in and return the status."""
    response = anon.client.post("/login", data={"username": username, "password": password})
    return response.status_code


def me(api: Api) -> dict[str, Any]:
    """Return the caller's own user."""
    body: dict[str, Any] = expect(api.get("/me"), 200)
    return body


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A customer and their signed-in client."""
    return make_user("user")


@pytest.fixture(scope="module")
def other_customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """Another customer."""
    return make_user("user")


@pytest.fixture(scope="module")
def other_teller(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A second teller."""
    return make_user("teller")


@pytest.fixture(scope="module")
def second_admin(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """An admin besides the bootstrap one."""
    return make_user("admin")


@pytest.fixture(scope="module")
def admin_id(admin: Api) -> int:
    """The bootstrap admin's id."""
    return int(me(admin)["id"])


# --- sign-up and registration ------------------------------------------------------------


def test_anonymous_sign_up_creates_a_customer(anon: Api, admin: Api, mongo: Any) -> None:
    requested = f"New.User-{uuid.uuid4().hex[:6]}_X"
    body = body_for(requested, full_name="Zoë O'Brien-Łukasz", email="Zoe.OBrien@example.com")
    rid = new_rid()
    created = expect(anon.post("/users", json=body, headers=rid_header(rid)), 201)
    assert_user(created)
    assert created["username"] == requested.lower()
    assert created["role"] == "user"
    assert created["is_active"] is True
    assert created["full_name"] == "Zoë O'Brien-Łukasz"
    assert created["email"].lower() == "zoe.obrien@example.com"
    assert created["created_at"] == created["updated_at"]

    # The same values, timestamps included, in every later read.
    assert expect(admin.get(f"/users/{created['id']}"), 200) == created
    stored = mongo.users.find_one({"_id": created["id"]})
    assert stored["password_hash"].startswith("$argon2id$")
    assert body["password"] not in json.dumps(stored, default=str)

    [event] = events(mongo, rid, "user.created")
    assert event["outcome"] == "ok"
    assert event["actor_id"] == created["id"]
    assert event["target_type"] == "user"
    assert event["target_id"] == created["id"]
    assert event["ip"] == "127.0.0.1"
    assert body["password"] not in json.dumps(event, default=str)

    # Signs in with the name in any case.
    assert login_status(anon, requested.upper(), body["password"]) == 200


def test_sign_up_with_role_user_is_allowed(anon: Api) -> None:
    created = expect(anon.post("/users", json=body_for(role="user")), 201)
    assert created["role"] == "user"
    created = expect(anon.post("/users", json=body_for(role=None)), 201)
    assert created["role"] == "user"


@pytest.mark.parametrize("role", ["teller", "supervisor", "admin"])
def test_anonymous_may_not_ask_for_a_staff_role(anon: Api, admin: Api, role: str) -> None:
    body = body_for(role=role)
    expect(anon.post("/users", json=body), 403, "forbidden")
    # Nothing was created: the name is still free.
    listed = expect(admin.get("/users", params={"q": body["username"]}), 200)
    assert listed["total"] == 0
    assert expect(anon.post("/users", json={**body, "role": "user"}), 201)["role"] == "user"


@pytest.mark.parametrize("role", ["teller", "supervisor", "admin"])
def test_customer_may_not_create_staff(customer: tuple[dict[str, Any], Api], role: str) -> None:
    expect(customer[1].post("/users", json=body_for(role=role)), 403, "forbidden")


def test_teller_registers_customers_only(teller: Api, mongo: Any) -> None:
    teller_id = me(teller)["id"]
    rid = new_rid()
    created = expect(teller.post("/users", json=body_for(), headers=rid_header(rid)), 201)
    assert_user(created)
    assert created["role"] == "user"
    [event] = events(mongo, rid, "user.created")
    assert event["actor_id"] == teller_id
    assert event["target_id"] == created["id"]
    assert expect(teller.post("/users", json=body_for(role="user")), 201)["role"] == "user"
    for role in ("teller", "supervisor", "admin"):
        expect(teller.post("/users", json=body_for(role=role)), 403, "forbidden")


@pytest.mark.parametrize("role", ["user", "teller", "supervisor", "admin"])
def test_admin_creates_any_role(
    anon: Api, admin: Api, admin_id: int, mongo: Any, role: str
) -> None:
    body = body_for(role=role)
    rid = new_rid()
    created = expect(admin.post("/users", json=body, headers=rid_header(rid)), 201)
    assert_user(created)
    assert created["role"] == role
    [event] = events(mongo, rid, "user.created")
    assert event["actor_id"] == admin_id
    assert event["details"]["role"] == role
    signed_in = anon.login(body["username"], body["password"])
    assert me(signed_in)["role"] == role
    signed_in.close()


def test_usernames_are_unique_case_folded_and_forever(anon: Api, admin: Api) -> None:
    name = uid("dup")
    first = expect(anon.post("/users", json=body_for(name)), 201)
    expect(anon.post("/users", json=body_for(name)), 409, "username_taken")
    expect(anon.post("/users", json=body_for(name.upper())), 409, "username_taken")
    expect(admin.post("/users", json=body_for(name.title(), role="teller")), 409, "username_taken")

    expect(admin.delete(f"/users/{first['id']}"), 204)
    expect(anon.post("/users", json=body_for(name)), 409, "username_taken")
    expect(admin.post("/users", json=body_for(name)), 409, "username_taken")


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 33, "", "has space", "semi;colon", "at@sign", "slash/x", "tab\tname",
     "ünïcode", "emoji😀x", "new\nline", " padded ", "a+b", 12345, None],
)  # fmt: skip
def test_invalid_usernames_are_refused(anon: Api, username: Any) -> None:
    body = {**body_for(), "username": username}
    expect(anon.post("/users", json=body), 422, "validation_error")


@pytest.mark.parametrize(
    "make_name",
    [lambda h: h[:3], lambda h: h, lambda h: f"-._{h[:6]}", lambda h: f"a.b-c_{h[:6]}9"],
    ids=["3-chars", "32-chars", "punctuation-first", "mixed"],
)
def test_usernames_at_the_edges_are_accepted(anon: Api, make_name: Callable[[str], str]) -> None:
    name = make_name(uuid.uuid4().hex)
    created = expect(anon.post("/users", json=body_for(name)), 201)
    assert created["username"] == name


@pytest.mark.parametrize("password", ["short7!", "x" * 129, "", 12345678, None])
def test_invalid_passwords_are_refused(anon: Api, password: Any) -> None:
    expect(anon.post("/users", json=body_for(password=password)), 422, "validation_error")


def test_password_may_not_equal_the_username(anon: Api) -> None:
    name = uid("same")
    expect(anon.post("/users", json=body_for(name, password=name)), 422, "validation_error")
    expect(anon.post("/users", json=body_for(name, password=name.upper())), 422,
           "validation_error")  # fmt: skip
    expect(anon.post("/users", json=body_for(name.upper(), password=name)), 422,
           "validation_error")  # fmt: skip


@pytest.mark.parametrize("length", [8, 128])
def test_passwords_at_the_edges_are_accepted(anon: Api, length: int) -> None:
    body = body_for(password="p" * length)
    expect(anon.post("/users", json=body), 201)
    assert login_status(anon, body["username"], "p" * length) == 200


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "x@", "@example.com", "a b@example.com", "a@@example.com", "", 42, None,
     "a@example..com"],
)  # fmt: skip
def test_invalid_emails_are_refused(anon: Api, email: Any) -> None:
    expect(anon.post("/users", json=body_for(email=email)), 422, "validation_error")


@pytest.mark.parametrize(
    "full_name",
    ["", "   ", "x" * 101, "bad\nname", "nul\x00byte", "tab\tname", "bell\x07", 7, None],
)
def test_invalid_full_names_are_refused(anon: Api, full_name: Any) -> None:
    expect(anon.post("/users", json=body_for(full_name=full_name)), 422, "validation_error")


@pytest.mark.parametrize("full_name", ["X", "y" * 100, "José María Núñez-Ñandú"])
def test_full_names_at_the_edges_are_accepted(anon: Api, full_name: str) -> None:
    assert (
        expect(anon.post("/users", json=body_for(full_name=full_name)), 201)["full_name"]
        == full_name
    )


@pytest.mark.parametrize("missing", ["username", "password", "full_name", "email"])
def test_required_fields(anon: Api, missing: str) -> None:
    body = body_for()
    del body[missing]
    expect(anon.post("/users", json=body), 422, "validation_error")


@pytest.mark.parametrize(
    "extra",
    [{"is_active": False}, {"id": 999999}, {"password_hash": "$argon2id$x"},
     {"created_at": "2020-01-01T00:00:00.000Z"}, {"deleted_at": None}, {"failed_logins": 0},
     {"Role": "admin"}, {"admin": True}, {"_id": 5}],
)  # fmt: skip
def test_unknown_fields_are_refused_on_create(anon: Api, admin: Api, extra: dict[str, Any]) -> None:
    body = body_for(**extra)
    response = anon.post("/users", json=body)
    expect(response, 422, "validation_error")
    assert body["password"] not in response.text
    expect(admin.post("/users", json=body), 422, "validation_error")
    assert expect(admin.get("/users", params={"q": body["username"]}), 200)["total"] == 0


def test_unknown_role_is_refused(anon: Api, admin: Api) -> None:
    for role in ("superuser", "ADMIN", "", 1):
        expect(admin.post("/users", json=body_for(role=role)), 422, "validation_error")


def test_non_object_bodies_are_refused(anon: Api) -> None:
    bodies: list[Any] = [[], "text", 5]
    for body in bodies:
        expect(anon.post("/users", json=body), 422, "validation_error")


def test_sign_up_with_a_bad_token_is_refused(anon: Api) -> None:
    response = anon.post("/users", json=body_for(), headers={"Authorization": "Bearer junk"})
    expect(response, 401, "invalid_token")


# --- listing -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roster(admin: Api, open_account: OpenAccount) -> dict[str, Any]:
    """A tagged set of users of every role (one deleted), some with accounts."""
    tag = f"rst{uuid.uuid4().hex[:6]}"
    specs = [
        ("c1", "Mona Quill", "user"),
        ("c2", "Bruno Quill", "user"),
        ("c3", "Xena Quill", "user"),
        ("c4", "Aaron Quill", "user"),
        ("t1", "Dora Quill", "teller"),
        ("a1", "Kurt Quill", "admin"),
        ("gone", "Gina Quill", "user"),
    ]
    users: dict[str, dict[str, Any]] = {}
    for suffix, full_name, role in specs:
        body = body_for(f"{tag}-{suffix}", full_name=full_name, role=role,
                        email=f"{suffix}.{tag}@mail{suffix}.example.com")  # fmt: skip
        users[suffix] = expect(admin.post("/users", json=body), 201)
    expect(admin.delete(f"/users/{users['gone']['id']}"), 204)
    accounts = [
        open_account(users["c1"]["id"], deposit="12.50"),
        open_account(users["c1"]["id"], currency="EUR"),
    ]
    return {"tag": tag, "users": users, "accounts": accounts}


def page(api: Api, **params: Any) -> dict[str, Any]:
    """GET /users with query parameters and return the page."""
    body: dict[str, Any] = expect(api.get("/users", params=params), 200)
    assert set(body) == {"items", "total", "skip", "limit"}
    for item in body["items"]:
        assert_user(item)
    return body


def test_listing_is_for_staff(
    anon: Api, customer: tuple[dict[str, Any], Api], teller: Api, admin: Api
) -> None:
    expect(anon.get("/users"), 401, "not_authenticated")
    expect(customer[1].get("/users"), 403, "forbidden")
    expect(customer[1].get("/users", params={"q": "x"}), 403, "forbidden")
    assert page(teller)["total"] >= 1
    assert page(admin)["total"] >= 1


def test_list_answers_a_page(admin: Api, roster: dict[str, Any]) -> None:
    body = page(admin)
    assert body["skip"] == 0
    assert body["limit"] == 50
    assert body["total"] >= len(roster["users"]) - 1
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids)
    assert "accounts" not in body["items"][0]


def test_admin_search_matches_username_full_name_and_email(
    admin: Api, roster: dict[str, Any]
) -> None:
    tag, users = roster["tag"], roster["users"]
    live = {u["id"] for key, u in users.items() if key != "gone"}
    by_tag = page(admin, q=tag)
    assert {item["id"] for item in by_tag["items"]} == live
    assert by_tag["total"] == len(live)
    assert {item["id"] for item in page(admin, q=tag.upper())["items"]} == live

    assert [i["id"] for i in page(admin, q=f"{tag}-C3")["items"]] == [users["c3"]["id"]]
    xena = page(admin, q="xena quill")["items"]
    assert [i["id"] for i in xena] == [users["c3"]["id"]]
    by_email = page(admin, q="MAILT1.EXAMPLE")["items"]
    assert [i["id"] for i in by_email] == [users["t1"]["id"]]


@pytest.mark.parametrize("q", [".*", "(", "[a-z]+", "\\", "$where", "^rst"])
def test_search_text_is_literal(admin: Api, q: str) -> None:
    assert page(admin, q=q)["total"] == 0


def test_search_length_is_bounded(admin: Api) -> None:
    expect(admin.get("/users", params={"q": "x" * 101}), 422, "validation_error")


def test_role_filter(admin: Api, roster: dict[str, Any]) -> None:
    tag, users = roster["tag"], roster["users"]
    assert [i["id"] for i in page(admin, q=tag, role="teller")["items"]] == [users["t1"]["id"]]
    assert [i["id"] for i in page(admin, q=tag, role="admin")["items"]] == [users["a1"]["id"]]
    customers = page(admin, q=tag, role="user")
    assert {i["id"] for i in customers["items"]} == {
        users[k]["id"] for k in ("c1", "c2", "c3", "c4")
    }
    for role in ("user", "teller", "admin"):
        assert all(item["role"] == role for item in page(admin, role=role, limit=200)["items"])


def test_teller_lists_customers_only(teller: Api, roster: dict[str, Any]) -> None:
    tag, users = roster["tag"], roster["users"]
    mine = page(teller, q=tag)
    assert {i["id"] for i in mine["items"]} == {users[k]["id"] for k in ("c1", "c2", "c3", "c4")}
    assert mine["total"] == 4
    everything = page(teller, limit=200)
    assert everything["items"]
    assert all(item["role"] == "user" for item in everything["items"])
    for role in ("teller", "admin"):
        staff = page(teller, role=role)
        assert staff["items"] == []
        assert staff["total"] == 0
    assert page(teller, q=tag, role="user")["total"] == 4


@pytest.mark.parametrize("sort", ["id", "username", "full_name", "created_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorting_by_each_field(admin: Api, roster: dict[str, Any], sort: str, order: str) -> None:
    items = page(admin, q=roster["tag"], sort=sort, order=order)["items"]
    assert len(items) == 6
    expected = sorted(items, key=lambda u: (u[sort], u["id"]), reverse=order == "desc")
    assert [i["id"] for i in items] == [i["id"] for i in expected]


def test_sorting_by_full_name_differs_from_id(admin: Api, roster: dict[str, Any]) -> None:
    # The roster's names are not in id order, so the sort above was really applied.
    names = [i["full_name"] for i in page(admin, q=roster["tag"], sort="full_name")["items"]]
    assert names == ["Aaron Quill", "Bruno Quill", "Dora Quill", "Kurt Quill", "Mona Quill",
                     "Xena Quill"]  # fmt: skip
    default = [i["full_name"] for i in page(admin, q=roster["tag"])["items"]]
    assert default[0] == "Mona Quill"


def test_paging(admin: Api, roster: dict[str, Any]) -> None:
    everything = page(admin, q=roster["tag"], sort="username")
    window = page(admin, q=roster["tag"], sort="username", skip=1, limit=2)
    assert window["items"] == everything["items"][1:3]
    assert window["total"] == everything["total"] == 6
    assert (window["skip"], window["limit"]) == (1, 2)
    beyond = page(admin, q=roster["tag"], skip=50)
    assert beyond["items"] == []
    assert beyond["total"] == 6
    assert page(admin, limit=200)["limit"] == 200


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"limit": -1}, {"skip": -1}, {"limit": "ten"},
     {"sort": "email"}, {"sort": "password_hash"}, {"sort": "role"}, {"order": "sideways"},
     {"role": "root"}, {"include": "everything"}, {"include_deleted": "maybe"}],
)  # fmt: skip
def test_list_parameters_out_of_range(admin: Api, params: dict[str, Any]) -> None:
    expect(admin.get("/users", params=params), 422, "validation_error")


def test_deleted_users_are_listed_for_admins_only_on_request(
    admin: Api, teller: Api, customer: tuple[dict[str, Any], Api], roster: dict[str, Any]
) -> None:
    gone = roster["users"]["gone"]
    tag = roster["tag"]
    assert gone["id"] not in {i["id"] for i in page(admin, q=tag)["items"]}
    with_deleted = page(admin, q=tag, include_deleted="true")
    assert with_deleted["total"] == 7
    [shown] = [i for i in with_deleted["items"] if i["id"] == gone["id"]]
    assert shown["is_active"] is False
    expect(teller.get("/users", params={"include_deleted": "true"}), 403, "forbidden")
    expect(customer[1].get("/users", params={"include_deleted": "true"}), 403, "forbidden")
    assert page(teller, include_deleted="false")["total"] >= 1


@pytest.mark.parametrize("who", ["admin", "teller"])
def test_include_accounts_adds_account_summaries(
    admin: Api, teller: Api, roster: dict[str, Any], who: str
) -> None:
    api = admin if who == "admin" else teller
    body = page(api, q=roster["tag"], role="user", include="accounts")
    by_id = {item["id"]: item for item in body["items"]}
    c1 = by_id[roster["users"]["c1"]["id"]]
    usd, eur = roster["accounts"]
    assert c1["accounts"] == [
        {"id": usd["id"], "number": usd["number"], "balance": "12.50", "currency": "USD",
         "status": "active"},
        {"id": eur["id"], "number": eur["number"], "balance": "0.00", "currency": "EUR",
         "status": "active"},
    ]  # fmt: skip
    for summary in c1["accounts"]:
        assert set(summary) == SUMMARY_KEYS
    for key in ("c2", "c3", "c4"):
        assert by_id[roster["users"][key]["id"]]["accounts"] == []
    plain = page(api, q=roster["tag"], role="user")
    assert all("accounts" not in item for item in plain["items"])


# --- reading one user --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["user", "teller", "admin"])
def test_everyone_reads_themselves(make_user: MakeUser, role: str) -> None:
    user, api = make_user(role)
    body = expect(api.get(f"/users/{user['id']}"), 200)
    assert_user(body)
    assert body == user == me(api)
    api.close()


def test_customer_sees_nobody_else(
    customer: tuple[dict[str, Any], Api],
    other_customer: tuple[dict[str, Any], Api],
    other_teller: tuple[dict[str, Any], Api],
    admin_id: int,
) -> None:
    api = customer[1]
    missing = expect(api.get(f"/users/{MISSING}"), 404, "not_found")
    for target in (other_customer[0]["id"], other_teller[0]["id"], admin_id):
        # The same answer as for a user that does not exist.
        assert expect(api.get(f"/users/{target}"), 404, "not_found") == missing


def test_teller_sees_customers_not_staff(
    teller: Api,
    customer: tuple[dict[str, Any], Api],
    other_teller: tuple[dict[str, Any], Api],
    second_admin: tuple[dict[str, Any], Api],
    admin_id: int,
) -> None:
    assert expect(teller.get(f"/users/{customer[0]['id']}"), 200)["id"] == customer[0]["id"]
    missing = expect(teller.get(f"/users/{MISSING}"), 404, "not_found")
    for target in (other_teller[0]["id"], second_admin[0]["id"], admin_id):
        assert expect(teller.get(f"/users/{target}"), 404, "not_found") == missing


def test_admin_sees_everyone(
    admin: Api,
    customer: tuple[dict[str, Any], Api],
    other_teller: tuple[dict[str, Any], Api],
    second_admin: tuple[dict[str, Any], Api],
) -> None:
    for user, _api in (customer, other_teller, second_admin):
        body = expect(admin.get(f"/users/{user['id']}"), 200)
        assert_user(body)
        assert body["id"] == user["id"]
        assert body["role"] == user["role"]
    expect(admin.get(f"/users/{MISSING}"), 404, "not_found")


def test_user_id_must_be_a_positive_integer(admin: Api, anon: Api) -> None:
    for bad in ("0", "-1", "abc", "1.5", str(2**70)):
        expect(admin.get(f"/users/{bad}"), 422, "validation_error")
    expect(anon.get("/users/1"), 401, "not_authenticated")


# --- changing users ----------------------------------------------------------------------


def test_self_changes_name_and_email(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, mongo: Any
) -> None:
    user, api = make_user("user")
    account = open_account(user["id"])
    rid = new_rid()
    change = {"full_name": "Changed Name", "email": "changed.name@example.com"}
    body = expect(api.put(f"/users/{user['id']}", json=change, headers=rid_header(rid)), 200)
    assert_user(body)
    assert body["full_name"] == "Changed Name"
    assert body["email"] == "changed.name@example.com"
    assert body["updated_at"] > user["updated_at"]
    assert body["created_at"] == user["created_at"]
    assert expect(api.get(f"/users/{user['id']}"), 200) == body
    # The account's owner name follows the user's.
    assert expect(admin.get(f"/accounts/{account['id']}"), 200)["owner_name"] == "Changed Name"

    [event] = events(mongo, rid)
    assert event["action"] == "user.updated"
    assert event["actor_id"] == user["id"]
    assert event["target_id"] == user["id"]
    assert sorted(event["details"]["fields"]) == ["email", "full_name"]
    api.close()


def test_self_changes_password_with_the_current_one(
    anon: Api, make_user: MakeUser, mongo: Any
) -> None:
    password = f"pw-{uuid.uuid4().hex[:12]}"
    user, api = make_user("user", password=password)
    path = f"/users/{user['id']}"
    new = f"new-{uuid.uuid4().hex[:12]}"
    expect(api.put(path, json={"password": new}), 403, "forbidden")
    expect(api.put(path, json={"password": new, "current_password": "wrong-one"}), 403,
           "forbidden")  # fmt: skip
    expect(api.put(path, json={"password": new, "current_password": None}), 403, "forbidden")
    expect(api.put(path, json={"password": "short", "current_password": password}), 422,
           "validation_error")  # fmt: skip
    expect(api.put(path, json={"password": user["username"].upper(), "current_password": password}),
           422, "validation_error")  # fmt: skip
    # None of the refusals changed the password.
    assert login_status(anon, user["username"], password) == 200

    rid = new_rid()
    change = {"password": new, "current_password": password}
    body = expect(api.put(path, json=change, headers=rid_header(rid)), 200)
    assert_user(body)
    assert login_status(anon, user["username"], password) == 401
    assert login_status(anon, user["username"], new) == 200
    [event] = events(mongo, rid)
    assert event["action"] == "user.updated"
    assert event["details"]["fields"] == ["password"]
    assert new not in json.dumps(event, default=str)
    api.close()


@pytest.mark.parametrize(
    "change", [{"role": "admin"}, {"role": "user"}, {"is_active": False},
               {"full_name": "Fine", "role": "teller"}],
)  # fmt: skip
def test_self_may_not_change_role_or_activity(make_user: MakeUser, change: dict[str, Any]) -> None:
    user, api = make_user("user")
    expect(api.put(f"/users/{user['id']}", json=change), 403, "forbidden")
    assert me(api) == user  # nothing changed, not even the allowed field
    api.close()


def test_teller_may_not_change_own_role_or_activity(make_user: MakeUser) -> None:
    user, api = make_user("teller")
    for change in ({"role": "admin"}, {"is_active": False}):
        expect(api.put(f"/users/{user['id']}", json=change), 403, "forbidden")
    assert (
        expect(api.put(f"/users/{user['id']}", json={"full_name": "Teller Renamed"}), 200)[
            "full_name"
        ]
        == "Teller Renamed"
    )
    api.close()


def test_customer_may_not_change_others(
    customer: tuple[dict[str, Any], Api],
    other_customer: tuple[dict[str, Any], Api],
    other_teller: tuple[dict[str, Any], Api],
    admin_id: int,
) -> None:
    api = customer[1]
    for target in (other_customer[0]["id"], other_teller[0]["id"], admin_id, MISSING):
        expect(api.put(f"/users/{target}", json={"full_name": "Hijacked"}), 404, "not_found")


def test_teller_changes_customer_name_email_and_activity(
    anon: Api, teller: Api, make_user: MakeUser, mongo: Any
) -> None:
    password = f"pw-{uuid.uuid4().hex[:12]}"
    user, api = make_user("user", password=password)
    teller_id = me(teller)["id"]
    path = f"/users/{user['id']}"
    body = expect(teller.put(path, json={"full_name": "By Teller", "email": "t@example.com"}), 200)
    assert (body["full_name"], body["email"]) == ("By Teller", "t@example.com")

    rid = new_rid()
    body = expect(teller.put(path, json={"is_active": False}, headers=rid_header(rid)), 200)
    assert body["is_active"] is False
    actions = [e["action"] for e in events(mongo, rid)]
    assert actions == ["user.updated", "user.deactivated"]
    assert all(e["actor_id"] == teller_id for e in events(mongo, rid))
    assert all(e["target_id"] == user["id"] for e in events(mongo, rid))
    assert login_status(anon, user["username"], password) == 401

    assert expect(teller.put(path, json={"is_active": True}), 200)["is_active"] is True
    assert login_status(anon, user["username"], password) == 200
    api.close()


def test_teller_may_not_set_customer_password_or_role(
    anon: Api, teller: Api, make_user: MakeUser
) -> None:
    password = f"pw-{uuid.uuid4().hex[:12]}"
    user, api = make_user("user", password=password)
    path = f"/users/{user['id']}"
    for change in (
        {"password": "teller-set-pw"},
        # Even knowing the current password does not make it the teller's to change.
        {"password": "teller-set-pw", "current_password": password},
        {"role": "teller"},
        {"role": "admin"},
        {"role": "user"},
        {"full_name": "Allowed Part", "role": "teller"},
    ):
        expect(teller.put(path, json=change), 403, "forbidden")
    assert me(api) == user
    assert login_status(anon, user["username"], password) == 200
    api.close()


def test_teller_may_not_touch_staff(
    teller: Api, other_teller: tuple[dict[str, Any], Api], admin_id: int
) -> None:
    for target in (other_teller[0]["id"], admin_id):
        expect(teller.put(f"/users/{target}", json={"full_name": "Nope"}), 404, "not_found")
        expect(teller.put(f"/users/{target}", json={"is_active": False}), 404, "not_found")


def test_admin_changes_role_password_and_activity(
    anon: Api, admin: Api, admin_id: int, make_user: MakeUser, mongo: Any
) -> None:
    user, api = make_user("user")
    path = f"/users/{user['id']}"

    rid = new_rid()
    body = expect(admin.put(path, json={"role": "teller"}, headers=rid_header(rid)), 200)
    assert body["role"] == "teller"
    found = events(mongo, rid)
    assert [e["action"] for e in found] == ["user.updated", "user.role_changed"]
    role_event = found[1]
    assert role_event["actor_id"] == admin_id
    assert role_event["target_id"] == user["id"]
    assert role_event["details"] == {"from": "user", "to": "teller"}
    assert role_event["outcome"] == "ok"

    new_password = f"adm-{uuid.uuid4().hex[:12]}"
    expect(admin.put(path, json={"password": new_password}), 200)
    assert login_status(anon, user["username"], new_password) == 200

    rid = new_rid()
    expect(admin.put(path, json={"is_active": False}, headers=rid_header(rid)), 200)
    deactivated = events(mongo, rid, "user.deactivated")
    assert len(deactivated) == 1
    assert deactivated[0]["actor_id"] == admin_id
    assert deactivated[0]["target_id"] == user["id"]
    assert login_status(anon, user["username"], new_password) == 401

    body = expect(admin.put(path, json={"is_active": True, "full_name": "Back Again"}), 200)
    assert (body["is_active"], body["full_name"], body["role"]) == (True, "Back Again", "teller")
    api.close()


def test_a_supervisor_serves_customers_as_a_teller_does(
    anon: Api, make_user: MakeUser, other_teller: tuple[dict[str, Any], Api], admin_id: int
) -> None:
    # API.md version 2: where version 1 says "teller" for a right, a supervisor has it too,
    # and nothing more over users (roles stay the admin's).
    _boss, supervisor = make_user("supervisor")
    created = expect(supervisor.post("/users", json=body_for()), 201)
    assert created["role"] == "user"
    for role in ("teller", "supervisor", "admin"):
        expect(supervisor.post("/users", json=body_for(role=role)), 403, "forbidden")
    listed = expect(supervisor.get("/users", params={"limit": 200}), 200)
    assert listed["items"]
    assert {item["role"] for item in listed["items"]} == {"user"}
    path = f"/users/{created['id']}"
    assert expect(supervisor.get(path), 200)["id"] == created["id"]
    body = expect(
        supervisor.put(path, json={"full_name": "By Supervisor", "is_active": False}), 200
    )
    assert (body["full_name"], body["is_active"]) == ("By Supervisor", False)
    for change in ({"password": "supervisor-set-pw"}, {"role": "teller"}, {"role": "user"}):
        expect(supervisor.put(path, json=change), 403, "forbidden")
    for target in (other_teller[0]["id"], admin_id):
        expect(supervisor.get(f"/users/{target}"), 404, "not_found")
        expect(supervisor.put(f"/users/{target}", json={"full_name": "Nope"}), 404, "not_found")
    supervisor.close()


def test_only_an_admin_gives_or_removes_the_supervisor_role(
    admin: Api, teller: Api, make_user: MakeUser
) -> None:
    user, api = make_user("user")
    _boss, supervisor = make_user("supervisor")
    path = f"/users/{user['id']}"
    for staff in (teller, supervisor):
        expect(staff.put(path, json={"role": "supervisor"}), 403, "forbidden")
    assert expect(admin.put(path, json={"role": "supervisor"}), 200)["role"] == "supervisor"
    # Now staff: out of a teller's and another supervisor's sight.
    for staff in (teller, supervisor):
        expect(staff.put(path, json={"role": "user"}), 404, "not_found")
    assert expect(admin.put(path, json={"role": "user"}), 200)["role"] == "user"
    api.close()
    supervisor.close()


def test_an_admin_changing_their_own_password_or_role_gives_current_password(
    anon: Api, make_user: MakeUser
) -> None:
    password = f"pw-{uuid.uuid4().hex[:12]}"
    user, api = make_user("admin", password=password)
    _other, _other_api = make_user("admin")  # so the last-admin rule does not answer first
    path = f"/users/{user['id']}"
    for change in ({"password": "a-brand-new-admin-pw"}, {"role": "teller"}):
        expect(api.put(path, json=change), 403, "forbidden")
        expect(api.put(path, json={**change, "current_password": "not-the-password"}), 403,
               "forbidden")  # fmt: skip
    assert me(api)["role"] == "admin"
    assert login_status(anon, user["username"], password) == 200
    change = {"password": "a-brand-new-admin-pw", "current_password": password}
    expect(api.put(path, json=change), 200)
    assert login_status(anon, user["username"], "a-brand-new-admin-pw") == 200
    _other_api.close()


def test_staff_passwords_need_twelve_characters(admin: Api, make_user: MakeUser) -> None:
    for role in ("teller", "supervisor", "admin"):
        short = body_for(role=role, password="eleven-char")
        error = expect(admin.post("/users", json=short), 422, "validation_error")
        assert "12" in json.dumps(error["detail"])
        assert expect(admin.post("/users", json=body_for(role=role, password="twelve-chars")),
                      201)["role"] == role  # fmt: skip
    assert expect(admin.post("/users", json=body_for(password="eight-ch")), 201)["role"] == "user"
    staff, _api = make_user("teller")
    expect(admin.put(f"/users/{staff['id']}", json={"password": "eleven-char"}), 422,
           "validation_error")  # fmt: skip
    # A customer with a short password becomes staff only with a long enough new one.
    customer = expect(admin.post("/users", json=body_for(password="eight-ch")), 201)
    path = f"/users/{customer['id']}"
    expect(admin.put(path, json={"role": "teller"}), 422, "validation_error")
    expect(admin.put(path, json={"role": "teller", "password": "eleven-char"}), 422,
           "validation_error")  # fmt: skip
    body = expect(admin.put(path, json={"role": "teller", "password": "long-enough-pw"}), 200)
    assert body["role"] == "teller"


def test_a_change_to_the_same_values_is_not_a_role_change(
    admin: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, api = make_user("teller")
    rid = new_rid()
    body = expect(admin.put(f"/users/{user['id']}", json={"role": "teller", "is_active": True},
                            headers=rid_header(rid)), 200)  # fmt: skip
    assert body == user
    assert events(mongo, rid) == []
    assert me(api)["id"] == user["id"]  # the session was not revoked
    body = expect(admin.put(f"/users/{user['id']}", json={}), 200)
    assert body == user
    api.close()


async def test_teller_change_racing_a_promotion_never_touches_staff(
    teller: Api, admin: Api, mongo: Any
) -> None:
    # The teller's rights are checked against the user as the write finds it: when the
    # promotion commits first, the teller's deactivation must not land on a staff member.
    for _ in range(8):
        user = expect(admin.post("/users", json=body_for()), 201)
        path = f"/users/{user['id']}"
        rid_teller, rid_admin = new_rid(), new_rid()
        async with httpx.AsyncClient(base_url=admin.base_url, timeout=60) as client:
            by_teller, by_admin = await asyncio.gather(
                client.put(path, json={"is_active": False},
                           headers=teller.headers(rid_header(rid_teller))),
                client.put(path, json={"role": "teller"},
                           headers=admin.headers(rid_header(rid_admin))),
            )  # fmt: skip
        expect(by_admin, 200)
        assert by_teller.status_code in (200, 403, 404), by_teller.text
        [promoted] = events(mongo, rid_admin, "user.role_changed")
        if by_teller.status_code == 200:
            [deactivated] = events(mongo, rid_teller, "user.deactivated")
            assert deactivated["_id"] < promoted["_id"]
        else:
            assert events(mongo, rid_teller) == []
            assert expect(admin.get(path), 200)["is_active"] is True


@pytest.mark.parametrize(
    "change",
    [{"username": "renamed"}, {"password_hash": "x"}, {"id": 1}, {"deleted_at": None},
     {"created_at": "2020-01-01T00:00:00.000Z"}, {"failed_logins": 0}, {"full_name": ""},
     {"full_name": "bad\nname"}, {"email": "not-an-email"}, {"password": "short"},
     {"role": "superuser"}, {"is_active": "perhaps"}],
)  # fmt: skip
def test_update_body_is_validated(admin: Api, customer: tuple[dict[str, Any], Api],
                                  change: dict[str, Any]) -> None:  # fmt: skip
    expect(admin.put(f"/users/{customer[0]['id']}", json=change), 422, "validation_error")
    expect(customer[1].put(f"/users/{customer[0]['id']}", json=change), 422, "validation_error")


def test_update_of_missing_or_deleted_user(admin: Api, make_user: MakeUser) -> None:
    expect(admin.put(f"/users/{MISSING}", json={"full_name": "Nobody"}), 404, "not_found")
    user, api = make_user("user")
    expect(admin.delete(f"/users/{user['id']}"), 204)
    expect(admin.put(f"/users/{user['id']}", json={"full_name": "Ghost"}), 404, "not_found")
    api.close()


def test_update_needs_a_token(anon: Api, customer: tuple[dict[str, Any], Api]) -> None:
    expect(anon.put(f"/users/{customer[0]['id']}", json={"full_name": "X"}), 401,
           "not_authenticated")  # fmt: skip


# --- deleting users ----------------------------------------------------------------------


def test_only_admins_delete(
    anon: Api, teller: Api, customer: tuple[dict[str, Any], Api], admin: Api
) -> None:
    target = customer[0]["id"]
    expect(anon.delete(f"/users/{target}"), 401, "not_authenticated")
    expect(teller.delete(f"/users/{target}"), 403, "forbidden")
    expect(customer[1].delete(f"/users/{target}"), 403, "forbidden")
    assert expect(admin.get(f"/users/{target}"), 200)["is_active"] is True
    expect(admin.delete(f"/users/{MISSING}"), 404, "not_found")


def test_delete_closes_empty_accounts(
    anon: Api,
    admin: Api,
    admin_id: int,
    teller: Api,
    make_user: MakeUser,
    open_account: OpenAccount,
    mongo: Any,
) -> None:
    password = f"pw-{uuid.uuid4().hex[:12]}"
    user, api = make_user("user", password=password)
    empty = open_account(user["id"])
    emptied = open_account(user["id"], deposit="5.00")
    expect(admin.post(f"/accounts/{emptied['id']}/withdraw", json={"amount": "5.00"}), 201)

    rid = new_rid()
    response = admin.delete(f"/users/{user['id']}", headers=rid_header(rid))
    expect(response, 204)
    assert response.content == b""

    for account in (empty, emptied):
        assert expect(admin.get(f"/accounts/{account['id']}"), 200)["status"] == "closed"
    [deleted] = events(mongo, rid, "user.deleted")
    assert deleted["actor_id"] == admin_id
    assert deleted["target_id"] == user["id"]
    assert sorted(deleted["details"]["closed_accounts"]) == sorted([empty["id"], emptied["id"]])
    closed = events(mongo, rid, "account.closed")
    assert sorted(e["target_id"] for e in closed) == sorted([empty["id"], emptied["id"]])

    assert login_status(anon, user["username"], password) == 401
    expect(api.get("/me"), 401, "invalid_token")
    expect(teller.get(f"/users/{user['id']}"), 404, "not_found")
    expect(teller.get(f"/users/{user['id']}/accounts"), 404, "not_found")
    shown = expect(admin.get(f"/users/{user['id']}"), 200)
    assert shown["is_active"] is False
    statuses = {
        a["status"] for a in expect(admin.get(f"/users/{user['id']}/accounts"), 200)["items"]
    }
    assert statuses == {"closed"}
    expect(admin.delete(f"/users/{user['id']}"), 404, "not_found")
    assert mongo.users.find_one({"_id": user["id"]})["deleted_at"] is not None
    api.close()


@pytest.mark.parametrize("balance", ["0.01", "250.00"])
def test_delete_refused_while_money_is_held(
    anon: Api, admin: Api, make_user: MakeUser, open_account: OpenAccount, mongo: Any,
    balance: str,
) -> None:  # fmt: skip
    password = f"pw-{uuid.uuid4().hex[:12]}"
    user, api = make_user("user", password=password)
    empty = open_account(user["id"])
    holding = open_account(user["id"], deposit=balance)
    rid = new_rid()
    response = admin.delete(f"/users/{user['id']}", headers=rid_header(rid))
    expect(response, 409, "user_has_open_accounts")
    # Nothing happened: the user, both accounts and the session are as they were.
    assert me(api)["is_active"] is True
    assert expect(admin.get(f"/accounts/{empty['id']}"), 200)["status"] == "active"
    assert expect(admin.get(f"/accounts/{holding['id']}"), 200)["balance"] == balance
    assert events(mongo, rid, "user.deleted") == []
    assert events(mongo, rid, "account.closed") == []

    expect(admin.post(f"/accounts/{holding['id']}/withdraw", json={"amount": balance}), 201)
    expect(admin.delete(f"/users/{user['id']}"), 204)
    assert login_status(anon, user["username"], password) == 401
    api.close()


def test_admin_deletes_staff(anon: Api, admin: Api, make_user: MakeUser) -> None:
    for role in ("teller", "admin"):
        password = f"pw-{uuid.uuid4().hex[:12]}"
        user, api = make_user(role, password=password)
        expect(admin.delete(f"/users/{user['id']}"), 204)
        assert login_status(anon, user["username"], password) == 401
        expect(api.get("/me"), 401, "invalid_token")
        api.close()


# --- a user's accounts -------------------------------------------------------------------


@pytest.fixture(scope="module")
def holder(make_user: MakeUser, open_account: OpenAccount) -> dict[str, Any]:
    """A customer with three accounts of different balances."""
    user, api = make_user("user")
    accounts = [
        open_account(user["id"], deposit="30.00"),
        open_account(user["id"], deposit="100.00"),
        open_account(user["id"]),
    ]
    return {"user": user, "api": api, "accounts": accounts}


def test_own_accounts(holder: dict[str, Any]) -> None:
    user, api = holder["user"], holder["api"]
    body = expect(api.get(f"/users/{user['id']}/accounts"), 200)
    assert set(body) == {"items", "total", "skip", "limit"}
    assert body["total"] == 3
    assert [a["id"] for a in body["items"]] == [a["id"] for a in holder["accounts"]]
    assert all(a["owner_id"] == user["id"] for a in body["items"])
    by_balance = expect(
        api.get(f"/users/{user['id']}/accounts", params={"sort": "balance", "order": "desc"}), 200
    )
    assert [a["balance"] for a in by_balance["items"]] == ["100.00", "30.00", "0.00"]
    window = expect(api.get(f"/users/{user['id']}/accounts", params={"skip": 1, "limit": 1}), 200)
    assert [a["id"] for a in window["items"]] == [holder["accounts"][1]["id"]]
    assert window["total"] == 3
    for params in ({"limit": 0}, {"limit": 201}, {"skip": -1}, {"sort": "nickname"}):
        expect(api.get(f"/users/{user['id']}/accounts", params=params), 422, "validation_error")


def test_accounts_of_others(
    anon: Api,
    admin: Api,
    teller: Api,
    holder: dict[str, Any],
    other_customer: tuple[dict[str, Any], Api],
    other_teller: tuple[dict[str, Any], Api],
    admin_id: int,
) -> None:
    path = f"/users/{holder['user']['id']}/accounts"
    expect(anon.get(path), 401, "not_authenticated")
    expect(other_customer[1].get(path), 404, "not_found")
    assert expect(teller.get(path), 200)["total"] == 3
    assert expect(admin.get(path), 200)["total"] == 3
    for target in (other_teller[0]["id"], admin_id, MISSING):
        expect(teller.get(f"/users/{target}/accounts"), 404, "not_found")
    expect(admin.get(f"/users/{MISSING}/accounts"), 404, "not_found")
    assert expect(admin.get(f"/users/{other_teller[0]['id']}/accounts"), 200)["total"] == 0


# --- unlock ------------------------------------------------------------------------------


def test_admin_unlocks_a_user(admin: Api, admin_id: int, make_user: MakeUser, mongo: Any) -> None:
    user, api = make_user("user")
    locked = {"failed_logins": 7, "locked_until": datetime.now(UTC) + timedelta(hours=1)}
    mongo.users.update_one({"_id": user["id"]}, {"$set": locked})
    rid = new_rid()
    response = admin.post(f"/users/{user['id']}/unlock", headers=rid_header(rid))
    expect(response, 204)
    assert response.content == b""
    stored = mongo.users.find_one({"_id": user["id"]})
    assert stored["failed_logins"] == 0
    assert stored["locked_until"] is None
    [event] = events(mongo, rid)
    assert event["action"] == "user.unlocked"
    assert event["outcome"] == "ok"
    assert event["actor_id"] == admin_id
    assert event["target_id"] == user["id"]
    api.close()


def test_only_admins_unlock(
    anon: Api, teller: Api, admin: Api, customer: tuple[dict[str, Any], Api]
) -> None:
    target = customer[0]["id"]
    expect(anon.post(f"/users/{target}/unlock"), 401, "not_authenticated")
    expect(teller.post(f"/users/{target}/unlock"), 403, "forbidden")
    expect(customer[1].post(f"/users/{target}/unlock"), 403, "forbidden")
    expect(admin.post(f"/users/{MISSING}/unlock"), 404, "not_found")


# --- concurrency -------------------------------------------------------------------------


async def _post_all(base_url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        return list(await asyncio.gather(*(client.post("/users", json=b) for b in bodies)))


async def test_fifty_concurrent_sign_ups(anon: Api, mongo: Any) -> None:
    tag = f"burst{uuid.uuid4().hex[:6]}"
    bodies = [body_for(f"{tag}-{n}") for n in range(50)]
    responses = await _post_all(anon.base_url, bodies)
    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses][:3]
    created = [r.json() for r in responses]
    ids = sorted(u["id"] for u in created)
    assert len(set(ids)) == 50
    # One atomic counter, no other writer meanwhile: 50 consecutive ids.
    assert ids == list(range(ids[0], ids[0] + 50))
    assert {u["username"] for u in created} == {b["username"] for b in bodies}
    assert mongo.users.count_documents({"username": {"$regex": f"^{tag}-"}}) == 50
    assert (
        mongo.audit_events.count_documents({"action": "user.created", "target_id": {"$in": ids}})
        == 50
    )


async def test_concurrent_sign_ups_of_one_name(anon: Api, mongo: Any) -> None:
    name = uid("race")
    bodies = [body_for(name) for _ in range(10)]
    responses = await _post_all(anon.base_url, bodies)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "username_taken"
    assert mongo.users.count_documents({"username": name}) == 1
    [winner] = [r.json() for r in responses if r.status_code == 201]
    assert (
        mongo.audit_events.count_documents({"action": "user.created", "details.username": name})
        == 1
    )
    assert winner["username"] == name


# --- the last active admin (runs last: it takes the bootstrap admin out for a while) ------


def active_admins(mongo: Any) -> set[int]:
    """Return the ids of the active, undeleted admins."""
    query = {"role": "admin", "is_active": True, "deleted_at": None}
    return {int(u["_id"]) for u in mongo.users.find(query)}


def sign_in_again(anon: Api, admin: Api) -> None:
    """Give the shared admin client a fresh token after its sessions were revoked."""
    fresh = anon.login("admin", ADMIN_PASSWORD)
    admin.token = fresh.token
    fresh.close()


def test_last_active_admin_is_kept(
    anon: Api, admin: Api, admin_id: int, make_user: MakeUser, mongo: Any
) -> None:
    spare, spare_api = make_user("admin")
    path, own = f"/users/{admin_id}", f"/users/{spare['id']}"
    # Park every other admin, so that `spare` and the bootstrap admin are the only active ones.
    others = active_admins(mongo) - {admin_id, spare["id"]}
    for other in others:
        expect(spare_api.put(f"/users/{other}", json={"is_active": False}), 200)
    try:
        # With two active admins, one may step down: the bootstrap admin is deactivated.
        expect(spare_api.put(path, json={"is_active": False}), 200)
        expect(admin.get("/me"), 401, "invalid_token")

        # (An admin's own role or status change carries current_password: then the last-admin
        # rule refuses it.)
        password = {"current_password": f"pw-{spare['username']}-secret"}
        for change in ({"role": "teller", **password}, {"role": "user", **password},
                       {"is_active": False, **password}):  # fmt: skip
            rid = new_rid()
            refused = spare_api.put(own, json=change, headers=rid_header(rid))
            expect(refused, 409, "last_admin")
            assert events(mongo, rid) == []
        expect(spare_api.delete(own), 409, "last_admin")
        body = me(spare_api)
        assert (body["role"], body["is_active"]) == ("admin", True)
        assert active_admins(mongo) == {spare["id"]}
    finally:
        expect(spare_api.put(path, json={"is_active": True}), 200)
        for other in others:
            expect(spare_api.put(f"/users/{other}", json={"is_active": True}), 200)
        sign_in_again(anon, admin)

    # Now that there are two again, the spare admin may demote itself.
    demote = {"role": "teller", "current_password": f"pw-{spare['username']}-secret"}
    assert expect(spare_api.put(own, json=demote), 200)["role"] == "teller"
    expect(spare_api.get("/me"), 401, "invalid_token")
    spare_api.close()


def test_admins_racing_to_demote_each_other_leave_one(
    anon: Api, admin: Api, make_user: MakeUser, mongo: Any
) -> None:
    first, first_api = make_user("admin")
    second, second_api = make_user("admin")
    by_id = {first["id"]: first_api, second["id"]: second_api}
    others = active_admins(mongo) - set(by_id)
    for other in others:
        expect(first_api.put(f"/users/{other}", json={"is_active": False}), 200)
    try:

        async def race() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=anon.base_url, timeout=60) as client:
                return list(await asyncio.gather(
                    client.put(f"/users/{second['id']}", json={"role": "user"},
                               headers={"Authorization": f"Bearer {first_api.token}"}),
                    client.put(f"/users/{first['id']}", json={"role": "user"},
                               headers={"Authorization": f"Bearer {second_api.token}"}),
                ))  # fmt: skip

        results = asyncio.run(race())
        statuses = sorted(r.status_code for r in results)
        assert statuses[0] == 200, [r.text for r in results]
        # The loser either lost its session with its role, or was stopped by the guard.
        assert statuses[1] in (401, 409), [r.text for r in results]
        assert len(active_admins(mongo)) == 1
    finally:
        survivors = [by_id[i] for i in sorted(active_admins(mongo) & set(by_id))]
        survivor = survivors[0] if survivors else first_api
        for other in others:
            expect(survivor.put(f"/users/{other}", json={"is_active": True}), 200)
        sign_in_again(anon, admin)
    first_api.close()
    second_api.close()
