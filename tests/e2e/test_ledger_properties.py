"""Property test of money movement against a real server: a Hypothesis state machine.

Each example opens fresh accounts with random overdraft and daily limits and gives the
teller a fresh till holding a little cash, then runs random deposits, withdrawals (some
exactly at the edge of what is allowed, or a cent over it), transfers, limit changes,
freezes, cash moved between the vault and the till, and session closes (exact, short or
over, approved or rejected) followed by a new session. A Python model predicts every answer
(201, or 409 with the codes that apply), every balance and the till's cash; after each step
the server's balances, ledgers, limits and till must agree with the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.ledger_checks import all_customer_legs, check_ledger, customer_legs, customer_legs_where
from tests.support import Api, dec, expect

# Timing and load: run after the parallel part, alone (Makefile `test`).
pytestmark = pytest.mark.serial

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

ACCOUNTS = 3
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CREDITS = {"deposit", "transfer_in"}

amounts = st.decimals(min_value=CENT, max_value=Decimal("300.00"), places=2)
small_amounts = st.decimals(min_value=CENT, max_value=Decimal("5.00"), places=2)
overdrafts = st.sampled_from([ZERO, Decimal("50.00")]) | st.decimals(
    min_value=ZERO, max_value=Decimal("200.00"), places=2
)
daily_limits = (
    st.none()
    | st.sampled_from([ZERO, Decimal("100.00")])
    | st.decimals(min_value=ZERO, max_value=Decimal("500.00"), places=2)
)
openings = st.decimals(min_value=Decimal("100.00"), max_value=Decimal("1000.00"), places=2)
slots = st.integers(min_value=0, max_value=ACCOUNTS - 1)
stocks = st.sampled_from([ZERO, Decimal("0.01")]) | st.decimals(
    min_value=ZERO, max_value=Decimal("300.00"), places=2
)
count_offsets = st.sampled_from([ZERO, ZERO, Decimal("-1.00"), Decimal("2.50")]) | st.decimals(
    min_value=Decimal("-20.00"), max_value=Decimal("20.00"), places=2
)

# No shrinking: every step is a few HTTP calls, and shrinking a failure could outlast the
# test timeout; a failing run prints its (at most stateful_step_count) steps as they ran.
SETTINGS = settings(
    max_examples=20,
    stateful_step_count=20,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def text(value: Decimal) -> str:
    """Spell money as the API does."""
    return f"{value:.2f}"


def wait_if_near_utc_midnight(margin: float = 60.0) -> None:
    """Keep an example within one UTC day, so the daily totals of the model hold."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = (midnight - now).total_seconds()
    if left < margin:
        time.sleep(left + 1)


@dataclass
class Model:
    """What the server should hold for one account."""

    id: int
    overdraft: Decimal
    daily: Decimal | None
    balance: Decimal = ZERO
    out_today: Decimal = ZERO
    entries: int = 0
    frozen: bool = False

    def debit_problems(self, amount: Decimal) -> set[str]:
        """Return every rule a debit of `amount` would break (empty: it goes through)."""
        problems = set()
        if self.frozen:
            problems.add("account_not_active")
        if self.balance - amount < -self.overdraft:
            problems.add("insufficient_funds")
        if self.daily is not None and self.out_today + amount > self.daily:
            problems.add("limit_exceeded")
        return problems

    def available(self) -> Decimal:
        """Return the largest debit that breaks no rule (may be zero or less)."""
        room = self.balance + self.overdraft
        if self.daily is not None:
            room = min(room, self.daily - self.out_today)
        return room


@dataclass
class TillModel:
    """What the teller's till should hold (USD), and the session open on it."""

    id: int
    session_id: int
    cash: Decimal


@dataclass(frozen=True)
class Clients:
    """Who acts in the machine: staff handle cash and settings, the owner transfers."""

    admin: Api
    teller: Api
    owner: Api
    owner_id: int
    mongo: Any


class LedgerMachine(RuleBasedStateMachine):
    """Random money movement against the real server, checked step by step."""

    clients: ClassVar[Clients]
    seen: ClassVar[set[str]] = set()  # every refusal code the server answered, all examples

    def __init__(self) -> None:
        super().__init__()
        self.c = self.clients
        self.accounts: list[Model] = []
        self.deposited = ZERO
        self.withdrawn = ZERO
        self.till: TillModel | None = None
        self.over_short = ZERO  # what this example's counts posted (shortages - overages)
        self.over_short_start = self.over_short_now()

    # ------------------------------------------------------------ set-up

    @initialize(
        setups=st.lists(
            st.tuples(overdrafts, daily_limits, openings), min_size=ACCOUNTS, max_size=ACCOUNTS
        ),
        stock=stocks,
    )
    def open_accounts(
        self, setups: list[tuple[Decimal, Decimal | None, Decimal]], stock: Decimal
    ) -> None:
        wait_if_near_utc_midnight()
        self.till = self.fresh_till(stock)
        for overdraft, daily, opening in setups:
            body = {"account_type": "checking", "owner_id": self.c.owner_id}
            opened = expect(self.c.admin.post("/accounts", json=body), 201)
            assert opened["balance"] == "0.00"
            changed = self.admin_update(
                opened["id"],
                {"overdraft_limit": text(overdraft),
                 "daily_withdrawal_limit": None if daily is None else text(daily)},
            )  # fmt: skip
            shown = expect(changed, 200)
            assert shown["overdraft_limit"] == text(overdraft)
            assert shown["daily_withdrawal_limit"] == (None if daily is None else text(daily))
            account = Model(opened["id"], overdraft, daily)
            self.accounts.append(account)
            self.deposit(len(self.accounts) - 1, opening)

    def fresh_till(self, stock: Decimal) -> TillModel:
        """Close the teller's session (counted as expected); open one on a new till of `stock`."""
        current = self.c.teller.get("/sessions/current")
        if current.status_code == 200:
            session_id = current.json()["id"]
            expected = expect(self.c.admin.get(f"/sessions/{session_id}"), 200)["expected"]
            closed = self.c.teller.post(f"/sessions/{session_id}/close",
                                        json={"counted": expected})  # fmt: skip
            assert expect(closed, 200)["status"] == "closed"
        till = expect(self.c.admin.post("/tills", json={"name": "Property till"}), 201)
        if stock > 0:
            move = {"direction": "to_till", "currency": "USD", "amount": text(stock)}
            expect(self.c.admin.post(f"/tills/{till['id']}/cash", json=move), 201)
        opened = self.c.teller.post(f"/tills/{till['id']}/sessions",
                                    json={"counted": {"USD": text(stock)}})  # fmt: skip
        session = expect(opened, 201)
        assert session["opening"].get("USD", "0.00") == text(stock)
        assert session["expected"] is None  # blind for its own teller
        return TillModel(till["id"], session["id"], stock)

    def over_short_now(self) -> Decimal:
        """Return the over/short account's balance (debit-normal) as stored."""
        raw = self.c.mongo.ledger_accounts.find_one({"_id": "over_short:USD"})
        return dec(raw["balance"]) if raw else ZERO

    def admin_update(self, account_id: int, body: dict[str, Any]) -> httpx.Response:
        """PUT an account's settings as admin."""
        return self.c.admin.put(f"/accounts/{account_id}/admin", json=body)

    # ------------------------------------------------------------ checks of one answer

    @staticmethod
    def check_refusal(response: httpx.Response, problems: set[str]) -> None:
        """Assert a 409 whose code is one of the rules the model says the request breaks."""
        assert response.status_code == 409, (problems, response.status_code, response.text)
        code = response.json()["code"]
        assert code in problems, (code, problems, response.text)
        LedgerMachine.seen.add(code)

    def check_entry(self, tx: dict[str, Any], account: Model, kind: str, amount: Decimal) -> None:
        """Assert a Transaction answer against the model, after the model applied it."""
        assert tx["account_id"] == account.id
        assert tx["type"] == kind
        assert tx["amount"] == text(amount)
        assert tx["balance_after"] == text(account.balance)
        assert Decimal(tx["balance_after"]) >= -account.overdraft

    # ------------------------------------------------------------ rules

    @rule(slot=slots, amount=amounts)
    def deposit(self, slot: int, amount: Decimal) -> None:
        account = self.accounts[slot]
        response = self.c.teller.post(
            f"/accounts/{account.id}/deposit", json={"amount": text(amount)}
        )
        if account.frozen:
            self.check_refusal(response, {"account_not_active"})
            return
        tx = expect(response, 201)
        account.balance += amount
        account.entries += 1
        self.deposited += amount
        assert self.till is not None
        self.till.cash += amount  # staff cash goes through the teller's till
        assert tx["session_id"] == self.till.session_id
        self.check_entry(tx, account, "deposit", amount)

    def withdraw(self, account: Model, amount: Decimal) -> None:
        """Withdraw through the API and check the answer against the model."""
        assert self.till is not None
        problems = account.debit_problems(amount)
        if amount > self.till.cash:
            problems.add("till_insufficient_cash")
        response = self.c.teller.post(
            f"/accounts/{account.id}/withdraw", json={"amount": text(amount)}
        )
        if problems:
            self.check_refusal(response, problems)
            if response.json()["code"] == "till_insufficient_cash":
                assert response.json()["context"]["available"] is None  # blind
            return
        tx = expect(response, 201)
        account.balance -= amount
        account.out_today += amount
        account.entries += 1
        self.withdrawn += amount
        self.till.cash -= amount
        self.check_entry(tx, account, "withdrawal", amount)

    @rule(slot=slots, over=st.booleans())
    def withdraw_the_tills_cash(self, slot: int, over: bool) -> None:
        """Pay out exactly what the till holds, or a cent more."""
        assert self.till is not None
        self.withdraw(self.accounts[slot], max(self.till.cash + (CENT if over else ZERO), CENT))

    @rule(to_till=st.booleans(), amount=amounts | small_amounts, over=st.booleans())
    def move_cash(self, to_till: bool, amount: Decimal, over: bool) -> None:
        """The admin moves cash between the vault and the teller's till; the teller accepts."""
        till = self.till
        assert till is not None
        if not to_till and over:
            amount = till.cash + CENT
        body = {"direction": "to_till" if to_till else "to_vault", "currency": "USD",
                "amount": text(amount)}  # fmt: skip
        response = self.c.admin.post(f"/tills/{till.id}/cash", json=body)
        if not to_till and amount > till.cash:
            refusal = expect(response, 409, "till_insufficient_cash")
            LedgerMachine.seen.add("till_insufficient_cash")
            assert refusal["context"]["available"] == text(till.cash)  # not the admin's till
            return
        approval = expect(response, 202)["approval"]
        assert approval["action"] == "till.receive"
        assert approval["session_id"] == till.session_id
        decided = expect(self.c.teller.post(f"/approvals/{approval['id']}/approve", json={}), 200)
        assert decided["status"] == "executed", decided
        till.cash += amount if to_till else -amount

    @rule(off=count_offsets, approve=st.booleans(), count_at_open=st.booleans())
    def close_and_reopen(self, off: Decimal, approve: bool, count_at_open: bool) -> None:
        """Close the session with a count off by `off`; a rejected count is recounted."""
        till = self.till
        assert till is not None
        off = max(off, -till.cash)
        path = f"/sessions/{till.session_id}/close"
        counted = {"USD": text(till.cash + off)}
        expected = till.cash
        if off == 0:
            closed = expect(self.c.teller.post(path, json={"counted": counted}), 200)
        else:
            expect(self.c.teller.post(path, json={"counted": counted}), 422, "note_required")
            answer = self.c.teller.post(path, json={"counted": counted, "note": "property"})
            approval = expect(answer, 202)["approval"]
            shown = expect(self.c.teller.get(f"/sessions/{till.session_id}"), 200)
            assert shown["status"] == "closing"
            assert shown["variance"] is None  # blind for its own teller
            # Cash into an account the rules would otherwise accept: refused, the till is
            # being counted (a frozen account would answer account_not_active instead).
            active = [account for account in self.accounts if not account.frozen]
            if active:
                deposit = {"amount": "1.00"}
                expect(self.c.teller.post(f"/accounts/{active[0].id}/deposit", json=deposit),
                       409, "session_closing")  # fmt: skip
            if approve:
                done = expect(self.c.admin.post(f"/approvals/{approval['id']}/approve",
                                                json={}), 200)  # fmt: skip
                assert done["status"] == "executed", done
                closed = done["result"]["body"]
                assert closed["variance"]["USD"] == text(off)
                till.cash += off
                self.over_short -= off
            else:
                expect(self.c.admin.post(f"/approvals/{approval['id']}/reject",
                                         json={"reason": "recount"}), 200)  # fmt: skip
                reopened = expect(self.c.teller.get(f"/sessions/{till.session_id}"), 200)
                assert reopened["status"] == "open"
                assert reopened["counts"][-1]["counted"] == counted
                recount = {"counted": {"USD": text(till.cash)}}
                closed = expect(self.c.teller.post(path, json=recount), 200)
        assert closed["status"] == "closed"
        assert closed["counted"]["USD"] == text(till.cash)
        assert closed["expected"].get("USD", "0.00") == text(expected)
        journal = expect(self.c.admin.get(f"/sessions/{till.session_id}/journal",
                                          params={"order": "desc", "limit": 1}), 200)  # fmt: skip
        if journal["items"]:
            assert journal["items"][0]["till_balance_after"] == text(till.cash)
        body = {"counted": {"USD": text(till.cash)}} if count_at_open else {}
        opened = expect(self.c.teller.post(f"/tills/{till.id}/sessions", json=body), 201)
        assert opened["opening"].get("USD", "0.00") == text(till.cash)
        till.session_id = int(opened["id"])

    @rule(slot=slots, amount=amounts)
    def withdraw_any(self, slot: int, amount: Decimal) -> None:
        self.withdraw(self.accounts[slot], amount)

    @staticmethod
    def edge_amount(account: Model, over: bool) -> Decimal:
        """Return exactly the largest debit the rules allow, or one cent more."""
        amount = account.available() + (CENT if over else ZERO)
        return max(amount, CENT)  # when nothing is allowed, a cent is already over

    @rule(slot=slots, over=st.booleans())
    def withdraw_at_the_edge(self, slot: int, over: bool) -> None:
        account = self.accounts[slot]
        self.withdraw(account, self.edge_amount(account, over))

    @rule(source=slots, step=st.sampled_from([1, 2, 1, 2, 0]), amount=amounts | small_amounts)
    def transfer_any(self, source: int, step: int, amount: Decimal) -> None:
        """Transfer to another account (or, one time in five, to the same one)."""
        self.transfer(source, (source + step) % ACCOUNTS, amount)

    @rule(source=slots, step=st.sampled_from([1, 2]), over=st.booleans())
    def transfer_at_the_edge(self, source: int, step: int, over: bool) -> None:
        account = self.accounts[source]
        self.transfer(source, (source + step) % ACCOUNTS, self.edge_amount(account, over))

    def transfer(self, source: int, destination: int, amount: Decimal) -> None:
        """Transfer through the API and check the answer and both legs against the model."""
        src, dst = self.accounts[source], self.accounts[destination]
        body = {"from_account_id": src.id, "to_account_id": dst.id, "amount": text(amount),
                "description": f"property {source}->{destination}"}  # fmt: skip
        response = self.c.owner.post("/transfers", json=body)
        if source == destination:
            expect(response, 422, "same_account")
            return
        problems = src.debit_problems(amount)
        if dst.frozen:
            problems.add("account_not_active")
        if problems:
            self.check_refusal(response, problems)
            return
        transfer = expect(response, 201)
        assert transfer["from_account_id"] == src.id
        assert transfer["to_account_id"] == dst.id
        assert transfer["amount"] == text(amount)
        src.balance -= amount
        src.out_today += amount
        dst.balance += amount
        src.entries += 1
        dst.entries += 1
        legs = {
            leg["account_id"]: leg
            for leg in customer_legs_where(self.c.mongo, transfer_id=transfer["id"])
        }
        assert set(legs) == {src.id, dst.id}
        assert legs[src.id]["type"] == "transfer_out"
        assert legs[dst.id]["type"] == "transfer_in"
        for leg, model in ((legs[src.id], src), (legs[dst.id], dst)):
            assert dec(leg["amount"]) == amount
            assert dec(leg["balance_after"]) == model.balance

    @rule(slot=slots, overdraft=overdrafts, daily=daily_limits)
    def change_limits(self, slot: int, overdraft: Decimal, daily: Decimal | None) -> None:
        account = self.accounts[slot]
        response = self.admin_update(
            account.id,
            {"overdraft_limit": text(overdraft),
             "daily_withdrawal_limit": None if daily is None else text(daily)},
        )  # fmt: skip
        if account.balance < -overdraft:
            # Lowering the overdraft below today's debt would break the floor: refused whole.
            expect(response, 409, "insufficient_funds")
            return
        body = expect(response, 200)
        assert body["overdraft_limit"] == text(overdraft)
        account.overdraft, account.daily = overdraft, daily

    @rule(slot=slots, under=st.booleans())
    def overdraft_at_the_edge(self, slot: int, under: bool) -> None:
        """Set the overdraft to exactly the account's debt, or a cent less (refused)."""
        account = self.accounts[slot]
        debt = max(-account.balance, ZERO)
        overdraft = debt - CENT if under and debt >= CENT else debt
        self.change_limits(slot, overdraft, account.daily)

    @rule(slot=slots)
    def freeze_or_unfreeze(self, slot: int) -> None:
        account = self.accounts[slot]
        status = "active" if account.frozen else "frozen"
        body = expect(self.admin_update(account.id, {"status": status}), 200)
        assert body["status"] == status
        account.frozen = not account.frozen

    # ------------------------------------------------------------ invariants

    @invariant()
    def server_agrees_with_the_model(self) -> None:
        total = ZERO
        for account in self.accounts:
            shown = expect(self.c.owner.get(f"/accounts/{account.id}"), 200)
            assert shown["balance"] == text(account.balance), (account, shown)
            assert shown["overdraft_limit"] == text(account.overdraft)
            assert shown["daily_withdrawal_limit"] == (
                None if account.daily is None else text(account.daily)
            )
            assert shown["status"] == ("frozen" if account.frozen else "active")
            assert Decimal(shown["balance"]) >= -Decimal(shown["overdraft_limit"])
            total += Decimal(shown["balance"])
        assert total == self.deposited - self.withdrawn

    @invariant()
    def the_till_holds_what_the_model_says(self) -> None:
        if self.till is None:
            return
        shown = expect(self.c.admin.get(f"/tills/{self.till.id}"), 200)
        assert (shown["cash"] or {}).get("USD", "0.00") == text(self.till.cash), shown
        assert shown["session_id"] == self.till.session_id
        assert expect(self.c.teller.get(f"/tills/{self.till.id}"), 200)["cash"] is None
        raw = self.c.mongo.ledger_accounts.find_one({"_id": f"till:{self.till.id}:USD"})
        assert (dec(raw["balance"]) if raw else ZERO) == self.till.cash
        assert self.over_short_now() - self.over_short_start == self.over_short

    @invariant()
    def ledgers_add_up(self) -> None:
        for account in self.accounts:
            listed = expect(
                self.c.owner.get(
                    f"/accounts/{account.id}/transactions",
                    params={"order": "asc", "limit": 200},
                ),
                200,
            )
            assert listed["total"] == account.entries
            items = listed["items"]
            running = ZERO
            for tx in items:
                running += Decimal(tx["amount"]) * (1 if tx["type"] in CREDITS else -1)
                assert Decimal(tx["balance_after"]) == running, (account, tx)
            assert running == account.balance
            stored = customer_legs(self.c.mongo, account.id)
            assert [e["seq"] for e in stored] == list(range(1, account.entries + 1))
            assert [e["_id"] for e in stored] == [tx["id"] for tx in items]
            assert sum((dec(e["amount"]) * (1 if e["type"] in CREDITS else -1) for e in stored),
                       ZERO) == account.balance  # fmt: skip
            raw = self.c.mongo.accounts.find_one({"_id": account.id})
            assert dec(raw["balance"]) == account.balance
            assert raw.get("entry_seq", 0) == account.entries
            # The server's count of today's money out (withdrawals and transfers out).
            today = datetime.now(UTC).date().isoformat()
            counted = dec(raw["day_out"]) if raw.get("day") == today else ZERO
            assert counted == account.out_today, (account, raw.get("day"), counted)


def check_whole_database(mongo: Any) -> None:
    """Over everything the module did: balances, seqs, ids, and paired transfer legs."""
    deposits = withdrawals = balances = ZERO
    accounts = list(mongo.accounts.find())
    assert len(accounts) >= ACCOUNTS * SETTINGS.max_examples
    for account in accounts:
        entries = customer_legs(mongo, account["_id"])
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        ids = [e["_id"] for e in entries]
        assert ids == sorted(set(ids))
        running = ZERO
        for entry in entries:
            amount = dec(entry["amount"])
            running += amount if entry["type"] in CREDITS else -amount
            assert dec(entry["balance_after"]) == running
            if entry["type"] == "deposit":
                deposits += amount
            elif entry["type"] == "withdrawal":
                withdrawals += amount
        assert dec(account["balance"]) == running
        assert running >= -dec(account["overdraft_limit"])
        balances += running
    assert balances == deposits - withdrawals
    legs: dict[int, list[dict[str, Any]]] = {}
    for entry in [e for e in all_customer_legs(mongo) if e.get("transfer_id") is not None]:
        legs.setdefault(entry["transfer_id"], []).append(entry)
    assert legs
    assert mongo.transfers.count_documents({}) == len(legs)
    for transfer_id, pair in legs.items():
        assert sorted(e["type"] for e in pair) == ["transfer_in", "transfer_out"], transfer_id
        assert pair[0]["amount"] == pair[1]["amount"]
        assert pair[0]["account_id"] != pair[1]["account_id"]


def test_random_movements_keep_the_ledger_consistent(
    admin: Api, teller: Api, make_user: MakeUser, mongo: Any
) -> None:
    owner, owner_api = make_user("user")
    clients = Clients(admin, teller, owner_api, int(owner["id"]), mongo)

    class Machine(LedgerMachine):
        pass

    Machine.clients = clients
    run_state_machine_as_test(Machine, settings=SETTINGS)
    # The machine really moved money and really got refusals.
    entries = len(all_customer_legs(mongo))
    assert entries > 50, entries
    refused = mongo.audit_events.count_documents({"outcome": "refused"})
    assert refused > 5, refused
    assert mongo.transfers.count_documents({}) >= 5
    codes = set(mongo.audit_events.distinct("code", {"outcome": "refused"}))
    assert {"insufficient_funds", "limit_exceeded", "account_not_active"} <= codes, codes
    # A till short of cash was met too (on a payout, or the admin emptying it).
    assert {"till_insufficient_cash", "session_closing"} <= Machine.seen | codes, Machine.seen
    # The tills really moved: cash moves, closes with differences, and new sessions.
    assert mongo.journal.count_documents({"kind": "over_short"}) > 3
    assert mongo.journal.count_documents({"kind": {"$in": ["vault_to_till", "till_to_vault"]}}) > 10
    assert mongo.teller_sessions.count_documents({"status": "closed"}) > ACCOUNTS * 5
    check_whole_database(mongo)
    check_ledger(mongo)
