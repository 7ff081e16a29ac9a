"""An account's history: paged ledger entries, and statements as CSV or PDF, streamed."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.documents import Account, LedgerEntry
from server.services.accounts import visible_account
from server.services.context import Ctx
from server.services.views import ListParams, entry_public, from_raw
from shared.money import format_money, to_cents_str
from shared.schemas.common import Page, SortOrder, iso_utc_ms, now_ms
from shared.schemas.transactions import TransactionPublic, TransactionType

_SORT_FIELDS = {"id": "seq", "created_at": "created_at", "amount": "amount"}
_CREDITS = frozenset({TransactionType.DEPOSIT, TransactionType.TRANSFER_IN})
# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 200


def _ledger() -> Any:
    return LedgerEntry.get_pymongo_collection()


def _to_ms(moment: datetime | None) -> datetime | None:
    """Return a window edge in UTC, rounded up to the millisecond the ledger keeps.

    Entries are stored at whole milliseconds and BSON would truncate a finer edge, which
    would take in an entry at .123 for `since=.1235` (it is before it) and leave it out for
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


def _period(account_id: int, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    query: dict[str, Any] = {"account_id": account_id}
    window: dict[str, Any] = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lt"] = until
    if window:
        query["created_at"] = window
    return query


async def list_transactions(
    ctx: Ctx,
    account_id: int,
    params: ListParams,
    *,
    since: datetime | None,
    until: datetime | None,
    kind: TransactionType | None,
) -> Page[TransactionPublic]:
    """Return one page of an account's ledger (newest first unless asked otherwise)."""
    await visible_account(ctx, account_id)
    query = _period(account_id, _to_ms(since), _to_ms(until))
    if kind is not None:
        query["type"] = kind.value
    direction = 1 if params.order is SortOrder.ASC else -1
    field = _SORT_FIELDS[params.sort]
    sort = [(field, direction)] if field == "seq" else [(field, direction), ("seq", direction)]
    total = await _ledger().count_documents(query)
    cursor = _ledger().find(query).sort(sort).skip(params.skip).limit(params.limit)
    items = [entry_public(from_raw(LedgerEntry, raw)) async for raw in cursor]
    return Page[TransactionPublic](items=items, total=total, skip=params.skip, limit=params.limit)


@dataclass(frozen=True)
class StatementHead:
    """What a statement says before and after its lines."""

    account: Account
    since: datetime | None
    until: datetime
    opening: Decimal
    closing: Decimal
    count: int
    last_seq: int  # the rows end here, so they always add up to `closing`


async def statement_head(
    ctx: Ctx, account_id: int, since: datetime | None, until: datetime | None
) -> StatementHead:
    """Read the account, the opening and closing balances and the number of lines."""
    account = await visible_account(ctx, account_id)
    since, end = _to_ms(since), _to_ms(until) or now_ms()
    opening = Decimal("0.00")
    if since is not None:
        before = await _ledger().find_one(
            {"account_id": account_id, "created_at": {"$lt": since}}, sort=[("seq", -1)]
        )
        if before is not None:
            opening = before["balance_after"].to_decimal()
    query = _period(account_id, since, end)
    last = await _ledger().find_one(query, sort=[("seq", -1)])
    closing = last["balance_after"].to_decimal() if last is not None else opening
    last_seq = int(last["seq"]) if last is not None else 0
    count = await _ledger().count_documents({**query, "seq": {"$lte": last_seq}})
    return StatementHead(account, since, end, opening, closing, count, last_seq)


def _signed(entry: LedgerEntry) -> Decimal:
    return entry.amount if entry.type in _CREDITS else -entry.amount


async def _entries(head: StatementHead) -> AsyncIterator[LedgerEntry]:
    query = {**_period(head.account.id, head.since, head.until), "seq": {"$lte": head.last_seq}}
    cursor = _ledger().find(query).sort("seq", 1)
    async for raw in cursor.batch_size(CHUNK_ROWS):
        yield from_raw(LedgerEntry, raw)


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
        ["id", "date", "type", "description", "counterparty", "amount", "balance_after"],
    ])  # fmt: skip
    rows = 0
    async for entry in _entries(head):
        writer.writerow([
            entry.id, iso_utc_ms(entry.created_at), entry.type.value, _text_cell(entry.description),
            entry.counterparty_number or "", to_cents_str(_signed(entry)),
            to_cents_str(entry.balance_after),
        ])  # fmt: skip
        rows += 1
        if rows % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows([[], ["Closing balance", to_cents_str(head.closing)]])
    yield buffer.getvalue().encode()


def _render_pdf(head: StatementHead, entries: list[LedgerEntry]) -> bytes:
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
    widths = (14, 34, 22, 58, 22, 20, 20)
    aligns = ("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT")
    with pdf.table(col_widths=widths, text_align=aligns, headings_style=heading) as table:
        table.row(["Id", "Date (UTC)", "Type", "Description", "Counterparty", "Amount",
                   "Balance"])  # fmt: skip
        for entry in entries:
            table.row([
                str(entry.id), iso_utc_ms(entry.created_at)[:19].replace("T", " "),
                entry.type.value.replace("_", " "), _latin1(entry.description or ""),
                entry.counterparty_number or "", format_money(_signed(entry)),
                format_money(entry.balance_after),
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
    """Render the PDF off the event loop and stream it in chunks."""
    entries = [entry async for entry in _entries(head)]
    document = await asyncio.to_thread(_render_pdf, head, entries)
    for offset in range(0, len(document), 64 * 1024):
        yield document[offset : offset + 64 * 1024]
