"""Every refusal API.md lists under "Error facts" carries its facts in `context`, over HTTP."""

from __future__ import annotations

from typing import Any

from tests.support import Api, expect, user_id

SERVER_ENV = {"MOVEMENT_RATE_PER_MINUTE": "1000000"}


def _customer_with_money(
    make_user: Any, open_account: Any, amount: str, **fields: Any
) -> tuple[Api, dict[str, Any]]:
    user, api = make_user("user")
    return api, open_account(user["id"], deposit=amount, **fields)


def test_insufficient_funds_names_available_requested_currency(
    make_user: Any, open_account: Any
) -> None:
    api, account = _customer_with_money(make_user, open_account, "40.00")
    body = expect(api.post(f"/accounts/{account['id']}/withdraw", json={"amount": "50.01"}), 409,
                  "insufficient_funds")  # fmt: skip
    assert body["context"] == {**body["context"], "available": "40.00", "requested": "50.01",
                               "currency": "USD"}  # fmt: skip


def test_limit_exceeded_names_limit_used_requested(
    make_user: Any, open_account: Any, admin: Api
) -> None:
    api, account = _customer_with_money(make_user, open_account, "500.00")
    account = expect(admin.put(f"/accounts/{account['id']}/admin",
                               json={"daily_withdrawal_limit": "100.00"}), 200)  # fmt: skip
    expect(api.post(f"/accounts/{account['id']}/withdraw", json={"amount": "60.00"}), 201)
    body = expect(api.post(f"/accounts/{account['id']}/withdraw", json={"amount": "50.00"}), 409,
                  "limit_exceeded")  # fmt: skip
    facts = body["context"]
    assert (facts["limit"], facts["used"], facts["requested"], facts["currency"]) == (
        "100.00", "60.00", "50.00", "USD")  # fmt: skip


def test_account_not_active_and_currency_mismatch(
    make_user: Any, open_account: Any, admin: Api
) -> None:
    api, account = _customer_with_money(make_user, open_account, "20.00")
    euros = open_account(user_id(api), currency="EUR")
    body = expect(api.post("/transfers", json={"from_account_id": account["id"],
                                               "to_account_id": euros["id"], "amount": "1.00"}),
                  409, "currency_mismatch")  # fmt: skip
    assert body["context"] == {"from": "USD", "to": "EUR"}
    expect(admin.put(f"/accounts/{account['id']}/admin", json={"status": "frozen"}), 200)
    body = expect(api.post(f"/accounts/{account['id']}/deposit", json={"amount": "1.00"}), 409,
                  "account_not_active")  # fmt: skip
    assert body["context"] == {"account_id": account["id"], "status": "frozen"}


def test_version_conflict_names_the_current_version(
    make_user: Any, open_account: Any, admin: Api
) -> None:
    _api, account = _customer_with_money(make_user, open_account, "1.00")
    path = f"/accounts/{account['id']}/admin"
    expect(admin.put(path, json={"overdraft_limit": "10.00", "version": account["version"]}), 200)
    body = expect(admin.put(f"/accounts/{account['id']}/admin",
                            json={"overdraft_limit": "20.00", "version": account["version"]}),
                  409, "version_conflict")  # fmt: skip
    assert body["context"] == {"current_version": account["version"] + 1}


def test_a_stored_refusal_replays_with_its_facts(make_user: Any, open_account: Any) -> None:
    api, account = _customer_with_money(make_user, open_account, "5.00")
    headers = {"Idempotency-Key": "facts-replay-1"}
    first = api.post(f"/accounts/{account['id']}/withdraw", json={"amount": "9.00"},
                     headers=headers)  # fmt: skip
    again = api.post(f"/accounts/{account['id']}/withdraw", json={"amount": "9.00"},
                     headers=headers)  # fmt: skip
    assert first.status_code == again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert again.json()["context"]["available"] == "5.00"
