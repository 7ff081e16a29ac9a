"""Property test of money movement against a real server: a Hypothesis state machine.

Each example opens fresh accounts with random overdraft and daily limits, then runs random
deposits, withdrawals (some exactly at the edge of what is allowed, or a cent over it),
transfers, limit changes and freezes. A Python model predicts every answer (201, or 409 with
the codes that apply) and every balance; after each step the server's balances, ledgers and
limits must agree with the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.ledger_checks import all_customer_legs, customer_legs, customer_legs_where
from tests.support import Api, dec, expect

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

    def __init__(self) -> None:
        super().__init__()
        self.c = self.clients
        self.accounts: list[Model] = []
        self.deposited = ZERO
        self.withdrawn = ZERO

    # ------------------------------------------------------------ set-up

    @initialize(
        setups=st.lists(
            st.tuples(overdrafts, daily_limits, openings), min_size=ACCOUNTS, max_size=ACCOUNTS
        )
    )
    def open_accounts(self, setups: list[tuple[Decimal, Decimal | None, Decimal]]) -> None:
        wait_if_near_utc_midnight()
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
        self.check_entry(tx, account, "deposit", amount)

    def withdraw(self, account: Model, amount: Decimal) -> None:
        """Withdraw through the API and check the answer against the model."""
        problems = account.debit_problems(amount)
        response = self.c.teller.post(
            f"/accounts/{account.id}/withdraw", json={"amount": text(amount)}
        )
        if problems:
            self.check_refusal(response, problems)
            return
        tx = expect(response, 201)
        account.balance -= amount
        account.out_today += amount
        account.entries += 1
        self.withdrawn += amount
        self.check_entry(tx, account, "withdrawal", amount)

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
    check_whole_database(mongo)
