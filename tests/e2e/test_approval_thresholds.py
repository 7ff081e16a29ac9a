"""The approval policies of a new bank, and what a threshold counts (API.md "Approvals").

The first test reads the policies before anything changed them (the `admin` fixture lifts
the thresholds, so it asks for the supervisor only). The others lower one threshold to
1,000.00 USD and check the contract's wording: a movement needs approval when "its amount
plus that account's same-action, unreversed movements of the business date reaches the
threshold in its currency".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.day_support import close_day
from tests.ledger_checks import check_ledger
from tests.support import (
    NO_THRESHOLD,
    Api,
    approve_as,
    expect,
    open_till_session,
    set_policy,
)

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
# API.md "Conventions": the 14 currencies, written out here rather than read from the server.
CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN",
              "CZK", "SGD", "HKD")  # fmt: skip
# API.md "Approvals": the table of actions and their defaults.
DEFAULTS = {
    "deposit": 1, "withdrawal": 1, "transfer": 1, "reversal": 1, "till.variance": 1,
    "till.receive": 1, "vault.transfer": 1, "vault.cash": 1, "hold.release": 1,
    "account.limits": 1, "account.unfreeze": 1, "user.role": 1, "policy.update": 1,
}  # fmt: skip
WITH_THRESHOLD = {"deposit", "withdrawal", "transfer"}
POLICY_KEYS = {"action", "enabled", "threshold", "approvals_required", "version"}
LOW = "1000.00"


def test_a_new_bank_has_the_contracts_default_policies(supervisor: Api, anon: Api) -> None:
    page = expect(supervisor.get("/approval-policies", params={"limit": 200}), 200)
    assert set(page) == {"items", "total", "skip", "limit"}
    policies = {policy["action"]: policy for policy in page["items"]}
    assert page["total"] == len(page["items"]) == len(policies) == len(DEFAULTS)
    assert set(policies) == set(DEFAULTS)
    for action, policy in policies.items():
        assert set(policy) == POLICY_KEYS, policy
        assert policy["enabled"] is True, policy
        assert policy["approvals_required"] == DEFAULTS[action], policy
        assert isinstance(policy["version"], int), policy
        assert policy["version"] >= 1, policy
        if action in WITH_THRESHOLD:
            assert policy["threshold"] == dict.fromkeys(CURRENCIES, "10000.00"), policy
        else:
            assert policy["threshold"] is None, policy
    # Staff only: a customer (signed up on their own) is refused, a stranger is not signed in.
    body = {"username": "selfmade", "password": "selfmade-pass-123",
            "full_name": "Self Made", "email": "selfmade@example.com"}  # fmt: skip
    expect(anon.post("/users", json=body), 201)
    customer = anon.login("selfmade", "selfmade-pass-123")
    try:
        expect(customer.get("/approval-policies"), 403, "forbidden")
    finally:
        customer.close()
    expect(anon.get("/approval-policies"), 401, "not_authenticated")


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> Iterator[tuple[dict[str, Any], Api]]:
    """A customer whose accounts the tests move money on."""
    user, api = make_user("user")
    yield user, api
    api.close()


@pytest.fixture
def low(admin: Api, supervisor: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    """Lower one action's USD threshold to 1,000.00 (`request.param`) for one test."""
    action = str(request.param)
    currencies = dict.fromkeys(CURRENCIES, NO_THRESHOLD)
    set_policy(admin, supervisor, action, threshold={**currencies, "USD": LOW})
    yield action
    set_policy(admin, supervisor, action, threshold=currencies)  # a raise: approved


def account_of(open_account: OpenAccount, owner: int, currency: str = "USD") -> int:
    """Open an empty account."""
    return int(open_account(owner, currency=currency)["id"])


def cash(api: Api, account: int, verb: str, amount: str) -> httpx.Response:
    """Send a deposit or withdrawal."""
    return api.post(f"/accounts/{account}/{verb}", json={"amount": amount})


def waits(answer: httpx.Response) -> dict[str, Any]:
    """Assert a 202 and return its approval."""
    approval: dict[str, Any] = expect(answer, 202, "approval_required")["approval"]
    return approval


def cancel(maker: Api, approval: dict[str, Any]) -> None:
    """The maker withdraws a pending request."""
    expect(maker.post(f"/approvals/{approval['id']}/cancel"), 200)


@pytest.mark.parametrize("low", ["deposit"], indirect=True)
def test_a_deposit_counts_the_accounts_deposits_of_the_day(
    low: str, teller: Api, supervisor: Api, customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount, mongo: Any,
) -> None:  # fmt: skip
    owner = customer[0]["id"]
    first, second = account_of(open_account, owner), account_of(open_account, owner)
    expect(cash(teller, first, "deposit", "600.00"), 201)
    pending = waits(cash(teller, first, "deposit", "600.00"))  # 600 + 600 reaches 1,000
    assert (pending["action"], pending["amount"], pending["account_id"]) == (
        "deposit", "600.00", first,
    )  # fmt: skip
    cancel(teller, pending)
    # "reaches": 600 + 400 is the threshold itself; 600 + 399.99 stays below it.
    cancel(teller, waits(cash(teller, first, "deposit", "400.00")))
    below = expect(cash(teller, first, "deposit", "399.99"), 201)
    cancel(teller, waits(cash(teller, first, "deposit", "0.01")))  # 999.99 + 0.01
    # Another action on the account neither counts nor gives anything back.
    expect(cash(teller, first, "withdraw", "500.00"), 201)
    cancel(teller, waits(cash(teller, first, "deposit", "0.01")))
    # Unreversed only: the teller's own reversal takes 399.99 off the day's deposits.
    reversal = teller.post(f"/transactions/{below['id']}/reverse",
                           json={"reason_code": "teller_error"})  # fmt: skip
    expect(reversal, 201)
    expect(cash(teller, first, "deposit", "399.99"), 201)
    # That account's: another account of the same owner starts from nothing.
    expect(cash(teller, second, "deposit", "999.99"), 201)
    # A pending request is not a movement: it adds nothing until it executes.
    pending = waits(cash(teller, second, "deposit", "0.01"))
    executed = approve_as(supervisor, teller.post(f"/accounts/{second}/deposit",
                                                  json={"amount": "500.00"}))  # fmt: skip
    assert executed["result"]["status"] == 201
    cancel(teller, pending)
    # The executed 500.00 counts like any other deposit: 999.99 + 500.00 is already over.
    cancel(teller, waits(cash(teller, second, "deposit", "0.01")))
    check_ledger(mongo)


@pytest.mark.parametrize("low", ["deposit"], indirect=True)
def test_the_threshold_is_the_one_of_the_accounts_currency(
    low: str, teller: Api, customer: tuple[dict[str, Any], Api], open_account: OpenAccount,
) -> None:  # fmt: skip
    euros = account_of(open_account, customer[0]["id"], "EUR")
    for _ in range(3):  # only USD was lowered
        expect(cash(teller, euros, "deposit", "600.00"), 201)


@pytest.mark.parametrize("low", ["withdrawal"], indirect=True)
def test_a_withdrawal_counts_the_accounts_withdrawals_of_the_day(
    low: str, teller: Api, customer: tuple[dict[str, Any], Api], open_account: OpenAccount,
    mongo: Any,
) -> None:  # fmt: skip
    account = account_of(open_account, customer[0]["id"])
    for _ in range(4):  # deposits do not count towards withdrawals
        expect(cash(teller, account, "deposit", "900.00"), 201)
    first = expect(cash(teller, account, "withdraw", "600.00"), 201)
    cancel(teller, waits(cash(teller, account, "withdraw", "600.00")))
    expect(teller.post(f"/transactions/{first['id']}/reverse",
                       json={"reason_code": "customer_request"}), 201)  # fmt: skip
    expect(cash(teller, account, "withdraw", "600.00"), 201)
    cancel(teller, waits(cash(teller, account, "withdraw", "400.00")))
    check_ledger(mongo)


@pytest.mark.parametrize("low", ["transfer"], indirect=True)
def test_a_customers_own_transfer_counts_the_source_accounts_transfers_of_the_day(
    low: str, teller: Api, customer: tuple[dict[str, Any], Api], open_account: OpenAccount,
    mongo: Any,
) -> None:  # fmt: skip
    owner, api = customer
    source, target, third = (account_of(open_account, owner["id"]) for _ in range(3))
    for account in (source, target):
        for _ in range(3):
            expect(cash(teller, account, "deposit", "900.00"), 201)

    def transfer(payer: int, payee: int, amount: str) -> httpx.Response:
        return api.post("/transfers", json={"from_account_id": payer, "to_account_id": payee,
                                            "amount": amount})  # fmt: skip

    expect(transfer(source, target, "600.00"), 201)
    pending = waits(transfer(source, third, "600.00"))  # any payee: the payer's day counts
    assert pending["maker_id"] == owner["id"]
    cancel(api, pending)
    # What the target received is not its own transfers: it still sends 999.99 at once.
    expect(transfer(target, third, "999.99"), 201)
    cancel(api, waits(transfer(target, third, "0.01")))
    check_ledger(mongo)


@pytest.mark.parametrize("low", ["deposit"], indirect=True)
def test_a_new_business_date_starts_the_count_again(
    low: str, admin: Api, teller: Api, supervisor: Api, customer: tuple[dict[str, Any], Api],
    open_account: OpenAccount, mongo: Any,
) -> None:  # fmt: skip
    account = account_of(open_account, customer[0]["id"])
    expect(cash(teller, account, "deposit", "999.00"), 201)
    cancel(teller, waits(cash(teller, account, "deposit", "1.00")))
    close_day(supervisor, mongo)  # closes every session first, then the day
    open_till_session(admin, teller)
    expect(cash(teller, account, "deposit", "999.00"), 201)
    cancel(teller, waits(cash(teller, account, "deposit", "1.00")))
    open_till_session(admin, admin)  # as the admin fixture left it, for the tests after
    check_ledger(mongo)
