"""An account's history: paged ledger entries, and statements as CSV or PDF, streamed."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.documents import Account
from server.errors import DomainError
from server.services.accounts import visible_account
from server.services.context import Ctx
from server.services.ledger import store
from server.services.ledger.posting import dec, transaction_public
from server.services.views import ListParams
from shared.errors import ErrorCode
from shared.money import format_money, to_cents_str
from shared.schemas.common import Page, SortOrder, iso_utc_ms, now_ms
from shared.schemas.transactions import TransactionPublic, TransactionType

# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 200
# PDFs render on threads of their own, this many at a time: however many statements are
# asked for, the default executor (password hashing, file work) keeps its threads.
PDF_WORKERS = 2
_pdf_executor = ThreadPoolExecutor(max_workers=PDF_WORKERS, thread_name_prefix="statement-pdf")
DAY_SECONDS = 86400


def _to_ms(moment: datetime | None) -> datetime | None:
    """Return a window edge in UTC, rounded up to the millisecond the ledger keeps.

    Legs are stored at whole milliseconds and BSON would truncate a finer edge, which
    would take in a leg at .123 for `since=.1235` (it is before it) and leave it out for
    `until=.1235` (it is before it, so inside). Rounding up keeps both comparisons exact.
    UTC, so that a statement's period and file name do not depend on the caller's offset.
    """
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    if moment.microsecond % 1000 == 0:
        return moment
    whole = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return whole + timedelta(milliseconds=1)


class _Legs:
    """One account's legs, read a page at a time and kept for this request."""

    def __init__(self, code: str, count: int) -> None:
        self.code = code
        self.count = count
        self._pages: dict[int, list[dict[str, Any]]] = {}

    async def at(self, seq: int) -> dict[str, Any]:
        page = store.page_number(seq)
        if page not in self._pages:
            first = page * store.PAGE_SIZE + 1
            self._pages[page] = await store.read(self.code, first, first + store.PAGE_SIZE - 1)
        return self._pages[page][(seq - 1) % store.PAGE_SIZE]

    async def first_at_or_after(self, moment: datetime) -> int:
        """Return the first seq created at or after `moment` (count + 1 when none is)."""
        lo, hi = 1, self.count + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if (await self.at(mid))["created_at"] >= moment:
                hi = mid
            else:
                lo = mid + 1
        return lo


async def seq_window(
    code: str, count: int, since: datetime | None, until: datetime | None
) -> tuple[int, int, _Legs]:
    """Return the seqs `first..last` of the legs inside [since, until) (legs are in time order)."""
    legs = _Legs(code, count)
    first = await legs.first_at_or_after(since) if since is not None else 1
    last = (await legs.first_at_or_after(until)) - 1 if until is not None else count
    return first, last, legs


async def list_transactions(
    ctx: Ctx,
    account_id: int,
    params: ListParams,
    *,
    since: datetime | None,
    until: datetime | None,
    kind: TransactionType | None,
) -> Page[TransactionPublic]:
    """Return one page of an account's history (newest first unless asked otherwise).

    The page's legs are read by position from the account's leg count: the cost is the
    page's, whatever the size of the ledger. A `type` filter or an `amount` sort reads the
    account's legs in the window (its own size, not the bank's).
    """
    account = await visible_account(ctx, account_id)
    first, last, _legs = await seq_window(
        account.number, account.entry_seq, _to_ms(since), _to_ms(until)
    )
    newest_first = params.order is SortOrder.DESC
    if kind is None and params.sort in ("id", "created_at"):
        total = max(0, last - first + 1)
        if newest_first:
            top = last - params.skip
            low = max(first, top - params.limit + 1)
            rows = list(reversed(await store.read(account.number, low, top)))
        else:
            low = first + params.skip
            rows = await store.read(account.number, low, min(last, low + params.limit - 1))
        items = [transaction_public(leg) for leg in rows]
        return Page[TransactionPublic](
            items=items, total=total, skip=params.skip, limit=params.limit
        )
    window = [leg async for leg in store.iterate(account.number, first, last)]
    if kind is not None:
        window = [leg for leg in window if leg.get("type") == kind.value]
    if params.sort == "amount":
        window.sort(key=lambda leg: (dec(leg["amount"]), leg["seq"]), reverse=newest_first)
    elif newest_first:
        window.reverse()
    chosen = window[params.skip : params.skip + params.limit]
    return Page[TransactionPublic](
        items=[transaction_public(leg) for leg in chosen], total=len(window),
        skip=params.skip, limit=params.limit,
    )  # fmt: skip


@dataclass(frozen=True)
class StatementHead:
    """What a statement says before and after its lines."""

    account: Account
    since: datetime | None
    until: datetime
    opening: Decimal
    closing: Decimal
    count: int
    first_seq: int
    last_seq: int  # the rows end here, so they always add up to `closing`


async def statement_head(
    ctx: Ctx,
    account_id: int,
    since: datetime | None,
    until: datetime | None,
    *,
    max_rows: int | None = None,
    max_days: int | None = None,
) -> StatementHead:
    """Read the account, the opening and closing balances and the number of lines.

    A period (from `since`, or the account's opening, to `until`, or now) longer than
    `max_days`, or holding more than `max_rows` lines, answers 422 `statement_too_large`
    with both caps, the lines and the days in `context`, before any line is read.
    """
    account = await visible_account(ctx, account_id)
    since, end = _to_ms(since), _to_ms(until) or now_ms()
    first, last, legs = await seq_window(account.number, account.entry_seq, since, end)
    count = max(0, last - first + 1)
    seconds = (end - (since or account.created_at.astimezone(UTC))).total_seconds()
    too_long = max_days is not None and seconds > max_days * DAY_SECONDS
    if too_long or (max_rows is not None and count > max_rows):
        raise DomainError(
            ErrorCode.STATEMENT_TOO_LARGE,
            f"a statement covers at most {max_rows} lines and {max_days} days; "
            "ask for a shorter period with since and until",
            max_rows=max_rows, max_days=max_days, rows=count,
            days=max(0, math.ceil(seconds / DAY_SECONDS)),
        )  # fmt: skip
    opening = dec((await legs.at(first - 1))["balance_after"]) if first > 1 else Decimal("0.00")
    closing = dec((await legs.at(last))["balance_after"]) if last >= first else opening
    return StatementHead(account, since, end, opening, closing, count, first, last)


def _signed(leg: dict[str, Any]) -> Decimal:
    amount = dec(leg["amount"])
    return amount if leg.get("direction") == "credit" else -amount


async def _entries(head: StatementHead) -> AsyncIterator[dict[str, Any]]:
    async for leg in store.iterate(head.account.number, head.first_seq, head.last_seq):
        yield leg


def _text_cell(value: str | None) -> str:
    """Return free text for a CSV cell, so that no spreadsheet runs it as a formula.

    A payer chooses the description that the payee's statement shows; a leading quote
    keeps `=HYPERLINK(...)` and the like plain text.
    """
    text = value or ""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _period_text(head: StatementHead) -> tuple[str, str]:
    start = iso_utc_ms(head.since) if head.since else iso_utc_ms(head.account.created_at)
    return start, iso_utc_ms(head.until)


def _readable(moment: datetime) -> str:
    """Return a period's end for people: "29 Nov 2026, 10:15:07 UTC" (minutes when whole)."""
    moment = moment.astimezone(UTC)
    clock = "%H:%M" if moment.second == 0 and moment.microsecond == 0 else "%H:%M:%S"
    return moment.strftime(f"%d %b %Y, {clock} UTC")


def _readable_period(head: StatementHead) -> str:
    start = head.since or head.account.created_at
    return f"{_readable(start)}  to  {_readable(head.until)}"


async def csv_lines(head: StatementHead) -> AsyncIterator[bytes]:
    """Stream a CSV statement, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    start, end = _period_text(head)
    account = head.account
    writer.writerows([
        ["Statement", "Bank System"], ["Holder", _text_cell(account.owner_name)],
        ["Account", account.number], ["Currency", account.currency],
        ["Period start", start], ["Period end", end],
        ["Opening balance", to_cents_str(head.opening)], [],
        ["id", "date", "type", "description", "counterparty", "amount", "balance_after",
         "reverses", "reversed_by"],
    ])  # fmt: skip
    rows = 0
    async for leg in _entries(head):
        writer.writerow([
            leg["transaction_id"], iso_utc_ms(leg["created_at"]), leg["type"],
            _text_cell(leg.get("description")), leg.get("counterparty_number") or "",
            to_cents_str(_signed(leg)), to_cents_str(dec(leg["balance_after"])),
            leg.get("reverses_id") or "", leg.get("reversed_by") or "",
        ])  # fmt: skip
        rows += 1
        if rows % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows([[], ["Closing balance", to_cents_str(head.closing)]])
    yield buffer.getvalue().encode()


def _render_pdf(head: StatementHead, entries: list[dict[str, Any]]) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    account = head.account
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(f"Statement {account.number}")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Account statement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        ("Holder", account.owner_name), ("Account", account.number),
        ("Currency", account.currency), ("Period", _readable_period(head)),
        ("Opening balance", format_money(head.opening, account.currency)),
    ):  # fmt: skip
        pdf.cell(40, 6, label)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=8)
    heading = FontFace(emphasis="BOLD", fill_color=(230, 234, 240))
    widths = (13, 31, 17, 46, 21, 19, 19, 12, 12)
    aligns = ("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
    with pdf.table(col_widths=widths, text_align=aligns, headings_style=heading) as table:
        # A reversal names the line it reverses, and a reversed line its reversal.
        table.row(["Id", "Date (UTC)", "Type", "Description", "Counterparty", "Amount",
                   "Balance", "Reverses", "Reversed by"])  # fmt: skip
        for leg in entries:
            table.row([
                str(leg["transaction_id"]), iso_utc_ms(leg["created_at"])[:19].replace("T", " "),
                str(leg["type"]).replace("_", " "), _latin1(leg.get("description") or ""),
                leg.get("counterparty_number") or "", format_money(_signed(leg)),
                format_money(dec(leg["balance_after"])), str(leg.get("reverses_id") or ""),
                str(leg.get("reversed_by") or ""),
            ])  # fmt: skip
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(40, 6, "Closing balance")
    pdf.cell(0, 6, format_money(head.closing, account.currency), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    # The core PDF fonts cover Latin-1; anything else shows as '?' rather than failing.
    return text.encode("latin-1", "replace").decode("latin-1")


async def pdf_bytes(head: StatementHead) -> AsyncIterator[bytes]:
    """Render the PDF off the event loop, on the statements' own threads, and stream it."""
    entries = [entry async for entry in _entries(head)]
    loop = asyncio.get_running_loop()
    document = await loop.run_in_executor(_pdf_executor, _render_pdf, head, entries)
    for offset in range(0, len(document), 64 * 1024):
        yield document[offset : offset + 64 * 1024]
