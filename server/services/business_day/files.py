"""A closed day's report as a file a branch manager signs (PDF) or a spreadsheet reads (CSV).

Both render the stored report (they are not hashed) and print its `hash` and
`previous_hash`. The PDF's first page holds the totals and the signature line; the detail
follows on the next pages.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from shared.money import format_money

SECTIONS = ("trial_balance", "cash_position", "movements", "sessions", "reversals",
            "large_cash", "approvals", "vault_count")  # fmt: skip
ROW_KEYS = ("journal_id", "transaction_id", "account", "amount", "currency", "performed_by",
            "session_id")  # fmt: skip


def _money(value: Any, currency: str | None = None) -> str:
    return format_money(Decimal(str(value)), currency) if value is not None else ""


def _per_currency(value: dict[str, Any] | None) -> str:
    if not value:
        return ""
    return ", ".join(f"{_money(amount)} {currency}" for currency, amount in sorted(value.items()))


def csv_rows(report: dict[str, Any]) -> Iterator[list[Any]]:
    """Yield the CSV rows of a report, section by section."""
    yield ["Business day report", report["date"]]
    yield ["Closed at", report["closed_at"]]
    yield ["Closed by (user id)", report["closed_by"]]
    yield ["Hash", report["hash"]]
    yield ["Previous hash", report.get("previous_hash") or ""]
    yield []
    yield ["Trial balance"]
    yield ["currency", "account", "kind", "balance", "count", "debits", "credits", "balanced"]
    for currency, totals in sorted(report["trial_balance"].items()):
        for line in totals["accounts"]:
            yield [currency, line["account"], line["kind"], line["balance"],
                   "" if line.get("count") is None else line["count"], "", "", ""]  # fmt: skip
        yield [currency, "total", "", "", "", totals["debits"], totals["credits"],
               "yes" if totals["balanced"] else "NO"]  # fmt: skip
    yield []
    yield ["Cash position"]
    yield ["currency", "place", "till_id", "cash"]
    for currency, place in sorted(report["cash_position"].items()):
        yield [currency, "vault", "", place["vault"]]
        for till in place["tills"]:
            yield [currency, till["name"], till["till_id"], till["cash"]]
        yield [currency, "total", "", place["total"]]
    yield []
    yield ["Movements"]
    yield ["kind", "currency", "count", "sum"]
    for kind, by_currency in sorted(report["movements"].items()):
        for currency, figures in sorted(by_currency.items()):
            yield [kind, currency, figures["count"], figures["sum"]]
    yield []
    yield ["Sessions"]
    yield ["id", "till_id", "teller_id", "opening", "expected", "counted", "variance",
           "approval_id", "approved_by"]  # fmt: skip
    for item in report["sessions"]:
        yield [item["id"], item["till_id"], item["teller_id"], _per_currency(item["opening"]),
               _per_currency(item["expected"]), _per_currency(item["counted"]),
               _per_currency(item["variance"]), item.get("approval_id") or "",
               item.get("approved_by") or ""]  # fmt: skip
    for title, key in (("Reversals", "reversals"), ("Large cash", "large_cash")):
        yield []
        yield [title]
        yield list(ROW_KEYS)
        for row in report[key]:
            yield ["" if row.get(name) is None else row[name] for name in ROW_KEYS]
    yield []
    yield ["Approvals"]
    yield ["status", "count"]
    for status, count in report["approvals"].items():
        yield [status, count]
    yield []
    count = report.get("vault_count")
    yield ["Vault count", "none" if count is None else ""]
    if count is not None:
        for key in ("counted", "expected", "variance"):
            yield [key, _per_currency(count.get(key))]


def csv_bytes(report: dict[str, Any]) -> bytes:
    """Return the report as CSV (UTF-8)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(csv_rows(report))
    return buffer.getvalue().encode()


def _latin1(text: Any) -> str:
    # The core PDF fonts cover Latin-1; anything else shows as '?' rather than failing.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def user_ids(report: dict[str, Any]) -> set[int]:
    """Return every user the report names by id: who closed it, tellers, approvers, makers."""
    found = {report["closed_by"]}
    for session in report["sessions"]:
        found |= {session.get("teller_id"), session.get("approved_by")}
    for key in ("reversals", "large_cash"):
        found |= {row.get("performed_by") for row in report[key]}
    return {int(user) for user in found if user is not None}


def _render_pdf(report: dict[str, Any], bank_name: str, names: dict[int, str]) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(f"Business day {report['date']}")
    pdf.set_auto_page_break(auto=True, margin=15)
    heading = FontFace(emphasis="BOLD", fill_color=(230, 234, 240))

    def who(user: Any) -> str:
        """A person as the report's reader knows them: their username, else "user N"."""
        return "" if user is None else names.get(int(user)) or f"user {user}"

    def title(text: str, size: int = 12) -> None:
        pdf.set_font("Helvetica", "B", size)
        pdf.cell(0, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)

    def table(widths: tuple[int, ...], head: list[str], rows: list[list[Any]]) -> None:
        pdf.set_font("Helvetica", size=8)
        with pdf.table(col_widths=widths, headings_style=heading) as grid:
            grid.row(head)
            for row in rows:
                grid.row([_latin1("" if cell is None else cell) for cell in row])
        pdf.ln(3)

    # Page 1: the totals a manager signs.
    pdf.add_page()
    title(f"{bank_name}: end-of-day report {report['date']}", 15)
    for label, value in (("Closed at", report["closed_at"]),
                         ("Closed by", who(report["closed_by"]))):  # fmt: skip
        pdf.cell(35, 6, label)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    title("Trial balance")
    table((20, 40, 40, 25), ["Currency", "Debits", "Credits", "Balanced"], [
        [cur, _money(t["debits"]), _money(t["credits"]), "yes" if t["balanced"] else "NO"]
        for cur, t in sorted(report["trial_balance"].items())
    ])  # fmt: skip
    title("Cash")
    table((20, 40, 40, 40), ["Currency", "Vault", "Tills", "Total"], [
        [cur, _money(p["vault"]), _money(sum((Decimal(t["cash"]) for t in p["tills"]), Decimal(0))),
         _money(p["total"])]
        for cur, p in sorted(report["cash_position"].items())
    ])  # fmt: skip
    title("Movements")
    table((40, 20, 25, 40), ["Kind", "Currency", "Count", "Sum"], [
        [kind.replace("_", " "), cur, f["count"], _money(f["sum"])]
        for kind, by in sorted(report["movements"].items()) for cur, f in sorted(by.items())
    ])  # fmt: skip
    pdf.set_font("Helvetica", size=9)
    approvals = ", ".join(f"{k} {v}" for k, v in report["approvals"].items())
    for label, value in (
        ("Sessions", str(len(report["sessions"]))),
        ("Reversals", str(len(report["reversals"]))),
        ("Large cash", str(len(report["large_cash"]))),
        ("Approvals", approvals),
        ("Vault count", "none" if report.get("vault_count") is None
         else _per_currency(report["vault_count"].get("variance")) or "no difference"),
    ):  # fmt: skip
        pdf.cell(35, 6, label)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Courier", size=7)
    pdf.cell(0, 5, f"hash          {report['hash']}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, f"previous hash {report.get('previous_hash') or '(first closed day)'}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(14)
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, "Branch manager: ________________________________    "
             "Date: ______________", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(0, 6, "Signature:      ________________________________", new_x="LMARGIN",
             new_y="NEXT")  # fmt: skip

    # The detail.
    pdf.add_page()
    title("Trial balance accounts")
    table((18, 55, 25, 40, 18), ["Currency", "Account", "Kind", "Balance", "Count"], [
        [cur, line["account"], line["kind"], _money(line["balance"]), line.get("count")]
        for cur, t in sorted(report["trial_balance"].items()) for line in t["accounts"]
    ])  # fmt: skip
    title("Tills")
    table((18, 15, 60, 40), ["Currency", "Till", "Name", "Cash"], [
        [cur, till["till_id"], till["name"], _money(till["cash"])]
        for cur, p in sorted(report["cash_position"].items()) for till in p["tills"]
    ])  # fmt: skip
    title("Sessions")
    table((9, 9, 26, 28, 28, 28, 28, 14, 20),
          ["Id", "Till", "Teller", "Opening", "Expected", "Counted", "Variance", "Approval",
           "By"],
          [[s["id"], s["till_id"], who(s["teller_id"]), _per_currency(s["opening"]),
            _per_currency(s["expected"]), _per_currency(s["counted"]),
            _per_currency(s["variance"]), s.get("approval_id"), who(s.get("approved_by"))]
           for s in report["sessions"]])  # fmt: skip
    for name, key in (("Reversals", "reversals"), ("Large cash", "large_cash")):
        title(name)
        table((20, 24, 30, 30, 18, 22, 22),
              ["Journal", "Transaction", "Account", "Amount", "Currency", "By", "Session"],
              [[row["journal_id"], row["transaction_id"], row["account"], _money(row["amount"]),
                row["currency"], who(row.get("performed_by")), row.get("session_id")]
               for row in report[key]])  # fmt: skip
    return bytes(pdf.output())


async def pdf_bytes(report: dict[str, Any], bank_name: str, names: dict[int, str]) -> bytes:
    """Render the PDF off the event loop; `names` gives the username of each user id."""
    return await asyncio.to_thread(_render_pdf, report, bank_name, names)
