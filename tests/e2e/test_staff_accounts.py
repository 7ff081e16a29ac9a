"""Staff and their own money (API.md version 2): staff accounts are hidden from tellers and
supervisors, staff never move money on their own accounts, and the account knows whether
its owner is staff through every change of the owner's role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Api, ServerProcess, expect, open_till_session

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]


def ids(page: dict[str, Any]) -> set[int]:
    """Return the ids of a page's items."""
    return {item["id"] for item in page["items"]}


def test_a_role_change_moves_the_accounts_in_and_out_of_sight(
    admin: Api, make_user: MakeUser, open_account: OpenAccount, mongo: Any
) -> None:
    person, _api = make_user("user", full_name="Promoted Person")
    account = open_account(person["id"], deposit="50.00")
    _, teller = make_user("teller")
    _, supervisor = make_user("supervisor")
    path = f"/accounts/{account['id']}"
    for staff in (teller, supervisor):
        expect(staff.get(path), 200)
    expect(admin.put(f"/users/{person['id']}", json={"role": "teller"}), 200)
    assert mongo.accounts.find_one({"_id": account["id"]})["owner_staff"] is True
    for staff in (teller, supervisor):
        expect(staff.get(path), 404, "not_found")
        expect(staff.post(f"{path}/withdraw", json={"amount": "1.00"}), 404, "not_found")
        listed = expect(staff.get("/accounts", params={"q": "Promoted Person", "limit": 200}), 200)
        assert account["id"] not in ids(listed)
        everything = expect(staff.get("/accounts", params={"limit": 200}), 200)
        assert account["id"] not in ids(everything)
    assert expect(admin.get(path), 200)["balance"] == "50.00"  # admins see all
    expect(admin.put(f"/users/{person['id']}", json={"role": "supervisor"}), 200)  # still staff
    expect(teller.get(path), 404, "not_found")
    expect(admin.put(f"/users/{person['id']}", json={"role": "user"}), 200)
    assert mongo.accounts.find_one({"_id": account["id"]})["owner_staff"] is False
    for staff in (teller, supervisor):
        expect(staff.get(path), 200)
        assert account["id"] in ids(expect(staff.get("/accounts", params={"limit": 200}), 200))


@pytest.mark.parametrize("role", ["teller", "supervisor", "admin"])
def test_staff_move_no_money_on_their_own_account(
    admin: Api, make_user: MakeUser, open_account: OpenAccount, role: str
) -> None:
    me, api = make_user(role)
    mine = open_account(me["id"])
    customer, _ = make_user("user")
    theirs = open_account(customer["id"], deposit="100.00")
    _, colleague = make_user("admin")
    open_till_session(admin, colleague)  # staff cash goes through a till
    expect(colleague.post(f"/accounts/{mine['id']}/deposit", json={"amount": "20.00"}), 201)
    for path in ("deposit", "withdraw"):
        expect(api.post(f"/accounts/{mine['id']}/{path}", json={"amount": "1.00"}), 403,
               "own_account")  # fmt: skip
    for body in (
        {"from_account_id": mine["id"], "to_account_id": theirs["id"], "amount": "1.00"},
        {"from_account_id": theirs["id"], "to_account_id": mine["id"], "amount": "1.00"},
        {"from_account_id": theirs["id"], "to_account_number": mine["number"], "amount": "1.00"},
    ):
        expect(api.post("/transfers", json=body), 403, "own_account")
    # Their own account stays theirs to read.
    assert expect(api.get(f"/accounts/{mine['id']}"), 200)["balance"] == "20.00"
    expect(api.get(f"/accounts/{mine['id']}/transactions"), 200)
    assert expect(admin.get(f"/accounts/{theirs['id']}"), 200)["balance"] == "100.00"
    api.close()
    colleague.close()


def test_own_account_comes_after_the_idempotency_key_checks(
    make_user: MakeUser, open_account: OpenAccount
) -> None:
    me, api = make_user("teller")
    mine = open_account(me["id"])
    headers = {"Idempotency-Key": "x" * 256}  # invalid: 422 first
    response = api.post(f"/accounts/{mine['id']}/deposit", json={"amount": "1.00"},
                        headers=headers)  # fmt: skip
    expect(response, 422, "invalid_idempotency_key")
    key = {"Idempotency-Key": "own-account-key"}
    expect(api.post(f"/accounts/{mine['id']}/deposit", json={"amount": "1.00"}, headers=key),
           403, "own_account")  # fmt: skip
    api.close()


def test_accounts_stored_before_the_field_are_filled_in_at_start(
    server: ServerProcess,
    make_user: MakeUser,
    open_account: OpenAccount,
    mongo: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    staff, _ = make_user("teller")
    customer, _ = make_user("user")
    staff_account = open_account(staff["id"])
    customer_account = open_account(customer["id"])
    mongo.accounts.update_many(
        {"_id": {"$in": [staff_account["id"], customer_account["id"]]}},
        {"$unset": {"owner_staff": ""}},
    )
    twin = ServerProcess(mongodb_url=server.mongodb_url, database_name=server.database_name,
                         data_dir=tmp_path_factory.mktemp("twin")).start()  # fmt: skip
    try:
        assert mongo.accounts.find_one({"_id": staff_account["id"]})["owner_staff"] is True
        assert mongo.accounts.find_one({"_id": customer_account["id"]})["owner_staff"] is False
        _, teller = make_user("teller")
        on_twin = Api(twin.url, teller.token)
        expect(on_twin.get(f"/accounts/{staff_account['id']}"), 404, "not_found")
        expect(on_twin.get(f"/accounts/{customer_account['id']}"), 200)
        on_twin.close()
    finally:
        twin.stop()
