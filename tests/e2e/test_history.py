"""An account's history over HTTP: paged transactions and CSV/PDF statements.

The module builds one account with every kind of entry, a few milliseconds apart, and checks
the list's paging, sorting, filters and time windows against the full ledger, then the
statements (CSV read with the csv module, PDF text read out of its zlib streams) against the
same list.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support import Api, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

PAGE_KEYS = {"items", "total", "skip", "limit"}
TRANSACTION_KEYS = {
    "id", "account_id", "type", "amount", "balance_after", "description", "transfer_id",
    "counterparty_number", "performed_by", "created_at", "direction", "business_date",
    "journal_id", "session_id", "approval_id", "reversed_by", "reverses_id", "forced",
}  # fmt: skip
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
TYPES = ("deposit", "withdrawal", "transfer_in", "transfer_out")
CREDITS = {"deposit", "transfer_in"}
HOLDER = "Grace Brewster Hopper"
CSV_HEADER = ["id", "date", "type", "description", "counterparty", "amount", "balance_after",
              "reverses", "reversed_by"]  # fmt: skip
ZERO = Decimal("0.00")


# ---------------------------------------------------------------- helpers


def ts(text: str) -> datetime:
    """Parse an API timestamp."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def iso_z(moment: datetime) -> str:
    """Format a moment as the API does (UTC, milliseconds, Z)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def in_zone(moment: datetime, hours: int, minutes: int = 0) -> str:
    """Spell a moment with another UTC offset, milliseconds kept."""
    zone = timezone(timedelta(hours=hours, minutes=minutes))
    return moment.astimezone(zone).isoformat(timespec="milliseconds")


def history(api: Api, account_id: int, **params: Any) -> httpx.Response:
    """GET an account's transactions."""
    return api.get(f"/accounts/{account_id}/transactions", params=params)


def page(api: Api, account_id: int, **params: Any) -> dict[str, Any]:
    """Return one page of an account's transactions, asserting its shape."""
    body = expect(history(api, account_id, **params), 200)
    assert set(body) == PAGE_KEYS
    assert len(body["items"]) <= body["limit"]
    return dict(body)


def ids(items: list[dict[str, Any]]) -> list[int]:
    """Return the ids of a list of transactions."""
    return [int(item["id"]) for item in items]


def all_pages(api: Api, account_id: int, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Page through a whole list with a given page size."""
    items: list[dict[str, Any]] = []
    skip = 0
    while True:
        body = page(api, account_id, skip=skip, limit=limit, **params)
        assert body["skip"] == skip
        assert body["limit"] == limit
        items += body["items"]
        skip += limit
        if skip >= body["total"]:
            assert len(items) == body["total"]
            return items


def signed(tx: dict[str, Any]) -> str:
    """Return a transaction's amount with a minus sign for money going out."""
    return tx["amount"] if tx["type"] in CREDITS else f"-{tx['amount']}"


def statement(api: Api, account_id: int, **params: Any) -> httpx.Response:
    """GET an account's statement."""
    return api.get(f"/accounts/{account_id}/statement", params=params)


def read_csv(response: httpx.Response) -> dict[str, Any]:
    """Parse a CSV statement into its labelled header lines, its rows and its closing line."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    header_at = rows.index(CSV_HEADER)
    labels = {row[0]: row[1] for row in rows[:header_at] if len(row) == 2}
    body = rows[header_at + 1 :]
    closing = [row for row in body if row and row[0] == "Closing balance"]
    assert len(closing) == 1, body[-3:]
    end = body.index(closing[0])
    lines = [row for row in body[:end] if row]
    assert all(len(row) == len(CSV_HEADER) for row in lines), lines
    assert not [row for row in body[end + 1 :] if row], "nothing follows the closing balance"
    return {"labels": labels, "lines": lines, "closing": closing[0][1]}


def csv_line(tx: dict[str, Any]) -> list[str]:
    """Return the CSV row a statement must show for a transaction."""
    return [
        str(tx["id"]), tx["created_at"], tx["type"], tx["description"] or "",
        tx["counterparty_number"] or "", signed(tx), tx["balance_after"],
        str(tx.get("reverses_id") or ""), str(tx.get("reversed_by") or ""),
    ]  # fmt: skip


def pdf_text(document: bytes) -> str:
    """Return the text shown by a PDF's page streams (fpdf2: zlib streams, `(..) Tj`)."""
    chunks: list[str] = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", document, re.S):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        for shown in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            raw = re.sub(rb"\\([()\\])", rb"\1", shown.group(1))
            chunks.append(raw.decode("latin-1"))
    return "\n".join(chunks)


def table_ids(text: str) -> set[int]:
    """Return the numbers a PDF shows as whole text chunks (the id column), not 10-digit numbers."""
    return {int(chunk) for chunk in text.split("\n") if chunk.isdigit() and len(chunk) < 10}


def money(value: str | Decimal, currency: str | None = None) -> str:
    """Format money as a statement shows it to people: 1,234.50 USD."""
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}" if currency else text


def disposition_name(response: httpx.Response) -> str:
    """Return the file name of an attachment answer."""
    match = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert match, response.headers["content-disposition"]
    return match.group(1)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def owner(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """The account holder."""
    return make_user("user", full_name=HOLDER)


@pytest.fixture(scope="module")
def stranger(make_user: MakeUser) -> tuple[dict[str, Any], Api]:
    """Another customer, who must not see the holder's history."""
    return make_user("user")


@pytest.fixture(scope="module")
def peer(stranger: tuple[dict[str, Any], Api], open_account: OpenAccount) -> dict[str, Any]:
    """The stranger's account, the other side of the holder's transfers."""
    return open_account(stranger[0]["id"], deposit="500.00")


@pytest.fixture(scope="module")
def account(
    owner: tuple[dict[str, Any], Api], peer: dict[str, Any], open_account: OpenAccount, admin: Api
) -> dict[str, Any]:
    """The holder's account with every kind of entry, each in its own millisecond."""
    opened = open_account(owner[0]["id"])
    steps: list[tuple[str, str, str | None]] = [
        ("deposit", "1000.00", "salary"),
        ("withdraw", "120.50", "cash at the branch"),
        ("out", "200.00", "rent, March"),
        ("in", "75.25", "refund"),
        ("deposit", "10.00", None),
        ("withdraw", "0.01", None),
        ("out", "33.33", 'quoted "text"'),
        ("deposit", "999.99", "bonus"),
        ("in", "10.00", None),
        ("withdraw", "75.25", "same as the refund"),
    ]
    for kind, amount, description in steps:
        body: dict[str, Any] = {"amount": amount}
        if description is not None:
            body["description"] = description
        if kind in ("deposit", "withdraw"):
            expect(admin.post(f"/accounts/{opened['id']}/{kind}", json=body), 201)
        else:
            ends = (opened["id"], peer["id"]) if kind == "out" else (peer["id"], opened["id"])
            transfer = {"from_account_id": ends[0], "to_account_id": ends[1], **body}
            expect(admin.post("/transfers", json=transfer), 201)
        time.sleep(0.005)
    return dict(expect(admin.get(f"/accounts/{opened['id']}"), 200))


@pytest.fixture(scope="module")
def entries(admin: Api, account: dict[str, Any]) -> list[dict[str, Any]]:
    """The account's whole ledger, oldest first, as the API lists it."""
    body = page(admin, account["id"], order="asc", limit=200)
    items: list[dict[str, Any]] = body["items"]
    assert body["total"] == len(items) == 10
    return items


def test_fixture_history_is_what_was_done(
    entries: list[dict[str, Any]], account: dict[str, Any], peer: dict[str, Any]
) -> None:
    assert [e["type"] for e in entries] == [
        "deposit", "withdrawal", "transfer_out", "transfer_in", "deposit", "withdrawal",
        "transfer_out", "deposit", "transfer_in", "withdrawal",
    ]  # fmt: skip
    running = ZERO
    for entry in entries:
        assert set(entry) == TRANSACTION_KEYS
        assert entry["account_id"] == account["id"]
        assert TIMESTAMP.fullmatch(entry["created_at"]), entry["created_at"]
        running += Decimal(signed(entry))
        assert entry["balance_after"] == f"{running:.2f}"
        if entry["type"].startswith("transfer"):
            assert entry["counterparty_number"] == peer["number"]
            assert isinstance(entry["transfer_id"], int)
        else:
            assert entry["counterparty_number"] is None
            assert entry["transfer_id"] is None
    assert account["balance"] == f"{running:.2f}" == "1666.15"
    moments = [ts(e["created_at"]) for e in entries]
    assert moments == sorted(moments)
    assert len(set(moments)) == len(moments), "each entry has its own millisecond"


# ---------------------------------------------------------------- the list: shape and order


def test_default_page_is_newest_first(
    owner: tuple[dict[str, Any], Api], account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    body = page(owner[1], account["id"])
    assert body["total"] == len(entries)
    assert body["skip"] == 0
    assert body["limit"] == 50
    assert ids(body["items"]) == sorted(ids(entries), reverse=True)
    assert body["items"] == list(reversed(entries))


def test_order_asc_is_oldest_first(
    owner: tuple[dict[str, Any], Api], account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    body = page(owner[1], account["id"], order="asc")
    assert body["items"] == entries
    assert ids(body["items"]) == sorted(ids(entries))
    desc = page(owner[1], account["id"], order="desc", sort="id")
    assert desc["items"] == list(reversed(entries))


def sort_key(field: str) -> Callable[[dict[str, Any]], Any]:
    """Return how a sort field compares."""
    if field == "amount":
        return lambda tx: Decimal(tx["amount"])
    if field == "created_at":
        return lambda tx: ts(tx["created_at"])
    return lambda tx: int(tx["id"])


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("field", ["id", "created_at", "amount"])
def test_sort_fields(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]], field: str, order: str
) -> None:
    body = page(admin, account["id"], sort=field, order=order)
    items = body["items"]
    assert body["total"] == len(entries)
    assert sorted(ids(items)) == sorted(ids(entries))
    keys = [sort_key(field)(tx) for tx in items]
    assert keys == sorted(keys, reverse=order == "desc"), keys
    # Pages of three line up with the single page: a stable order, even with equal amounts.
    assert all_pages(admin, account["id"], 3, sort=field, order=order) == items


def test_amount_sort_puts_the_extremes_at_the_ends(admin: Api, account: dict[str, Any]) -> None:
    asc = page(admin, account["id"], sort="amount", order="asc")["items"]
    desc = page(admin, account["id"], sort="amount", order="desc")["items"]
    # Numeric, not text order: "0.01" < "10.00" < "999.99" < "1000.00".
    assert asc[0]["amount"] == "0.01"
    assert desc[0]["amount"] == "1000.00"
    assert [tx["amount"] for tx in desc[:2]] == ["1000.00", "999.99"]


def test_skip_and_limit_page_through_with_totals(
    teller: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    n = len(entries)
    body = page(teller, account["id"], order="asc", skip=2, limit=3)
    assert (body["skip"], body["limit"], body["total"]) == (2, 3, n)
    assert body["items"] == entries[2:5]
    tail = page(teller, account["id"], order="asc", skip=n - 1, limit=200)
    assert (tail["skip"], tail["limit"], tail["total"]) == (n - 1, 200, n)
    assert tail["items"] == entries[-1:]
    beyond = page(teller, account["id"], skip=n + 5, limit=1)
    assert beyond["items"] == []
    assert beyond["total"] == n
    newest_two = page(teller, account["id"], limit=2)
    assert newest_two["items"] == [entries[-1], entries[-2]]
    assert all_pages(teller, account["id"], 4, order="asc") == entries
    assert all_pages(teller, account["id"], 1) == list(reversed(entries))


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": -1},
        {"limit": "ten"},
        {"skip": -1},
        {"skip": "x"},
        {"sort": "balance"},
        {"sort": "seq"},
        {"sort": "balance_after"},
        {"sort": ""},
        {"order": "up"},
        {"order": "ASCENDING"},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_bad_list_parameters_answer_422(
    admin: Api, account: dict[str, Any], params: dict[str, Any]
) -> None:
    body = expect(history(admin, account["id"], **params), 422, "validation_error")
    assert isinstance(body["detail"], list)
    assert body["detail"]


def test_limit_bounds_are_inclusive(admin: Api, account: dict[str, Any]) -> None:
    assert page(admin, account["id"], limit=1)["limit"] == 1
    assert page(admin, account["id"], limit=200)["limit"] == 200


# ---------------------------------------------------------------- the list: filters


@pytest.mark.parametrize("kind", TYPES)
def test_type_filter(
    owner: tuple[dict[str, Any], Api],
    account: dict[str, Any],
    entries: list[dict[str, Any]],
    kind: str,
) -> None:
    expected = [e for e in entries if e["type"] == kind]
    assert len(expected) >= 2
    body = page(owner[1], account["id"], type=kind, order="asc")
    assert body["total"] == len(expected)
    assert body["items"] == expected
    one = page(owner[1], account["id"], type=kind, limit=1)
    assert one["total"] == len(expected)
    assert one["items"] == [expected[-1]]


@pytest.mark.parametrize("kind", ["refund", "DEPOSIT", "transfer", "", "deposit,withdrawal"])
def test_bad_type_answers_422(admin: Api, account: dict[str, Any], kind: str) -> None:
    expect(history(admin, account["id"], type=kind), 422, "validation_error")


def test_since_is_inclusive_and_until_exclusive(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    for k in (0, 3, len(entries) - 1):
        at = entries[k]["created_at"]
        since = page(admin, account["id"], since=at, order="asc")
        assert since["items"] == entries[k:], k
        assert since["total"] == len(entries) - k
        until = page(admin, account["id"], until=at, order="asc")
        assert until["items"] == entries[:k], k
        assert until["total"] == k
    # A window [entry k, entry k+1) holds exactly entry k.
    first, second = entries[4]["created_at"], entries[5]["created_at"]
    assert page(admin, account["id"], since=first, until=second)["items"] == [entries[4]]
    # since == until is an empty window.
    empty = page(admin, account["id"], since=first, until=first)
    assert (empty["items"], empty["total"]) == ([], 0)
    # until before since: nothing, and no error.
    backwards = page(admin, account["id"], since=second, until=first)
    assert (backwards["items"], backwards["total"]) == ([], 0)


def test_time_window_combines_with_type_and_paging(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    since, until = entries[1]["created_at"], entries[8]["created_at"]
    expected = [e for e in entries[1:8] if e["type"] == "withdrawal"]
    assert len(expected) == 2
    body = page(admin, account["id"], since=since, until=until, type="withdrawal", order="asc")
    assert body["items"] == expected
    assert body["total"] == 2
    window = entries[1:8]
    second_page = page(admin, account["id"], since=since, until=until, skip=3, limit=3)
    assert second_page["total"] == len(window)
    assert second_page["items"] == list(reversed(window))[3:6]


def test_window_edges_are_exact_to_the_millisecond(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    k = 5
    entry, at = entries[k], ts(entries[k]["created_at"])
    one_ms = timedelta(milliseconds=1)

    def window(**params: datetime) -> list[int]:
        text = {name: value.isoformat() for name, value in params.items()}
        return ids(page(admin, account["id"], order="asc", **text)["items"])

    assert entry["id"] in window(since=at)
    assert entry["id"] not in window(since=at + one_ms)
    assert entry["id"] in window(until=at + one_ms)
    assert entry["id"] not in window(until=at)
    assert window(since=at, until=at + one_ms) == [entry["id"]]
    # Finer than a millisecond: the entry (stored at .xxx000) is before .xxx500, so a window
    # starting there leaves it out and one ending there keeps it.
    half = timedelta(microseconds=500)
    assert entry["id"] not in window(since=at + half)
    assert entry["id"] in window(until=at + half)
    assert entry["id"] not in window(since=at + timedelta(microseconds=1))
    assert entry["id"] in window(until=at + timedelta(microseconds=1))


@pytest.mark.parametrize(("hours", "minutes"), [(2, 0), (-5, -30), (14, 0), (0, 0)])
def test_offsets_other_than_z_mean_the_same_moment(
    admin: Api,
    account: dict[str, Any],
    entries: list[dict[str, Any]],
    hours: int,
    minutes: int,
) -> None:
    since, until = ts(entries[2]["created_at"]), ts(entries[7]["created_at"])
    spelled = {"since": in_zone(since, hours, minutes), "until": in_zone(until, hours, minutes)}
    assert ts(spelled["since"]) == since
    body = page(admin, account["id"], order="asc", **spelled)
    assert body["items"] == entries[2:7]
    assert page(admin, account["id"], order="asc", since=spelled["since"])["items"] == entries[2:]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    "value",
    ["2026-01-01T00:00:00", "2026-01-01T00:00:00.000", "2026-01-01 10:00:00", "2026-01-01",
     "yesterday", "2026-13-01T00:00:00Z", ""],
)  # fmt: skip
def test_naive_or_bad_timestamps_answer_422(
    admin: Api, account: dict[str, Any], name: str, value: str
) -> None:
    expect(history(admin, account["id"], **{name: value}), 422, "validation_error")
    expect(statement(admin, account["id"], **{name: value}), 422, "validation_error")


# ---------------------------------------------------------------- who may read


@pytest.mark.parametrize("what", ["transactions", "statement", "statement?format=pdf"])
def test_owner_teller_and_admin_may_read(
    owner: tuple[dict[str, Any], Api],
    teller: Api,
    admin: Api,
    account: dict[str, Any],
    what: str,
) -> None:
    for api in (owner[1], teller, admin):
        response = api.get(f"/accounts/{account['id']}/{what}")
        assert response.status_code == 200, response.text
        if what == "transactions":
            assert response.json()["total"] == 10


@pytest.mark.parametrize("what", ["transactions", "statement", "statement?format=pdf"])
def test_others_get_404_and_anonymous_401(
    stranger: tuple[dict[str, Any], Api],
    anon: Api,
    admin: Api,
    account: dict[str, Any],
    peer: dict[str, Any],
    what: str,
) -> None:
    # The stranger's own account answers 200: their 404 below is about visibility.
    assert stranger[1].get(f"/accounts/{peer['id']}/{what}").status_code == 200
    body = expect(stranger[1].get(f"/accounts/{account['id']}/{what}"), 404, "not_found")
    assert str(account["number"]) not in str(body)
    expect(admin.get(f"/accounts/987654321/{what}"), 404, "not_found")
    expect(stranger[1].get(f"/accounts/987654321/{what}"), 404, "not_found")
    expect(anon.get(f"/accounts/{account['id']}/{what}"), 401, "not_authenticated")
    expect(anon.get(f"/accounts/987654321/{what}"), 401, "not_authenticated")


@pytest.mark.parametrize("account_id", ["0", "-1", "abc", str(2**63)])
def test_bad_account_ids(admin: Api, account_id: str) -> None:
    for what in ("transactions", "statement"):
        response = admin.get(f"/accounts/{account_id}/{what}")
        assert response.status_code in (404, 422), response.text
        assert response.json()["code"] in ("not_found", "validation_error")


# ---------------------------------------------------------------- CSV statements


def check_csv(
    parsed: dict[str, Any],
    account: dict[str, Any],
    period: list[dict[str, Any]],
    opening: str,
) -> None:
    """Check a parsed statement against the account and the transactions of its period."""
    labels = parsed["labels"]
    assert labels["Holder"] == HOLDER
    assert labels["Account"] == account["number"]
    assert labels["Currency"] == account["currency"] == "USD"
    assert labels["Opening balance"] == opening
    assert parsed["lines"] == [csv_line(tx) for tx in period]
    closing = period[-1]["balance_after"] if period else opening
    assert parsed["closing"] == closing
    # Every line's balance follows from the one before.
    running = Decimal(opening)
    for line in parsed["lines"]:
        running += Decimal(line[5])
        assert Decimal(line[6]) == running, line


def test_csv_statement_by_default(
    owner: tuple[dict[str, Any], Api], account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = statement(owner[1], account["id"])
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert response.headers["content-type"].startswith("text/csv")
    name = disposition_name(response)
    assert re.fullmatch(rf"statement-{account['number']}-\d{{8}}\.csv", name), name
    parsed = read_csv(response)
    check_csv(parsed, account, entries, "0.00")
    assert parsed["closing"] == account["balance"] == "1666.15"
    labels = parsed["labels"]
    assert labels["Period start"] == account["created_at"]
    assert TIMESTAMP.fullmatch(labels["Period end"])
    assert before <= ts(labels["Period end"]) <= after
    # The amounts are signed: money out is negative.
    amounts = {(line[2], line[5]) for line in parsed["lines"]}
    assert ("withdrawal", "-120.50") in amounts
    assert ("transfer_out", "-200.00") in amounts
    assert ("transfer_in", "75.25") in amounts
    assert ("deposit", "1000.00") in amounts


def test_csv_format_explicitly(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    response = statement(admin, account["id"], format="csv")
    assert disposition_name(response).endswith(".csv")
    check_csv(read_csv(response), account, entries, "0.00")


def test_csv_statement_of_a_period(
    teller: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    since, until = entries[3]["created_at"], entries[8]["created_at"]
    # Ask with another offset: the statement shows the period in UTC.
    response = statement(
        teller, account["id"], since=in_zone(ts(since), 2), until=in_zone(ts(until), -3)
    )
    parsed = read_csv(response)
    check_csv(parsed, account, entries[3:8], entries[2]["balance_after"])
    assert parsed["labels"]["Opening balance"] == "679.50"
    assert parsed["closing"] == entries[7]["balance_after"] == "1731.40"
    assert parsed["labels"]["Period start"] == since
    assert parsed["labels"]["Period end"] == until
    assert disposition_name(response) == (
        f"statement-{account['number']}-{ts(until).astimezone(UTC):%Y%m%d}.csv"
    )


def test_csv_statement_since_only_and_until_only(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    since = entries[6]["created_at"]
    parsed = read_csv(statement(admin, account["id"], since=since))
    check_csv(parsed, account, entries[6:], entries[5]["balance_after"])
    assert parsed["closing"] == account["balance"]
    until = entries[6]["created_at"]
    parsed = read_csv(statement(admin, account["id"], until=until))
    check_csv(parsed, account, entries[:6], "0.00")
    assert parsed["labels"]["Period start"] == account["created_at"]
    assert parsed["labels"]["Period end"] == until


def test_csv_statement_edges_are_exact_to_the_millisecond(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    at = ts(entries[4]["created_at"])
    later = (at + timedelta(microseconds=500)).isoformat()
    # Entry 4 lies before a period starting half a millisecond after it: it is in the opening.
    parsed = read_csv(statement(admin, account["id"], since=later))
    check_csv(parsed, account, entries[5:], entries[4]["balance_after"])
    parsed = read_csv(statement(admin, account["id"], until=later))
    check_csv(parsed, account, entries[:5], "0.00")


@pytest.mark.parametrize(
    ("since", "until", "opening"),
    [
        # Before the account existed.
        ("2001-01-01T00:00:00Z", "2002-01-01T00:00:00Z", "0.00"),
        # Long after the last entry: the period opens and closes at today's balance.
        ("2999-01-01T00:00:00Z", "2999-02-01T00:00:00Z", "1666.15"),
        ("2999-01-01T00:00:00+05:00", None, "1666.15"),
    ],
)
def test_csv_statement_of_an_empty_period(
    owner: tuple[dict[str, Any], Api],
    account: dict[str, Any],
    since: str,
    until: str | None,
    opening: str,
) -> None:
    params = {"since": since} | ({"until": until} if until else {})
    parsed = read_csv(statement(owner[1], account["id"], **params))
    check_csv(parsed, account, [], opening)
    assert parsed["closing"] == opening
    assert parsed["labels"]["Period start"] == iso_z(ts(since))


def test_csv_statement_of_a_window_between_two_entries(
    admin: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    at = entries[5]["created_at"]
    parsed = read_csv(statement(admin, account["id"], since=at, until=at))
    check_csv(parsed, account, [], entries[4]["balance_after"])


def test_csv_statement_of_an_account_without_entries(
    admin: Api, owner: tuple[dict[str, Any], Api], open_account: OpenAccount
) -> None:
    empty = open_account(owner[0]["id"], currency="EUR")
    response = statement(owner[1], empty["id"])
    parsed = read_csv(response)
    assert parsed["labels"]["Currency"] == "EUR"
    assert parsed["labels"]["Account"] == empty["number"]
    assert parsed["labels"]["Opening balance"] == "0.00"
    assert parsed["lines"] == []
    assert parsed["closing"] == "0.00"


def test_statement_of_the_other_side_of_a_transfer(
    stranger: tuple[dict[str, Any], Api], peer: dict[str, Any], account: dict[str, Any]
) -> None:
    mine = page(stranger[1], peer["id"], order="asc", limit=200)["items"]
    parsed = read_csv(statement(stranger[1], peer["id"]))
    assert parsed["labels"]["Holder"] == stranger[0]["full_name"]
    assert parsed["lines"] == [csv_line(tx) for tx in mine]
    transfers = [line for line in parsed["lines"] if line[2].startswith("transfer")]
    assert len(transfers) == 4
    assert {line[4] for line in transfers} == {account["number"]}


@pytest.mark.parametrize("fmt", ["xml", "CSV", "pdf ", "", "json"])
def test_unknown_format_answers_422(admin: Api, account: dict[str, Any], fmt: str) -> None:
    expect(statement(admin, account["id"], format=fmt), 422, "validation_error")


def test_csv_cells_never_start_a_spreadsheet_formula(
    make_user: MakeUser,
    owner: tuple[dict[str, Any], Api],
    stranger: tuple[dict[str, Any], Api],
    open_account: OpenAccount,
) -> None:
    """A payer writes the description the payee's statement shows: it must stay text."""
    target = open_account(owner[0]["id"])
    source = open_account(stranger[0]["id"], deposit="10.00")
    payloads = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "=1+1"]
    for text in payloads:
        transfer = {"from_account_id": source["id"], "to_account_id": target["id"],
                    "amount": "1.00", "description": text}  # fmt: skip
        expect(stranger[1].post("/transfers", json=transfer), 201)
    parsed = read_csv(statement(owner[1], target["id"]))
    descriptions = [line[3] for line in parsed["lines"]]
    assert len(descriptions) == len(payloads)
    for shown, text in zip(descriptions, payloads, strict=True):
        assert shown[0] not in "=+-@\t\r", shown
        assert shown.endswith(text)
    # Amounts stay numbers, negative ones included.
    out = read_csv(statement(stranger[1], source["id"]))
    assert [line[5] for line in out["lines"]] == ["10.00"] + ["-1.00"] * len(payloads)
    # The holder's name is free text too.
    user, api = make_user("user", full_name="=1+2 Formula")
    theirs = open_account(user["id"])
    holder = read_csv(statement(api, theirs["id"]))["labels"]["Holder"]
    assert holder[0] not in "=+-@\t\r"
    assert holder.endswith("=1+2 Formula")


# ---------------------------------------------------------------- PDF statements


def readable(iso: str) -> str:
    """Return how a PDF statement prints a period's end: "29 Nov 2026, 10:15:07 UTC"."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    clock = "%H:%M" if moment.second == 0 and moment.microsecond == 0 else "%H:%M:%S"
    return moment.strftime(f"%d %b %Y, {clock} UTC")


def test_pdf_statement(
    owner: tuple[dict[str, Any], Api], account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    response = statement(owner[1], account["id"], format="pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    name = disposition_name(response)
    assert re.fullmatch(rf"statement-{account['number']}-\d{{8}}\.pdf", name), name
    document = response.content
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")
    text = pdf_text(document)
    assert HOLDER in text
    assert account["number"] in text
    assert money("0.00", "USD") in text  # opening
    assert money("1666.15", "USD") in text  # closing
    for tx in entries:
        assert money(signed(tx)) in text, tx
        assert money(tx["balance_after"]) in text, tx
    assert "-1,000.00" not in text
    assert "1,000.00" in text
    assert "-120.50" in text


def test_pdf_statement_of_a_period(
    teller: Api, account: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    since, until = entries[3]["created_at"], entries[8]["created_at"]
    response = statement(teller, account["id"], since=since, until=until, format="pdf")
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert HOLDER in text
    assert account["number"] in text
    assert money("679.50", "USD") in text  # opening: the balance before `since`
    assert money("1731.40", "USD") in text  # closing: the last balance in the period
    # The period reads as dates and times, not as ISO timestamps.
    assert f"{readable(since)}  to  {readable(until)}" in text
    assert since not in text
    assert {int(tx["id"]) for tx in entries[3:8]} <= table_ids(text)
    # Entries outside the period are not lines of this statement.
    listed = table_ids(text)
    assert not listed & {int(tx["id"]) for tx in entries[:3] + entries[8:]}


def test_pdf_statement_of_an_empty_period(admin: Api, account: dict[str, Any]) -> None:
    response = statement(admin, account["id"], since="2999-01-01T00:00:00Z", format="pdf")
    assert response.status_code == 200, response.text
    text = pdf_text(response.content)
    assert HOLDER in text
    assert text.count(money("1666.15", "USD")) == 2  # opening and closing


# ---------------------------------------------------------------- a long statement


def test_a_long_statement_streams_every_line(
    admin: Api, owner: tuple[dict[str, Any], Api], open_account: OpenAccount
) -> None:
    long = open_account(owner[0]["id"])
    count = 201  # more than one chunk of 200 rows, not a multiple of it
    for i in range(count):
        kind = "withdraw" if i % 4 == 3 else "deposit"
        amount = f"{(i % 7) + 1}.{i % 100:02d}"
        expect(admin.post(f"/accounts/{long['id']}/{kind}", json={"amount": amount}), 201)
    listed = all_pages(admin, long["id"], 200, order="asc")
    assert len(listed) == count
    final = expect(admin.get(f"/accounts/{long['id']}"), 200)

    with admin.client.stream(
        "GET", f"/accounts/{long['id']}/statement", headers=admin.headers()
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "content-length" not in response.headers  # streamed, not buffered
        content = b"".join(response.iter_bytes())
    parsed = read_csv(httpx.Response(200, headers={"content-type": "text/csv"}, content=content))
    assert len(parsed["lines"]) == count
    assert parsed["lines"] == [csv_line(tx) for tx in listed]
    assert parsed["closing"] == final["balance"] == listed[-1]["balance_after"]
    assert len({line[0] for line in parsed["lines"]}) == count

    # A window in the middle of the long ledger, crossing a 100-leg page of the ledger.
    since, until = listed[90]["created_at"], listed[180]["created_at"]
    window = read_csv(statement(admin, long["id"], since=since, until=until))
    expected = [tx for tx in listed if ts(since) <= ts(tx["created_at"]) < ts(until)]
    assert window["lines"] == [csv_line(tx) for tx in expected]
    before = [tx for tx in listed if ts(tx["created_at"]) < ts(since)]
    assert window["labels"]["Opening balance"] == before[-1]["balance_after"]

    pdf = statement(admin, long["id"], format="pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", pdf.content)) > 1
    text = pdf_text(pdf.content)
    assert money(final["balance"], "USD") in text
    assert {int(tx["id"]) for tx in listed} <= table_ids(text)
