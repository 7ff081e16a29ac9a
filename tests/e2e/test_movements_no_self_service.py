"""With SELF_SERVICE_CASH off (production's default), only staff handle cash."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128

from tests.ledger_checks import all_customer_legs, customer_legs, customer_legs_where
from tests.support import Api, expect

SERVER_ENV = {"SELF_SERVICE_CASH": "false"}

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
KINDS = ("deposit", "withdraw")


def state(mongo: Any, account_id: int) -> tuple[Decimal, int, int, int]:
    """Balance, ledger length, ledger position and money events of an account."""
    raw = mongo.accounts.find_one({"_id": account_id})
    balance = raw["balance"]
    return (
        balance.to_decimal() if isinstance(balance, Decimal128) else Decimal(balance),
        len(customer_legs(mongo, account_id)),
        raw.get("entry_seq", 0),
        mongo.audit_events.count_documents(
            {"target_id": account_id, "action": {"$in": ["money.deposit", "money.withdrawal"]}}
        ),
    )


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """A bank customer and their signed-in client."""
    return make_user("user")


@pytest.fixture(scope="module")
def account(customer: tuple[dict[str, Any], Api], open_account: OpenAccount) -> dict[str, Any]:
    """The customer's account with 100.00."""
    return open_account(customer[0]["id"], deposit="100.00")


@pytest.mark.parametrize("kind", KINDS)
def test_owner_is_forbidden_to_move_cash(
    customer: tuple[dict[str, Any], Api], account: dict[str, Any], mongo: Any, kind: str
) -> None:
    _, api = customer
    before = state(mongo, account["id"])
    response = api.post(f"/accounts/{account['id']}/{kind}", json={"amount": "10.00"})
    body = expect(response, 403, "forbidden")
    assert isinstance(body["detail"], str)
    assert state(mongo, account["id"]) == before
    # The owner still sees the account (403, not 404): it is visible, just not theirs to change.
    assert expect(api.get(f"/accounts/{account['id']}"), 200)["balance"] == f"{before[0]:.2f}"


@pytest.mark.parametrize("kind", KINDS)
def test_bad_amount_is_a_422_whoever_asks(
    customer: tuple[dict[str, Any], Api], account: dict[str, Any], mongo: Any, kind: str
) -> None:
    before = state(mongo, account["id"])
    response = customer[1].post(f"/accounts/{account['id']}/{kind}", json={"amount": "-1"})
    expect(response, 422, "validation_error")
    assert state(mongo, account["id"]) == before


@pytest.mark.parametrize("kind", KINDS)
def test_staff_still_move_cash(
    teller: Api, admin: Api, account: dict[str, Any], mongo: Any, kind: str
) -> None:
    before = state(mongo, account["id"])
    sign = 1 if kind == "deposit" else -1
    by_teller = expect(teller.post(f"/accounts/{account['id']}/{kind}",
                                   json={"amount": "10.00"}), 201)  # fmt: skip
    assert Decimal(by_teller["balance_after"]) == before[0] + sign * Decimal("10.00")
    assert by_teller["performed_by"] == expect(teller.get("/me"), 200)["id"]
    by_admin = expect(admin.post(f"/accounts/{account['id']}/{kind}",
                                 json={"amount": "5.00"}), 201)  # fmt: skip
    assert Decimal(by_admin["balance_after"]) == before[0] + sign * Decimal("15.00")
    after = state(mongo, account["id"])
    assert after == (before[0] + sign * Decimal("15.00"), before[1] + 2, before[2] + 2,
                     before[3] + 2)  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_other_customer_gets_404_not_403(
    make_user: MakeUser, account: dict[str, Any], mongo: Any, kind: str
) -> None:
    _, other = make_user("user")
    before = state(mongo, account["id"])
    hidden = expect(other.post(f"/accounts/{account['id']}/{kind}", json={"amount": "1.00"}),
                    404, "not_found")  # fmt: skip
    missing = expect(other.post(f"/accounts/999999/{kind}", json={"amount": "1.00"}),
                     404, "not_found")  # fmt: skip
    assert hidden == missing
    assert state(mongo, account["id"]) == before


@pytest.mark.parametrize("kind", KINDS)
def test_anonymous_gets_401(anon: Api, account: dict[str, Any], mongo: Any, kind: str) -> None:
    before = state(mongo, account["id"])
    response = anon.post(f"/accounts/{account['id']}/{kind}", json={"amount": "1.00"})
    expect(response, 401, "not_authenticated")
    assert state(mongo, account["id"]) == before


def test_only_staff_entries_exist(customer: tuple[dict[str, Any], Api], mongo: Any) -> None:
    """Nothing the owner tried left a ledger entry or an audit event in their name."""
    owner_id = customer[0]["id"]
    assert customer_legs_where(mongo, performed_by=owner_id) == []
    assert (
        mongo.audit_events.count_documents(
            {"actor_id": owner_id, "action": {"$in": ["money.deposit", "money.withdrawal"]}}
        )
        == 0
    )
    assert len(all_customer_legs(mongo)) >= 5
