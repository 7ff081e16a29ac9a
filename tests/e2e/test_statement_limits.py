"""Statement limits (issue 11): a period or row cap per request (422 `statement_too_large`
with the caps in `context`), a per-user rate (429 `rate_limited`), and PDFs rendered on a
bounded executor of their own, so that statements cannot take every worker thread.

The module's server caps statements at a few rows (STATEMENT_MAX_ROWS) and a few requests a
minute (STATEMENT_RATE_PER_MINUTE), so both caps are reached in a handful of requests; the
period cap keeps its real default. Each test asks as a user of its own, so the per-user rate
of one test does not spend another's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from server.config import Settings
from server.services import history
from tests.ledger_checks import check_ledger
from tests.support import Api, expect, iso_ms

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]

MAX_ROWS = 5
RATE = 6
MAX_DAYS = Settings.model_fields["statement_max_days"].default
SERVER_ENV = {"STATEMENT_MAX_ROWS": str(MAX_ROWS), "STATEMENT_RATE_PER_MINUTE": str(RATE)}
CAP_FACTS = {"max_rows", "max_days", "rows", "days"}


def statement(api: Api, account_id: int, **params: Any) -> Any:
    """GET an account's statement."""
    return api.get(f"/accounts/{account_id}/statement", params=params)


def too_large(response: Any) -> dict[str, Any]:
    """Assert a 422 `statement_too_large` carrying both caps; return its context."""
    body = expect(response, 422, "statement_too_large")
    context = body["context"]
    assert set(context) >= CAP_FACTS, body
    assert context["max_rows"] == MAX_ROWS
    assert context["max_days"] == MAX_DAYS
    return dict(context)


@pytest.fixture
def customer(make_user: MakeUser, open_account: OpenAccount) -> tuple[Api, dict[str, Any]]:
    """A customer of their own (own statement rate) with an account holding two deposits."""
    user, api = make_user()
    account = open_account(user["id"], "10.00")
    return api, account


def test_the_defaults_are_the_issues_caps() -> None:
    fields = Settings.model_fields
    assert fields["statement_max_rows"].default == 5000
    assert fields["statement_max_days"].default == 366


def test_a_normal_statement_is_still_served(
    customer: tuple[Api, dict[str, Any]], mongo: Any
) -> None:
    api, account = customer
    response = statement(api, account["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert b"Closing balance,10.00" in response.content
    now = datetime.now(UTC)
    pdf = statement(api, account["id"], format="pdf", since=iso_ms(now - timedelta(days=MAX_DAYS)),
                    until=iso_ms(now))  # fmt: skip
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    check_ledger(mongo)


def test_a_period_longer_than_the_cap_answers_422_with_the_caps(
    customer: tuple[Api, dict[str, Any]],
) -> None:
    api, account = customer
    now = datetime.now(UTC)
    context = too_large(statement(api, account["id"], since=iso_ms(now - timedelta(days=400)),
                                  until=iso_ms(now)))  # fmt: skip
    assert context["days"] == 400
    assert context["rows"] == 1
    # A day past the cap into the future is refused as well; exactly the cap is served.
    too_large(statement(api, account["id"], since=iso_ms(now),
                        until=iso_ms(now + timedelta(days=MAX_DAYS, seconds=1))))  # fmt: skip
    edge = statement(api, account["id"], since=iso_ms(now - timedelta(days=MAX_DAYS)),
                     until=iso_ms(now))  # fmt: skip
    assert edge.status_code == 200, edge.text


def test_without_since_the_period_starts_at_the_accounts_opening(
    make_user: MakeUser, open_account: OpenAccount, mongo: Any
) -> None:
    user, api = make_user()
    account = open_account(user["id"])
    assert statement(api, account["id"]).status_code == 200
    # The same account opened 400 days ago: "everything" is now longer than the cap.
    opened = datetime.now(UTC) - timedelta(days=400)
    mongo.accounts.update_one({"_id": account["id"]}, {"$set": {"created_at": opened}})
    context = too_large(statement(api, account["id"]))
    assert context["days"] >= 400
    since = iso_ms(datetime.now(UTC) - timedelta(days=30))
    assert statement(api, account["id"], since=since).status_code == 200


def test_more_lines_than_the_cap_answers_422_and_a_shorter_window_is_served(
    make_user: MakeUser, open_account: OpenAccount, admin: Api, mongo: Any
) -> None:
    user, api = make_user()
    account = open_account(user["id"])
    made = [
        expect(admin.post(f"/accounts/{account['id']}/deposit", json={"amount": "1.00"}), 201)
        for _ in range(MAX_ROWS + 1)
    ]
    for fmt in ("csv", "pdf"):
        context = too_large(statement(api, account["id"], format=fmt))
        assert context["rows"] == MAX_ROWS + 1
    # Exactly the cap: from the second line on.
    window = statement(api, account["id"], since=made[1]["created_at"])
    assert window.status_code == 200, window.text
    assert b"Closing balance,6.00" in window.content
    check_ledger(mongo)


def test_statements_past_the_rate_answer_429_per_user(
    customer: tuple[Api, dict[str, Any]], make_user: MakeUser, open_account: OpenAccount
) -> None:
    api, account = customer
    for _ in range(RATE):
        assert statement(api, account["id"]).status_code == 200
    refused = statement(api, account["id"])
    body = expect(refused, 429, "rate_limited")
    assert body["context"]["retry_after"] >= 1
    assert int(refused.headers["Retry-After"]) >= 1
    # The same refusal for the PDF, and before the account is even looked at.
    expect(statement(api, account["id"], format="pdf"), 429, "rate_limited")
    expect(statement(api, 2**60), 429, "rate_limited")
    # Another user's statements are counted apart.
    other_user, other = make_user()
    theirs = open_account(other_user["id"])
    assert statement(other, theirs["id"]).status_code == 200


def test_pdfs_render_on_a_bounded_executor_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many PDFs at once render at most PDF_WORKERS at a time; the default pool stays free."""
    lock = threading.Lock()
    running = peak = 0

    def slow_render(_head: Any, _entries: list[dict[str, Any]]) -> bytes:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return b"%PDF-fake"

    async def no_entries(_head: Any) -> AsyncIterator[dict[str, Any]]:
        for entry in ():
            yield entry

    monkeypatch.setattr(history, "_render_pdf", slow_render)
    monkeypatch.setattr(history, "_entries", no_entries)
    head: Any = SimpleNamespace()

    async def render() -> bytes:
        return b"".join([chunk async for chunk in history.pdf_bytes(head)])

    async def main() -> float:
        renders = [asyncio.create_task(render()) for _ in range(8)]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await asyncio.to_thread(lambda: None)  # the default pool answers meanwhile
        waited = time.monotonic() - started
        assert await asyncio.gather(*renders) == [b"%PDF-fake"] * 8
        return waited

    waited = asyncio.run(main())
    assert 1 <= peak <= history.PDF_WORKERS
    assert waited < 0.15
