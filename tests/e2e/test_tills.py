"""Tills, the vault count and the cash position over HTTP, with blind balancing per role.

API.md "Tills and teller sessions": PATCH /tills/{id} (retiring a till that holds cash or
has a session: 409 `balance_not_zero` / `till_in_use`), POST /vault/count (a difference
waits for `till.variance` and posts exactly that difference to over/short), GET
/cash-position, and "Deactivating, demoting or deleting a user" (409 `session_open`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.ledger_checks import check_ledger
from tests.support import Api, approve_as, dec, expect, stocked_till, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

TILL_KEYS = {"id", "name", "status", "cash_limit", "session_id", "cash"}
_names = itertools.count(1)


def new_till(supervisor: Api, stock: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a till holding `stock` (default 300.00 USD), with no session."""
    return stocked_till(supervisor, f"T-Till {next(_names)}", stock or {"USD": "300.00"})


def ledger_balance(mongo: Any, code: str) -> Decimal:
    """Return a bank account's balance as stored."""
    raw = mongo.ledger_accounts.find_one({"_id": code})
    return dec(raw["balance"]) if raw else Decimal("0.00")


def vault_cash(mongo: Any) -> dict[str, Decimal]:
    """Return the vault's cash per currency as stored."""
    return {raw["currency"]: dec(raw["balance"])
            for raw in mongo.ledger_accounts.find({"_id": {"$regex": "^vault:"}})}  # fmt: skip


@pytest.fixture(scope="module")
def customer(make_user: MakeUser, open_account: OpenAccount) -> dict[str, Any]:
    """A customer's USD account with money on it."""
    return open_account(make_user("user")[0]["id"], deposit="2000.00")


# ---------------------------------------------------------------- PATCH /tills/{id}


def test_a_supervisor_renames_a_till_and_sets_its_cash_limits(
    supervisor: Api, make_user: MakeUser, admin: Api
) -> None:
    till = new_till(supervisor)
    renamed = expect(supervisor.patch(f"/tills/{till['id']}", json={"name": "Front desk"}), 200)
    assert set(renamed) == TILL_KEYS
    assert renamed["name"] == "Front desk"
    assert renamed["cash"] == {"USD": "300.00"}
    limited = expect(
        supervisor.patch(f"/tills/{till['id']}", json={"cash_limit": {"USD": 2000, "EUR": "500"}}),
        200,
    )
    assert limited["cash_limit"] == {"USD": "2000.00", "EUR": "500.00"}
    assert limited["name"] == "Front desk"  # untouched fields stay
    cleared = expect(supervisor.patch(f"/tills/{till['id']}", json={"cash_limit": None}), 200)
    assert cleared["cash_limit"] is None
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200) == cleared
    events = expect(admin.get("/audit", params={"action": "till.updated",
                                                "target_id": till["id"]}), 200)  # fmt: skip
    assert events["total"] == 3
    assert events["items"][-1]["details"]["changes"] == {"name": "Front desk"}
    # Refusals change nothing.
    teller = make_user("teller")[1]
    expect(teller.patch(f"/tills/{till['id']}", json={"name": "Mine"}), 403, "forbidden")
    expect(supervisor.patch("/tills/999999", json={"name": "Ghost"}), 404, "not_found")
    for bad in ({"name": ""}, {"name": None}, {"status": None}, {"status": "broken"},
                {"cash_limit": {"USD": "-1.00"}}, {"session_id": 5}, {"cash": {}}):  # fmt: skip
        expect(supervisor.patch(f"/tills/{till['id']}", json=bad), 422, "validation_error")
    expect(supervisor.patch(f"/tills/{till['id']}", json={"cash_limit": {"XYZ": "1.00"}}), 422,
           "unsupported_currency")  # fmt: skip
    expect(supervisor.post("/tills", json={"name": "Odd", "cash_limit": {"XYZ": "1"}}), 422,
           "unsupported_currency")  # fmt: skip
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200) == cleared


def test_retiring_needs_an_empty_till_without_a_session(
    supervisor: Api, make_user: MakeUser
) -> None:
    retire = {"status": "retired"}
    holding = new_till(supervisor)
    body = expect(supervisor.patch(f"/tills/{holding['id']}", json=retire), 409,
                  "balance_not_zero")  # fmt: skip
    assert body["context"]["till_id"] == holding["id"]
    # Cash and a session: the cash is named first (API.md's order).
    teller = make_user("teller")[1]
    expect(teller.post(f"/tills/{holding['id']}/sessions", json={}), 201)
    expect(supervisor.patch(f"/tills/{holding['id']}", json=retire), 409, "balance_not_zero")
    empty = expect(supervisor.post("/tills", json={"name": f"Empty {next(_names)}"}), 201)
    other = make_user("teller")[1]
    session = expect(other.post(f"/tills/{empty['id']}/sessions", json={}), 201)
    expect(supervisor.patch(f"/tills/{empty['id']}", json=retire), 409, "till_in_use")
    expect(other.post(f"/sessions/{session['id']}/close", json={"counted": {}}), 200)
    retired = expect(supervisor.patch(f"/tills/{empty['id']}", json=retire), 200)
    assert retired["status"] == "retired"
    assert retired["session_id"] is None
    expect(other.post(f"/tills/{empty['id']}/sessions", json={}), 409, "till_in_use")
    back = expect(supervisor.patch(f"/tills/{empty['id']}", json={"status": "active"}), 200)
    assert back["status"] == "active"
    expect(other.post(f"/tills/{empty['id']}/sessions", json={}), 201)


# ---------------------------------------------------------------- blind balancing


def test_tellers_never_see_a_tills_cash_and_nobody_sees_their_own(
    supervisor: Api, admin: Api, make_user: MakeUser, customer: dict[str, Any]
) -> None:
    till = new_till(supervisor, {"USD": "100.00"})
    teller = make_user("teller")[1]
    assert expect(teller.get(f"/tills/{till['id']}"), 200)["cash"] is None
    listed = expect(teller.get("/tills", params={"limit": 200}), 200)["items"]
    assert listed
    assert all(item["cash"] is None for item in listed)
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200)["cash"] == {"USD": "100.00"}
    # A supervisor's own open session: blind to them, visible to the admin.
    session = expect(supervisor.post(f"/tills/{till['id']}/sessions", json={}), 201)
    assert session["expected"] is None
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200)["cash"] is None
    assert expect(admin.get(f"/tills/{till['id']}"), 200)["cash"] == {"USD": "100.00"}
    # Paying out more than the till holds: the amount it holds is hidden from its teller...
    refusal = expect(
        supervisor.post(f"/accounts/{customer['id']}/withdraw", json={"amount": "150.00"}),
        409,
        "till_insufficient_cash",
    )
    assert refusal["context"] == {"currency": "USD", "requested": "150.00", "available": None}
    back = {"direction": "to_vault", "currency": "USD", "amount": "150.00"}
    mine = expect(supervisor.post(f"/tills/{till['id']}/cash", json=back), 409,
                  "till_insufficient_cash")  # fmt: skip
    assert mine["context"]["available"] is None
    # ... and shown to a supervisor who is not its teller.
    seen = expect(admin.post(f"/tills/{till['id']}/cash", json=back), 409,
                  "till_insufficient_cash")  # fmt: skip
    assert seen["context"]["available"] == "100.00"
    position = expect(supervisor.get("/cash-position"), 200)["USD"]
    line = next(t for t in position["tills"] if t["till_id"] == till["id"])
    assert line["cash"] is None
    assert position["total"] is None
    assert line["session_id"] == session["id"]
    assert line["teller_id"] == user_id(supervisor)
    closed = expect(supervisor.post(f"/sessions/{session['id']}/close",
                                    json={"counted": {"USD": "100.00"}}), 200)  # fmt: skip
    assert closed["expected"] == {"USD": "100.00"}
    assert expect(supervisor.get(f"/tills/{till['id']}"), 200)["cash"] == {"USD": "100.00"}


def test_a_deposit_above_the_cash_limit_is_allowed_and_flags_the_session(
    supervisor: Api, make_user: MakeUser, customer: dict[str, Any]
) -> None:
    till = new_till(supervisor, {"USD": "100.00"})
    expect(supervisor.patch(f"/tills/{till['id']}", json={"cash_limit": {"USD": "150.00"}}), 200)
    teller = make_user("teller")[1]
    session = expect(teller.post(f"/tills/{till['id']}/sessions", json={}), 201)
    expect(teller.post(f"/accounts/{customer['id']}/deposit", json={"amount": "50.00"}), 201)
    assert expect(teller.get("/sessions/current"), 200)["over_limit"] is False
    expect(teller.post(f"/accounts/{customer['id']}/deposit", json={"amount": "0.01"}), 201)
    assert expect(teller.get(f"/sessions/{session['id']}"), 200)["over_limit"] is True


# ---------------------------------------------------------------- cash position


def test_the_cash_position_adds_up_the_vault_and_every_till(
    supervisor: Api, admin: Api, make_user: MakeUser, mongo: Any
) -> None:
    till = new_till(supervisor, {"USD": "70.00", "EUR": "30.00"})
    position = expect(supervisor.get("/cash-position"), 200)
    assert {"USD", "EUR"} <= set(position)
    for currency, figures in position.items():
        assert set(figures) == {"vault", "tills", "total"}
        assert Decimal(figures["vault"]) == vault_cash(mongo)[currency]
        tills = figures["tills"]
        assert [t["till_id"] for t in tills] == sorted(t["till_id"] for t in tills)
        for line in tills:
            assert set(line) == {"till_id", "name", "cash", "session_id", "teller_id"}
            assert Decimal(line["cash"]) == ledger_balance(
                mongo, f"till:{line['till_id']}:{currency}"
            )
        total = Decimal(figures["vault"]) + sum(Decimal(t["cash"]) for t in tills)
        assert Decimal(figures["total"]) == total
    line = next(t for t in position["EUR"]["tills"] if t["till_id"] == till["id"])
    assert line == {"till_id": till["id"], "name": till["name"], "cash": "30.00",
                    "session_id": None, "teller_id": None}  # fmt: skip
    # The admin has an open session of their own: their till is blind to them.
    mine = expect(admin.get("/sessions/current"), 200)
    seen = expect(admin.get("/cash-position"), 200)
    own = [t for t in seen["USD"]["tills"] if t["till_id"] == mine["till_id"]]
    assert own
    assert own[0]["cash"] is None
    assert seen["USD"]["total"] is None
    teller = make_user("teller")[1]
    expect(teller.get("/cash-position"), 403, "forbidden")


# ---------------------------------------------------------------- vault count


def test_a_vault_count_that_agrees_is_stored_and_audited(
    supervisor: Api, admin: Api, mongo: Any
) -> None:
    counted = {currency: format(amount, "f") for currency, amount in vault_cash(mongo).items()}
    answer = expect(supervisor.post("/vault/count", json={"counted": counted, "note": "daily"}),
                    200)  # fmt: skip
    assert answer["counted"] == counted
    assert answer["expected"] == counted
    assert set(answer["variance"].values()) == {"0.00"}
    stored = mongo.vault_counts.find_one(sort=[("_id", -1)])
    assert stored["status"] == "balanced"
    assert stored["note"] == "daily"
    assert stored["by"] == user_id(supervisor)
    assert stored["business_date"]
    events = expect(
        admin.get("/audit", params={"action": "vault.counted", "target_id": stored["_id"]}), 200
    )
    assert events["total"] == 1


def test_a_vault_count_must_name_every_currency_it_holds(supervisor: Api, mongo: Any) -> None:
    cash = vault_cash(mongo)
    answer = supervisor.post("/vault/count", json={"counted": {"USD": format(cash["USD"], "f")}})
    assert expect(answer, 422, "count_incomplete")["context"]["missing"] == ["EUR"]
    expect(supervisor.post("/vault/count", json={"counted": {"USD": "x"}}), 422,
           "validation_error")  # fmt: skip


def test_only_supervisors_and_admins_count_the_vault(make_user: MakeUser) -> None:
    teller = make_user("teller")[1]
    expect(teller.post("/vault/count", json={"counted": {}}), 403, "forbidden")


def test_a_vault_difference_waits_and_posts_exactly_the_difference_found(
    supervisor: Api, admin: Api, mongo: Any
) -> None:
    cash = vault_cash(mongo)
    counted = {"USD": format(cash["USD"] - Decimal("12.00"), "f"), "EUR": format(cash["EUR"], "f")}
    before = ledger_balance(mongo, "over_short:USD")
    answer = supervisor.post("/vault/count", json={"counted": counted, "note": "short"})
    approval = expect(answer, 202)["approval"]
    assert approval["action"] == "till.variance"
    assert approval["amount"] == "12.00"
    assert approval["currency"] == "USD"
    assert mongo.vault_counts.find_one({"approval_id": approval["id"]})["status"] == "pending"
    # The vault moves on before the approval: the difference found at the count still posts.
    till = new_till(supervisor, {"USD": "40.00"})
    executed = approve_as(admin, answer)
    assert executed["result"]["status"] == 200
    result = executed["result"]["body"]
    assert result["variance"] == {"USD": "-12.00", "EUR": "0.00"}
    assert result["expected"]["USD"] == format(cash["USD"], "f")
    assert ledger_balance(mongo, "over_short:USD") - before == Decimal("12.00")
    assert vault_cash(mongo)["USD"] == cash["USD"] - Decimal("12.00") - Decimal("40.00")
    stored = mongo.vault_counts.find_one({"approval_id": approval["id"]})
    assert stored["status"] == "posted"
    entry = mongo.journal.find_one({"_id": stored["journal_id"]})
    assert entry["kind"] == "over_short"
    assert entry["approval_id"] == approval["id"]
    assert sorted((leg["account"], leg["side"], dec(leg["amount"])) for leg in entry["legs"]) == [
        ("over_short:USD", "debit", Decimal("12.00")),
        ("vault:USD", "credit", Decimal("12.00")),
    ]
    assert till["id"]


def test_a_rejected_vault_count_posts_nothing(supervisor: Api, admin: Api, mongo: Any) -> None:
    cash = vault_cash(mongo)
    counted = {"USD": format(cash["USD"], "f"), "EUR": format(cash["EUR"] + 3, "f")}
    answer = supervisor.post("/vault/count", json={"counted": counted})
    approval = expect(answer, 202)["approval"]
    expect(admin.post(f"/approvals/{approval['id']}/reject", json={"reason": "recount"}), 200)
    assert mongo.vault_counts.find_one({"approval_id": approval["id"]})["status"] == "rejected"
    assert vault_cash(mongo) == cash


# ---------------------------------------------------------------- users with sessions


def test_a_user_with_an_open_till_session_is_not_deleted_until_it_is_closed(
    supervisor: Api, admin: Api, make_user: MakeUser
) -> None:
    user, teller = make_user("teller")
    till = new_till(supervisor, {"USD": "10.00"})
    session = expect(teller.post(f"/tills/{till['id']}/sessions", json={}), 201)
    # Deactivated: the session stays open until a supervisor counts and closes it.
    expect(admin.put(f"/users/{user['id']}", json={"is_active": False}), 200)
    assert expect(supervisor.get(f"/sessions/{session['id']}"), 200)["status"] == "open"
    body = expect(admin.delete(f"/users/{user['id']}"), 409, "session_open")
    assert body["context"]["session_id"] == session["id"]
    expect(supervisor.post(f"/sessions/{session['id']}/close",
                           json={"counted": {"USD": "10.00"}}), 200)  # fmt: skip
    expect(admin.delete(f"/users/{user['id']}"), 204)


def test_the_whole_ledger_still_balances(mongo: Any) -> None:
    checked = check_ledger(mongo)
    assert checked["internal"] > 5
