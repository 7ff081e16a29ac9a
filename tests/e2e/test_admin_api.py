"""GET /audit and the statistics routes, for every role, against actions done in this module."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support import ADMIN_PASSWORD, Api, expect

# `login.failed` is written once per lockout, not per wrong password (tests/e2e/test_auth.py).
ACTIONS = (
    "login.succeeded", "logout", "user.created", "user.updated",
    "user.role_changed", "user.deactivated", "user.deleted", "user.unlocked", "account.opened",
    "account.updated", "account.frozen", "account.unfrozen", "account.closed", "money.deposit",
    "money.withdrawal", "money.transfer",
)  # fmt: skip


@pytest.fixture(scope="module")
def history(anon: Api, admin: Api, make_user: Any) -> dict[str, Any]:
    """Do one of every audited action, and remember who did what."""
    customer, customer_api = make_user("user")
    other, _other_api = make_user("user")
    staff, _staff_api = make_user("user")
    expect(anon.client.post("/login", data={"username": "admin", "password": "nope-nope"}), 401)
    session = anon.login(customer["username"], f"pw-{customer['username']}-secret")
    expect(session.post("/logout"), 204)
    expect(admin.put(f"/users/{customer['id']}", json={"full_name": "Renamed Customer"}), 200)
    expect(admin.put(f"/users/{staff['id']}", json={"role": "teller"}), 200)
    expect(admin.put(f"/users/{staff['id']}", json={"is_active": False}), 200)
    expect(admin.post(f"/users/{other['id']}/unlock"), 204)
    first = expect(customer_api.post("/accounts", json={"account_type": "checking"}), 201)
    second = expect(customer_api.post("/accounts", json={"account_type": "savings"}), 201)
    spare = expect(admin.post("/accounts", json={"account_type": "savings",
                                                 "owner_id": other["id"]}), 201)  # fmt: skip
    expect(customer_api.patch(f"/accounts/{first['id']}", json={"nickname": "Main"}), 200)
    expect(admin.put(f"/accounts/{second['id']}/admin", json={"status": "frozen"}), 200)
    expect(admin.put(f"/accounts/{second['id']}/admin", json={"status": "active"}), 200)
    expect(admin.post(f"/accounts/{first['id']}/deposit", json={"amount": "500.00"}), 201)
    expect(admin.post(f"/accounts/{first['id']}/withdraw", json={"amount": "20.00"}), 201)
    expect(admin.post(f"/accounts/{first['id']}/withdraw", json={"amount": "9999.00"}), 409)
    expect(admin.post("/transfers", json={"from_account_id": first["id"],
                                          "to_account_id": second["id"],
                                          "amount": "30.00"}), 201)  # fmt: skip
    expect(admin.delete(f"/accounts/{spare['id']}"), 204)
    expect(admin.delete(f"/users/{other['id']}"), 204)
    return {"customer": customer, "first": first, "second": second}


def test_only_admins_read_the_audit_trail(
    history: dict[str, Any], anon: Api, admin: Api, teller: Api, make_user: Any
) -> None:
    expect(anon.get("/audit"), 401, "not_authenticated")
    expect(teller.get("/audit"), 403, "forbidden")
    expect(make_user("user")[1].get("/audit"), 403, "forbidden")
    page = expect(admin.get("/audit"), 200)
    assert page["total"] >= len(ACTIONS)
    ids = [event["id"] for event in page["items"]]
    assert ids == sorted(ids, reverse=True), "newest first by default"


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_name_is_written_by_its_action(
    history: dict[str, Any], admin: Api, action: str
) -> None:
    page = expect(admin.get("/audit", params={"action": action}), 200)
    assert page["total"] >= 1, action
    for event in page["items"]:
        assert event["action"] == action
        assert event["outcome"] in ("ok", "refused")
    # Events of requests carry their request id (the bootstrap admin was made at start-up).
    assert any(event["request_id"] for event in page["items"])


def test_refused_movements_are_recorded_with_their_code(
    history: dict[str, Any], admin: Api
) -> None:
    first = history["first"]
    query = {"action": "money.withdrawal", "target_type": "account", "target_id": first["id"]}
    refused = expect(admin.get("/audit", params=query), 200)["items"]
    outcomes = sorted((e["outcome"], e["code"]) for e in refused)
    assert outcomes == [("ok", None), ("refused", "insufficient_funds")]


def test_logins_carry_the_client_ip(history: dict[str, Any], admin: Api) -> None:
    events = expect(admin.get("/audit", params={"action": "login.succeeded"}), 200)["items"]
    assert {e["ip"] for e in events} == {"127.0.0.1"}


def test_filters_combine_and_page(history: dict[str, Any], admin: Api) -> None:
    customer = history["customer"]
    mine = expect(admin.get("/audit", params={"target_type": "user",
                                              "target_id": customer["id"]}), 200)  # fmt: skip
    assert mine["total"] >= 3
    assert {e["target_id"] for e in mine["items"]} == {customer["id"]}
    by_actor = expect(admin.get("/audit", params={"actor_id": customer["id"]}), 200)
    assert all(e["actor_id"] == customer["id"] for e in by_actor["items"])
    assert "account.opened" in {e["action"] for e in by_actor["items"]}
    every = expect(admin.get("/audit", params={"limit": 200, "order": "asc"}), 200)["items"]
    middle = every[len(every) // 2]["at"]
    after = expect(admin.get("/audit", params={"since": middle, "limit": 200}), 200)
    before = expect(admin.get("/audit", params={"until": middle, "limit": 200}), 200)
    assert after["total"] + before["total"] == len(every)
    page = expect(admin.get("/audit", params={"limit": 2, "skip": 1}), 200)
    assert len(page["items"]) == 2
    expect(admin.get("/audit", params={"since": "2026-01-01T00:00:00"}), 422, "validation_error")


def test_no_route_changes_or_deletes_an_event(history: dict[str, Any], admin: Api) -> None:
    event = expect(admin.get("/audit", params={"limit": 1}), 200)["items"][0]
    for method in ("PUT", "PATCH", "DELETE"):
        response = admin.request(method, f"/audit/{event['id']}", json={"action": "x"})
        assert response.status_code in (404, 405)
    expect(admin.request("DELETE", "/audit"), 405, "method_not_allowed")
    again = expect(admin.get("/audit", params={"limit": 200, "order": "asc"}), 200)["items"]
    assert event in again


def test_stats_for_staff_only_and_matching_the_bank(
    history: dict[str, Any], anon: Api, admin: Api, teller: Api, make_user: Any
) -> None:
    expect(anon.get("/stats"), 401)
    expect(make_user("user")[1].get("/stats"), 403, "forbidden")
    stats = expect(teller.get("/stats"), 200)
    assert stats == expect(admin.get("/stats"), 200)
    users = expect(admin.get("/users", params={"limit": 200}), 200)["total"]
    assert stats["users"] == users
    accounts = expect(admin.get("/accounts", params={"limit": 200}), 200)["items"]
    open_accounts = [a for a in accounts if a["status"] != "closed"]
    assert stats["accounts"] == len(open_accounts)
    assert stats["total_balance"] == {"USD": f"{sum(Decimal(a['balance']) for a in accounts):.2f}"}
    today = stats["today"]
    assert today["deposits"]["USD"]["count"] >= 1
    assert Decimal(today["deposits"]["USD"]["sum"]) >= Decimal("500.00")
    assert today["withdrawals"]["USD"] == {"count": 1, "sum": "20.00"}
    assert today["transfers"]["USD"] == {"count": 1, "sum": "30.00"}


def test_daily_stats_end_today_and_agree_with_today(history: dict[str, Any], admin: Api) -> None:
    stats = expect(admin.get("/stats"), 200)
    daily = expect(admin.get("/stats/daily", params={"days": 7}), 200)["days"]
    assert len(daily) == 7
    assert daily[-1] == stats["today"]
    dates = [d["date"] for d in daily]
    assert dates == sorted(dates)
    assert all(d["deposits"] == {} for d in daily[:-1])
    assert len(expect(admin.get("/stats/daily"), 200)["days"]) == 30
    for bad in (0, 367, -1):
        expect(admin.get("/stats/daily", params={"days": bad}), 422, "validation_error")


def test_admin_password_fixture_still_signs_in(anon: Api) -> None:
    anon.login("admin", ADMIN_PASSWORD)


def test_include_names_names_actors_and_targets(history: dict[str, Any], admin: Api) -> None:
    customer, first = history["customer"], history["first"]
    plain = expect(admin.get("/audit", params={"actor_id": customer["id"]}), 200)["items"]
    assert all(e["actor_name"] is None and e["target_name"] is None for e in plain)
    named = expect(admin.get("/audit", params={"actor_id": customer["id"], "include": "names"}),
                   200)["items"]  # fmt: skip
    assert [{**e, "actor_name": None, "target_name": None} for e in named] == plain
    assert {e["actor_name"] for e in named} == {customer["username"]}
    opened = next(e for e in named if e["action"] == "account.opened"
                  and e["target_id"] == first["id"])  # fmt: skip
    assert opened["target_name"] == f"{first['number']} (Renamed Customer)"
    renamed = expect(
        admin.get(
            "/audit",
            params={"action": "user.updated", "include": "names", "target_id": customer["id"]},
        ),
        200,
    )["items"]
    assert renamed[0]["target_name"] == customer["username"]
    assert renamed[0]["actor_name"] == "admin"
    transfers = expect(
        admin.get("/audit", params={"action": "money.transfer", "include": "names"}), 200
    )["items"]
    assert transfers[0]["target_name"] is None  # a transfer has no name of its own
    expect(admin.get("/audit", params={"include": "accounts"}), 422, "validation_error")


def test_the_whole_trail_pages_by_id_in_both_orders_and_steps_over_a_missing_id(
    history: dict[str, Any], admin: Api, mongo: Any
) -> None:
    """The unfiltered trail is read by primary key from the id counter (admin.py)."""
    stored = sorted(int(doc["_id"]) for doc in mongo.audit_events.find({}, {"_id": 1}))
    newest = expect(admin.get("/audit", params={"limit": 5}), 200)
    assert newest["total"] == mongo.audit_events.count_documents({})
    # Reading the trail is not itself audited: the newest five are the last stored.
    assert [e["id"] for e in newest["items"]] == stored[-5:][::-1]
    oldest = expect(admin.get("/audit", params={"limit": 3, "order": "asc", "skip": 2}), 200)
    assert [e["id"] for e in oldest["items"]] == stored[2:5]
    # A writer that took an id and failed leaves a hole: the page steps over it.
    taken = mongo.counters.find_one_and_update(
        {"_id": "audit_events"}, {"$inc": {"seq": 1}}, return_document=True
    )
    hole = int(taken["seq"])
    page = expect(admin.get("/audit", params={"limit": 4}), 200)
    ids = [e["id"] for e in page["items"]]
    assert len(ids) == 4, ids
    assert hole not in ids
    assert ids == sorted(ids, reverse=True)
    assert ids == stored[-4:][::-1]  # the hole is the newest id: the page starts below it
    filtered = expect(admin.get("/audit", params={"action": "money.deposit", "limit": 2}), 200)
    assert filtered["total"] == mongo.audit_events.count_documents({"action": "money.deposit"})
