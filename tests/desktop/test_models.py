"""The desktop's table models: against a real server, and against a synthetic 100,000-account bank.

The real-server half builds a small bank over HTTP (customers, accounts in every status, a
negative balance, every kind of ledger entry) and checks each model's rows, roles, search,
filters and server-side sort against what the API answers, with `qtmodeltester` watching.
The synthetic half serves pages of a 100,000-account bank from an `httpx.MockTransport`
(with a delay, so a blocked GUI thread would show) to check lazy paging, that only one page
is ever on the wire, that a superseded query's answer is dropped, that a view scrolling to
the bottom loads page after page while the event loop keeps running, and what a failed load
leaves behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import shiboken6
from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableView

from desktop import text, theme, workers
from desktop.api.client import ApiError, BankClient, NetworkError
from desktop.models import AccountsModel, CustomersModel, PagedTableModel, TransactionsModel
from shared.account_number import account_number
from shared.schemas.accounts import AccountPublic
from shared.schemas.transactions import TransactionPublic
from shared.schemas.users import UserPublic
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

DISPLAY = Qt.ItemDataRole.DisplayRole
USER = Qt.ItemDataRole.UserRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
ROOT = QModelIndex()
WAIT_MS = 15_000


# ---------------------------------------------------------------- helpers


def money(text: str | Decimal, currency: str | None = None) -> str:
    """Format money as a person reads it, independently of shared.money."""
    out = f"{Decimal(text):,.2f}"
    return f"{out} {currency}" if currency else out


def cell(model: PagedTableModel[Any], row: int, column: int, role: Any = DISPLAY) -> Any:
    """Return one cell's data."""
    return model.data(model.index(row, column), role)


def column(model: PagedTableModel[Any], col: int) -> list[str]:
    """Return a column's DisplayRole texts, top to bottom."""
    return [cell(model, row, col) for row in range(model.rowCount())]


def settle(qtbot: Any, model: PagedTableModel[Any], start: Callable[[], object]) -> None:
    """Start a (re)load and wait until its first page has arrived or failed."""
    start()
    qtbot.waitUntil(
        lambda: not model.loading and (model.total is not None or model.error is not None),
        timeout=WAIT_MS,
    )
    assert model.error is None, model.error


def load_all(qtbot: Any, model: PagedTableModel[Any]) -> None:
    """Fetch pages until the model holds the whole list."""
    while model.canFetchMore(ROOT):
        rows = model.rowCount()
        model.fetchMore(ROOT)
        qtbot.waitUntil(lambda r=rows: not model.loading and model.rowCount() > r, timeout=WAIT_MS)


def is_color(value: Any, expected: QColor) -> bool:
    """Tell whether a ForegroundRole answer is a given colour."""
    return isinstance(value, QColor) and value.name() == expected.name()


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    """Let every request a test started report before the next test begins."""
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


# ---------------------------------------------------------------- a small real bank


@dataclass
class Bank:
    """What the module created over HTTP."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def bank(admin: Api, make_user: MakeUser, open_account: OpenAccount) -> Bank:
    """Four customers and five accounts: active, frozen, closed, negative; every entry type."""
    out = Bank()
    for key, name in (("ada", "Ada Lovelace"), ("grace", "Grace Hopper"),
                      ("alan", "Alan Turing"), ("ivan", "Ivan Idle")):  # fmt: skip
        out.customers[key] = make_user("user", username=f"{key}.m", full_name=name)[0]
    ada, grace, alan = (out.customers[k]["id"] for k in ("ada", "grace", "alan"))
    ivan = out.customers["ivan"]["id"]
    expect(admin.put(f"/users/{ivan}", json={"is_active": False}), 200)

    a = out.accounts
    a["ada_usd"] = open_account(ada, "1250.00", nickname="Rainy day")
    a["ada_eur"] = open_account(ada, "10.50", account_type="savings", currency="EUR")
    a["grace_usd"] = open_account(grace, "300.00")
    a["alan_frozen"] = open_account(alan, "5.00")
    a["alan_closed"] = open_account(alan, None, account_type="savings")

    ada_usd, grace_usd = a["ada_usd"]["id"], a["grace_usd"]["id"]
    expect(admin.post(f"/accounts/{ada_usd}/withdraw",
                      json={"amount": "40.00", "description": "ATM"}), 201)  # fmt: skip
    transfer = {"from_account_id": grace_usd, "to_account_id": ada_usd, "amount": "75.25"}
    expect(admin.post("/transfers", json={**transfer, "description": "Dinner"}), 201)
    back = {"from_account_id": ada_usd, "to_account_id": grace_usd, "amount": "100.00"}
    expect(admin.post("/transfers", json={**back, "description": "Rent"}), 201)
    # Grace overdraws: 300 - 75.25 + 100 - 400 = -75.25.
    expect(admin.put(f"/accounts/{grace_usd}/admin", json={"overdraft_limit": "500.00"}), 200)
    expect(admin.post(f"/accounts/{grace_usd}/withdraw", json={"amount": "400.00"}), 201)
    frozen = a["alan_frozen"]["id"]
    expect(admin.put(f"/accounts/{frozen}/admin", json={"status": "frozen"}), 200)
    expect(admin.delete(f"/accounts/{a['alan_closed']['id']}"), 204)
    for key, account in a.items():
        a[key] = expect(admin.get(f"/accounts/{account['id']}"), 200)
    return out


@pytest.fixture(scope="module")
def client(server: ServerProcess, bank: Bank) -> Iterator[BankClient]:
    """The desktop's client, signed in as the admin."""
    bank_client = BankClient(server.url)
    bank_client.login("admin", ADMIN_PASSWORD)
    yield bank_client
    bank_client.close()


# ---------------------------------------------------------------- accounts, real server


def test_accounts_model_shows_what_the_api_lists(
    qtbot: Any, qtmodeltester: Any, client: BankClient, admin: Api, bank: Bank
) -> None:
    """Every row, role and header matches GET /accounts; the total comes from the server."""
    model = AccountsModel(client)
    with qtbot.waitSignal(model.total_changed, timeout=WAIT_MS) as total:
        model.set_query()
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT_MS)
    qtmodeltester.check(model, force_py=True)

    listed = expect(admin.get("/accounts", params={"limit": 200}), 200)
    assert total.args == [listed["total"]] == [len(bank.accounts)]
    assert model.total == listed["total"]
    assert model.rowCount() == listed["total"]
    assert not model.canFetchMore(ROOT)
    assert model.columnCount() == len(AccountsModel.Column) == 8
    C = AccountsModel.Column
    for row, api in enumerate(listed["items"]):
        assert [cell(model, row, c) for c in C] == [
            api["number"], api["owner_name"], api["account_type"].capitalize(), api["currency"],
            money(api["balance"], api["currency"]), money(api["available"], api["currency"]),
            api["status"].capitalize(), api["nickname"] or "",
        ]  # fmt: skip
        account = cell(model, row, C.NUMBER, USER)
        assert isinstance(account, AccountPublic)
        assert account == model.account_at(row) == AccountPublic.model_validate(api)
        assert cell(model, row, C.BALANCE, ALIGNMENT) == RIGHT
        assert cell(model, row, C.OWNER, ALIGNMENT) is None
        assert api["number"] in cell(model, row, C.NUMBER, TOOLTIP)
    assert model.account_at(len(listed["items"])) is None
    assert model.account_at(-1) is None
    assert cell(model, 99, C.NUMBER) is None  # beyond the loaded rows

    rows = {key: model.row_of(account["id"]) for key, account in bank.accounts.items()}
    assert cell(model, rows["ada_usd"], C.BALANCE) == "1,185.25 USD"  # 1250 - 40 + 75.25 - 100
    assert cell(model, rows["ada_usd"], C.NICKNAME) == "Rainy day"
    assert cell(model, rows["ada_eur"], C.BALANCE) == "10.50 EUR"
    assert cell(model, rows["ada_eur"], C.TYPE) == "Savings"
    assert cell(model, rows["grace_usd"], C.BALANCE) == "-75.25 USD"
    assert is_color(cell(model, rows["grace_usd"], C.BALANCE, FOREGROUND), theme.colors().negative)
    assert cell(model, rows["grace_usd"], C.NUMBER, FOREGROUND) is None
    assert cell(model, rows["ada_usd"], C.BALANCE, FOREGROUND) is None
    assert cell(model, rows["alan_frozen"], C.STATUS) == "Frozen"
    assert "Frozen" in cell(model, rows["alan_frozen"], C.STATUS, TOOLTIP)
    assert cell(model, rows["alan_closed"], C.STATUS) == "Closed"
    for c in C:  # a closed account is greyed out across the row
        assert is_color(cell(model, rows["alan_closed"], c, FOREGROUND), theme.colors().muted)

    # A newer version of a loaded account (after a deposit, say) is shown in place.
    newer = model.account_at(rows["ada_eur"]).model_copy(update={"balance": Decimal("-5.00")})
    with qtbot.waitSignal(model.dataChanged, timeout=WAIT_MS) as changed:
        assert model.replace(newer)
    assert [index.row() for index in changed.args[:2]] == [rows["ada_eur"]] * 2
    assert cell(model, rows["ada_eur"], C.BALANCE) == "-5.00 EUR"
    assert is_color(cell(model, rows["ada_eur"], C.BALANCE, FOREGROUND), theme.colors().negative)
    assert not model.replace(newer.model_copy(update={"id": 10_000}))

    horizontal = Qt.Orientation.Horizontal
    headers = [model.headerData(c, horizontal, DISPLAY) for c in C]
    assert headers == ["Number", "Owner", "Type", "Currency", "Balance", "Available", "Status",
                       "Nickname"]  # fmt: skip
    assert model.headerData(C.BALANCE, horizontal, ALIGNMENT) == RIGHT
    assert model.headerData(99, horizontal, DISPLAY) is None


def test_search_status_filter_and_server_side_sort(
    qtbot: Any, qtmodeltester: Any, client: BankClient, admin: Api, bank: Bank
) -> None:
    """`q`, `status` and the sortable columns change what is shown, as the server decides."""
    model = AccountsModel(client)
    qtmodeltester.check(model, force_py=True)
    C = AccountsModel.Column
    a = bank.accounts
    # Nothing is asked before the first query, not even by a sort from a view's header.
    assert not model.canFetchMore(ROOT)
    model.sort(C.BALANCE, Qt.SortOrder.DescendingOrder)
    assert not model.loading
    assert model.total is None

    settle(qtbot, model, lambda: model.set_query(q="lovelace"))
    assert model.total == 2
    assert sorted(column(model, C.NUMBER)) == sorted(
        [a["ada_usd"]["number"], a["ada_eur"]["number"]]
    )
    settle(qtbot, model, lambda: model.set_query(q=a["grace_usd"]["number"]))
    assert column(model, C.NUMBER) == [a["grace_usd"]["number"]]
    settle(qtbot, model, lambda: model.set_query(q="  rainy "))
    assert column(model, C.NICKNAME) == ["Rainy day"]
    settle(qtbot, model, lambda: model.set_query(q="nobody-has-this"))
    assert model.total == 0
    assert model.rowCount() == 0
    assert not model.canFetchMore(ROOT)

    settle(qtbot, model, lambda: model.set_query(status="frozen"))
    assert column(model, C.NUMBER) == [a["alan_frozen"]["number"]]
    settle(qtbot, model, lambda: model.set_query(q="turing", status="closed"))
    assert column(model, C.NUMBER) == [a["alan_closed"]["number"]]
    settle(qtbot, model, lambda: model.set_query(status="active"))
    assert set(column(model, C.STATUS)) == {"Active"}
    assert model.total == 3

    by_balance = expect(admin.get("/accounts", params={"sort": "balance", "order": "desc"}), 200)
    settle(qtbot, model, lambda: model.set_query(sort="balance", order="desc"))
    assert column(model, C.NUMBER) == [item["number"] for item in by_balance["items"]]
    balances = [cell(model, r, C.NUMBER, USER).balance for r in range(model.rowCount())]
    assert balances == sorted(balances, reverse=True)

    settle(qtbot, model, lambda: model.sort(C.BALANCE, Qt.SortOrder.AscendingOrder))
    assert (model.sort_field, model.sort_order) == ("balance", "asc")
    balances = [cell(model, r, C.NUMBER, USER).balance for r in range(model.rowCount())]
    assert balances == sorted(balances)
    settle(qtbot, model, lambda: model.sort(C.NUMBER, Qt.SortOrder.DescendingOrder))
    numbers = column(model, C.NUMBER)
    assert numbers == sorted(numbers, reverse=True)
    settle(qtbot, model, lambda: model.sort(C.OWNER, Qt.SortOrder.AscendingOrder))
    owners = [cell(model, r, C.NUMBER, USER).owner_id for r in range(model.rowCount())]
    assert owners == sorted(owners)
    assert model.sort_field == "owner_id"

    # Columns the server cannot sort by, and the sort already shown, cause no request.
    for unsortable in (C.TYPE, C.CURRENCY, C.STATUS, C.NICKNAME):
        assert not model.is_sortable(unsortable)
        model.sort(unsortable, Qt.SortOrder.DescendingOrder)
        assert not model.loading
    model.sort(C.OWNER, Qt.SortOrder.AscendingOrder)
    assert not model.loading
    assert [cell(model, r, C.NUMBER, USER).owner_id for r in range(model.rowCount())] == owners


def test_accounts_page_through_the_real_server(
    qtbot: Any, qtmodeltester: Any, client: BankClient, admin: Api
) -> None:
    """With two rows a page, rows arrive a page at a time, in the API's order, to the end."""
    model = AccountsModel(client, page_size=2)
    settle(qtbot, model, model.set_query)
    assert model.rowCount() == 2
    assert model.total == 5
    assert model.canFetchMore(ROOT)
    model.fetchMore(ROOT)
    model.fetchMore(ROOT)  # already on its way: not a second request
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT_MS)
    assert model.rowCount() == 4
    load_all(qtbot, model)
    assert model.rowCount() == 5
    assert not model.canFetchMore(ROOT)
    listed = expect(admin.get("/accounts", params={"limit": 200}), 200)["items"]
    assert [account.id for account in model.items()] == [item["id"] for item in listed]

    # refresh() starts again from the first page of the same query.
    settle(qtbot, model, model.refresh)
    assert model.rowCount() == 2
    assert model.total == 5

    # The tester fetches more after every insertion, as a view would if it showed every row.
    qtmodeltester.check(model, force_py=True)
    qtbot.waitUntil(lambda: model.rowCount() == 5 and not model.loading, timeout=WAIT_MS)
    assert [account.id for account in model.items()] == [item["id"] for item in listed]


# ---------------------------------------------------------------- transactions, real server


def test_transactions_model_shows_one_account_newest_first(
    qtbot: Any, qtmodeltester: Any, client: BankClient, admin: Api, bank: Bank
) -> None:
    """Dates, readable types, signed amounts, balances, colours; points for the chart."""
    model = TransactionsModel(client)
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 0
    assert not model.canFetchMore(ROOT)
    assert model.account is None
    model.fetchMore(ROOT)
    assert not model.loading  # nothing to ask without an account

    ada_usd = client.account(bank.accounts["ada_usd"]["id"])
    settle(qtbot, model, lambda: model.set_account(ada_usd))
    entries = expect(admin.get(f"/accounts/{ada_usd.id}/transactions"), 200)
    assert model.total == entries["total"] == 4
    assert model.rowCount() == 4
    C = TransactionsModel.Column
    assert column(model, C.TYPE) == ["Transfer out", "Transfer in", "Withdrawal", "Deposit"]
    assert column(model, C.AMOUNT) == ["-100.00", "+75.25", "-40.00", "+1,250.00"]
    assert column(model, C.BALANCE) == ["1,185.25", "1,285.25", "1,210.00", "1,250.00"]
    assert column(model, C.DESCRIPTION) == ["Rent", "Dinner", "ATM", ""]
    grace_number = bank.accounts["grace_usd"]["number"]
    assert column(model, C.COUNTERPARTY) == [grace_number, grace_number, "", ""]
    for row, api in enumerate(entries["items"]):
        moment = datetime.fromisoformat(api["created_at"]).astimezone()
        assert cell(model, row, C.DATE) == moment.strftime("%Y-%m-%d %H:%M")
        entry = cell(model, row, C.DATE, USER)
        assert isinstance(entry, TransactionPublic)
        assert entry.id == api["id"]
        assert model.transaction_at(row) == entry
        assert cell(model, row, C.AMOUNT, ALIGNMENT) == RIGHT
        assert cell(model, row, C.BALANCE, ALIGNMENT) == RIGHT
        assert moment.strftime("%Y-%m-%d %H:%M:%S (UTC") in cell(model, row, C.DATE, TOOLTIP)
    assert is_color(cell(model, 0, C.AMOUNT, FOREGROUND), theme.colors().negative)
    assert is_color(cell(model, 1, C.AMOUNT, FOREGROUND), theme.colors().positive)
    assert cell(model, 0, C.BALANCE, FOREGROUND) is None
    horizontal = Qt.Orientation.Horizontal
    assert model.headerData(C.AMOUNT, horizontal, DISPLAY) == "Amount (USD)"
    assert model.headerData(C.DATE, horizontal, DISPLAY) == "Date"

    oldest_first = model.entries_oldest_first()
    assert [e.balance_after for e in oldest_first] == [
        Decimal("1250.00"), Decimal("1210.00"), Decimal("1285.25"), Decimal("1185.25"),
    ]  # fmt: skip
    assert [e.created_at for e in oldest_first] == sorted(e.created_at for e in oldest_first)
    assert oldest_first[-1].balance_after == ada_usd.balance

    settle(qtbot, model, lambda: model.sort(C.AMOUNT, Qt.SortOrder.DescendingOrder))
    assert column(model, C.AMOUNT) == ["+1,250.00", "-100.00", "+75.25", "-40.00"]
    settle(qtbot, model, lambda: model.set_filter(type="deposit"))
    assert column(model, C.TYPE) == ["Deposit"]
    future = datetime.now(UTC) + timedelta(days=1)
    settle(qtbot, model, lambda: model.set_filter(since=future))
    assert model.rowCount() == 0
    assert model.total == 0

    # A negative balance reads red; the header names the account's currency.
    grace = client.account(bank.accounts["grace_usd"]["id"])
    model.set_filter()
    settle(qtbot, model, lambda: model.set_account(grace))
    assert (model.sort_field, model.sort_order) == ("amount", "desc")  # the order stays
    assert column(model, C.AMOUNT) == ["-400.00", "+300.00", "+100.00", "-75.25"]
    assert cell(model, 0, C.BALANCE) == "-75.25"
    assert is_color(cell(model, 0, C.BALANCE, FOREGROUND), theme.colors().negative)
    assert model.entries_oldest_first()[-1].balance_after == Decimal("-75.25")

    model.set_account(None)
    assert model.rowCount() == 0
    assert model.total is None
    assert not model.canFetchMore(ROOT)
    assert not model.loading
    assert model.entries_oldest_first() == []


# ---------------------------------------------------------------- customers, real server


def test_customers_model_lists_customers_only(
    qtbot: Any, qtmodeltester: Any, client: BankClient, admin: Api, bank: Bank
) -> None:
    """Users with role `user` and their accounts: columns, search, sort; staff never appear."""
    model = CustomersModel(client)
    qtmodeltester.check(model, force_py=True)
    settle(qtbot, model, model.set_query)
    query = {"role": "user", "limit": 200, "include": "accounts"}
    listed = expect(admin.get("/users", params=query), 200)
    assert model.total == listed["total"] == 4
    C = CustomersModel.Column
    for row, api in enumerate(listed["items"]):
        created = datetime.fromisoformat(api["created_at"]).astimezone().strftime("%Y-%m-%d")
        open_accounts = [a for a in api["accounts"] if a["status"] != "closed"]
        totals: dict[str, Decimal] = {}
        for a in api["accounts"]:
            totals[a["currency"]] = totals.get(a["currency"], Decimal(0)) + Decimal(a["balance"])
        balances = " · ".join(money(v, c) for c, v in sorted(totals.items()))
        assert [cell(model, row, c) for c in C] == [
            api["username"], api["full_name"], api["email"], str(len(open_accounts)), balances,
            "Yes" if api["is_active"] else "No", created, text.kyc_status(api["kyc_status"]),
        ]  # fmt: skip
        user = cell(model, row, C.USERNAME, USER)
        assert isinstance(user, UserPublic)
        assert user == model.customer_at(row)
    assert "admin" not in column(model, C.USERNAME)
    ivan = model.row_of(bank.customers["ivan"]["id"])
    assert ivan is not None
    assert cell(model, ivan, C.ACTIVE) == "No"
    assert is_color(cell(model, ivan, C.FULL_NAME, FOREGROUND), theme.colors().muted)
    assert cell(model, 0, C.FULL_NAME, FOREGROUND) is None
    headers = [model.headerData(c, Qt.Orientation.Horizontal, DISPLAY) for c in C]
    assert headers == [
        "Username", "Full name", "Email", "Accounts", "Balances", "Active", "Customer since",
        "Identity",
    ]  # fmt: skip
    ada = model.row_of(bank.customers["ada"]["id"])
    assert ada is not None
    assert cell(model, ada, C.BALANCES) == "10.50 EUR · 1,185.25 USD"
    tip = cell(model, ada, C.ACCOUNTS, TOOLTIP)
    assert bank.accounts["ada_usd"]["number"] in tip
    assert "Active" in tip

    settle(qtbot, model, lambda: model.set_query("HOPPER"))
    assert column(model, C.FULL_NAME) == ["Grace Hopper"]
    settle(qtbot, model, lambda: model.set_query("example.com"))  # email matches too
    assert model.total == 4
    settle(qtbot, model, lambda: model.sort(C.FULL_NAME, Qt.SortOrder.DescendingOrder))
    assert column(model, C.FULL_NAME) == [
        "Ivan Idle",
        "Grace Hopper",
        "Alan Turing",
        "Ada Lovelace",
    ]
    settle(qtbot, model, lambda: model.sort(C.USERNAME, Qt.SortOrder.AscendingOrder))
    assert column(model, C.USERNAME) == ["ada.m", "alan.m", "grace.m", "ivan.m"]
    model.sort(C.EMAIL, Qt.SortOrder.DescendingOrder)  # not sortable on the server
    assert not model.loading


# ---------------------------------------------------------------- a synthetic 100,000-account bank

N_ACCOUNTS = 100_000
CURRENCIES = ("USD", "EUR", "GBP")
_USER = {
    "id": 1, "username": "admin", "full_name": "Synthetic Admin", "email": "admin@example.com",
    "role": "admin", "is_active": True, "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00.000Z",
}  # fmt: skip


def synthetic_balance_cents(account_id: int) -> int:
    """Return a deterministic balance, some of them negative."""
    if account_id % 97 == 0:
        return 0  # closed accounts hold nothing
    return (account_id * 7919) % 2_000_000 - 100_000


def synthetic_account(account_id: int) -> dict[str, Any]:
    """Return account `account_id` of the synthetic bank as the API would."""
    owner = (account_id - 1) // 3 + 1
    status = "closed" if account_id % 97 == 0 else "frozen" if account_id % 89 == 0 else "active"
    cents = synthetic_balance_cents(account_id)
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=account_id)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": account_id, "number": account_number(account_id), "owner_id": owner,
        "owner_name": f"Customer {owner}",
        "account_type": "checking" if account_id % 2 else "savings",
        "currency": CURRENCIES[account_id % 3], "balance": f"{Decimal(cents) / 100:.2f}",
        "overdraft_limit": "1000.00", "daily_withdrawal_limit": "10000.00", "status": status,
        "nickname": f"Pot {account_id}" if account_id % 5 == 0 else None,
        "created_at": stamp, "updated_at": stamp,
        "version": 1, "held": "0.00",
        "available": f"{Decimal(cents) / 100 + Decimal('1000.00'):.2f}",
    }  # fmt: skip


_by_balance: dict[int, list[int]] = {}


def ids_by_balance(n: int = N_ACCOUNTS) -> list[int]:
    """Return ids 1..n sorted by (balance, id), computed once per n."""
    if n not in _by_balance:
        ids = range(1, n + 1)
        _by_balance[n] = sorted(ids, key=lambda i: (synthetic_balance_cents(i), i))
    return _by_balance[n]


class SyntheticBank:
    """An httpx transport handler that answers /login, /me and /accounts for n accounts."""

    def __init__(self, n: int = N_ACCOUNTS, delay: float = 0.0) -> None:
        self.n = n
        self.delay = delay
        self.fail: str | None = None  # "503" or "connect" for /accounts
        self.fail_from = 0  # with `fail`: the first /accounts request (1-based) that fails
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._active = 0
        self.max_active = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if path == "/login":
            tokens = {"access_token": "a", "token_type": "bearer", "expires_in": 3600,
                      "refresh_token": "r"}  # fmt: skip
            return httpx.Response(200, json=tokens)
        if path == "/me":
            return httpx.Response(200, json=_USER)
        if path != "/accounts":
            return httpx.Response(404, json={"detail": "Not found", "code": "not_found"})
        with self._lock:
            self._active += 1
            self.max_active = max(self.max_active, self._active)
            self.requests.append(dict(request.url.params))
            failing = self.fail if len(self.requests) >= self.fail_from else None
        try:
            if self.delay:
                time.sleep(self.delay)
            if failing == "connect":
                raise httpx.ConnectError("connection refused", request=request)
            if failing == "503":
                body = {"detail": "The database does not answer", "code": "service_unavailable"}
                return httpx.Response(503, json=body)
            return httpx.Response(200, json=self.page(request.url.params))
        finally:
            with self._lock:
                self._active -= 1

    def page(self, params: httpx.QueryParams) -> dict[str, Any]:
        """Answer one page, honouring skip, limit, sort and order."""
        skip, limit = int(params.get("skip", 0)), int(params.get("limit", 50))
        assert skip >= 0
        assert 1 <= limit <= 200
        sort, order = params.get("sort", "id"), params.get("order", "asc")
        end = min(skip + limit, self.n)
        if sort == "balance":
            ordered = ids_by_balance(self.n)
            ids = ordered[::-1][skip:end] if order == "desc" else ordered[skip:end]
        else:  # id, number, owner_id and created_at all follow the id here
            ids = (
                [self.n - i for i in range(skip, end)]
                if order == "desc"
                else [i + 1 for i in range(skip, end)]
            )
        items = [synthetic_account(i) for i in ids]
        return {"items": items, "total": self.n, "skip": skip, "limit": limit}

    def account_requests(self) -> int:
        """Return how many /accounts requests arrived."""
        with self._lock:
            return len(self.requests)


def synthetic_client(bank: SyntheticBank) -> BankClient:
    """Return a client signed in to the synthetic bank."""
    bank_client = BankClient("http://bank.test", transport=httpx.MockTransport(bank))
    bank_client.login("admin", "whatever")
    return bank_client


class TimedAccountsModel(AccountsModel):
    """Record how long every data() and rowCount() call from the GUI thread takes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.durations: list[float] = []

    def data(self, index: Any, role: int = DISPLAY) -> Any:
        started = time.perf_counter()
        try:
            return super().data(index, role)
        finally:
            self.durations.append(time.perf_counter() - started)

    def rowCount(self, parent: Any = ROOT) -> int:
        started = time.perf_counter()
        try:
            return super().rowCount(parent)
        finally:
            self.durations.append(time.perf_counter() - started)


def test_large_bank_loads_lazily_one_page_at_a_time(qtbot: Any) -> None:
    """The first page loads, fetchMore adds a page at a time, never more than fetched."""
    # No qtmodeltester here: like Qt's own tester, it calls fetchMore after every insertion
    # and would pull in all 100,000 rows; the failure test runs it over a smaller bank.
    bank = SyntheticBank(delay=0.05)
    bank_client = synthetic_client(bank)
    model = AccountsModel(bank_client, page_size=100)
    on_gui_thread: list[bool] = []
    model.rowsInserted.connect(
        lambda *_: on_gui_thread.append(threading.current_thread() is threading.main_thread())
    )
    totals: list[int] = []
    model.total_changed.connect(totals.append)

    settle(qtbot, model, model.set_query)
    assert model.rowCount() == 100
    assert model.total == N_ACCOUNTS
    assert totals == [N_ACCOUNTS]
    assert model.canFetchMore(ROOT)
    assert bank.requests[0] == {"skip": "0", "limit": "100", "sort": "id", "order": "asc"}
    for pages in range(2, 6):
        for _ in range(3):  # a view may ask repeatedly: only one request goes out
            model.fetchMore(ROOT)
        assert model.loading
        assert model.rowCount() == (pages - 1) * 100
        qtbot.waitUntil(lambda: not model.loading, timeout=WAIT_MS)
        assert model.rowCount() == pages * 100 == bank.account_requests() * 100
        assert bank.requests[-1]["skip"] == str((pages - 1) * 100)
    assert [account.id for account in model.items()] == list(range(1, 501))
    assert bank.max_active == 1
    assert on_gui_thread
    assert all(on_gui_thread)
    assert totals == [N_ACCOUNTS]
    assert cell(model, 499, AccountsModel.Column.NUMBER) == account_number(500)
    assert model.row_of(500) == 499
    assert model.row_of(501) is None

    settle(
        qtbot, model, lambda: model.sort(AccountsModel.Column.BALANCE, Qt.SortOrder.DescendingOrder)
    )
    assert model.rowCount() == 100
    first = cell(model, 0, AccountsModel.Column.NUMBER, USER)
    assert first.id == ids_by_balance()[-1]
    bank_client.close()


def test_large_bank_table_view_scrolls_without_blocking(qtbot: Any) -> None:
    """Scrolling a QTableView to the bottom loads the next page while the event loop runs."""
    bank = SyntheticBank(delay=0.3)
    bank_client = synthetic_client(bank)
    model = TimedAccountsModel(bank_client, page_size=100)
    settle(qtbot, model, model.set_query)

    view = QTableView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.setModel(model)
    view.show()
    qtbot.waitExposed(view)
    assert bank.account_requests() == 1  # the first page fills the viewport: no fetch yet

    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(20)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    for pages in range(2, 6):
        before = model.rowCount()
        view.scrollToBottom()
        # The view asked for more, but nothing waited for the network on this thread.
        assert model.loading
        assert model.rowCount() == before
        qtbot.waitUntil(lambda p=pages: bank.account_requests() == p, timeout=WAIT_MS)
        ticks.clear()
        qtbot.waitUntil(lambda b=before: model.rowCount() > b, timeout=WAIT_MS)
        assert model.rowCount() == before + 100 == pages * 100
        assert len(ticks) >= 3  # the event loop kept turning while the page was on the wire
        qtbot.wait(50)  # let the view lay out and paint the new rows
        assert model.rowCount() <= bank.account_requests() * 100
    heartbeat.stop()

    assert bank.account_requests() == 5
    assert bank.max_active == 1
    assert model.rowCount() == 500 < N_ACCOUNTS
    # The view painted from the loaded rows only, each call a dictionary-and-list lookup.
    assert len(model.durations) > 500
    assert max(model.durations) < 0.05
    assert sorted(model.durations)[len(model.durations) // 2] < 0.001
    last = view.rowAt(view.viewport().height() - 1)
    assert 0 < last < model.rowCount()
    bank_client.close()


def test_superseded_query_answer_is_dropped(qtbot: Any) -> None:
    """A new query made while the old one is on the wire waits for it, then wins."""
    bank = SyntheticBank(delay=0.3)
    bank_client = synthetic_client(bank)
    model = AccountsModel(bank_client)
    loading: list[bool] = []
    model.loading_changed.connect(loading.append)
    totals: list[int] = []
    model.total_changed.connect(totals.append)
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append(last - first + 1))

    model.set_query()
    model.set_query(q="ignored-by-synthetic-bank", sort="balance", order="desc")
    assert model.loading
    assert bank.account_requests() <= 1
    qtbot.waitUntil(lambda: bank.account_requests() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT_MS)
    assert [account.id for account in model.items()] == ids_by_balance()[::-1][:100]
    assert bank.requests[1]["sort"] == "balance"
    assert bank.requests[1]["q"]
    assert inserted == [100]
    assert totals == [N_ACCOUNTS]
    assert loading == [True, False]
    assert bank.max_active == 1
    bank_client.close()


@pytest.mark.parametrize(("failure", "error_type"), [("503", ApiError), ("connect", NetworkError)])
def test_failed_load_is_reported_and_leaves_the_model_consistent(
    qtbot: Any, qtmodeltester: Any, failure: str, error_type: type[Exception]
) -> None:
    """A failed first or next page emits load_failed; rows stay; refresh() recovers."""
    bank = SyntheticBank(n=250)
    bank_client = synthetic_client(bank)
    model = AccountsModel(bank_client, page_size=100)
    # The tester fetches more after each insertion, so it walks the pages by itself.
    qtmodeltester.check(model, force_py=True)
    loading: list[bool] = []
    model.loading_changed.connect(loading.append)

    bank.fail = failure
    with qtbot.waitSignal(model.load_failed, timeout=WAIT_MS) as failed:
        model.set_query()
    error = failed.args[0]
    assert isinstance(error, error_type)
    assert model.error is error
    if isinstance(error, ApiError):
        assert (error.status, error.code) == (503, "service_unavailable")
    assert model.rowCount() == 0
    assert model.total is None
    assert not model.loading
    assert not model.canFetchMore(ROOT)  # a view does not hammer a failing server
    model.fetchMore(ROOT)
    assert not model.loading
    assert bank.account_requests() == 1
    assert loading == [True, False]

    # The first page of the next load arrives, the second fails: the first page stays.
    bank.fail_from = bank.account_requests() + 2
    with qtbot.waitSignal(model.load_failed, timeout=WAIT_MS) as failed:
        model.refresh()
    assert isinstance(failed.args[0], error_type)
    assert model.rowCount() == 100
    assert model.total == 250
    assert not model.loading
    assert [account.id for account in model.items()] == list(range(1, 101))
    assert cell(model, 99, AccountsModel.Column.NUMBER) == account_number(100)
    assert not model.canFetchMore(ROOT)
    assert bank.account_requests() == 3

    bank.fail = None
    model.refresh()
    qtbot.waitUntil(lambda: model.rowCount() == 250 and not model.loading, timeout=WAIT_MS)
    assert model.error is None
    assert not model.canFetchMore(ROOT)
    assert [account.id for account in model.items()] == list(range(1, 251))
    assert bank.max_active == 1
    bank_client.close()


def test_a_deleted_model_ignores_a_late_answer(qtbot: Any) -> None:
    """A model deleted while its page is on the wire is left alone when the page arrives."""
    bank = SyntheticBank(n=250, delay=0.2)
    bank_client = synthetic_client(bank)
    model = AccountsModel(bank_client)
    model.set_query()
    qtbot.waitUntil(lambda: bank.account_requests() == 1, timeout=WAIT_MS)
    shiboken6.delete(model)
    assert not shiboken6.isValid(model)
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)
    bank_client.close()


class CappedBank(SyntheticBank):
    """A bank whose server lowered MAX_PAGE_SIZE: it serves at most `cap` rows a page."""

    def __init__(self, n: int, cap: int) -> None:
        super().__init__(n=n)
        self.cap = cap

    def page(self, params: httpx.QueryParams) -> dict[str, Any]:
        asked = int(params.get("limit", 50))
        return super().page(params.merge({"limit": min(asked, self.cap)}))


def test_a_server_serving_smaller_pages_is_paged_by_what_it_served(qtbot: Any) -> None:
    """Asked for 200, served 30: the model neither stops early nor skips rows."""
    bank = CappedBank(n=95, cap=30)
    bank_client = synthetic_client(bank)
    model = AccountsModel(bank_client, page_size=200)
    settle(qtbot, model, model.set_query)
    assert model.rowCount() == 30
    assert model.total == 95
    assert model.canFetchMore(ROOT)
    load_all(qtbot, model)
    assert [account.id for account in model.items()] == list(range(1, 96))
    assert [r["limit"] for r in bank.requests] == ["200", "30", "30", "30"]
    assert [r["skip"] for r in bank.requests] == ["0", "30", "60", "90"]
    bank_client.close()
