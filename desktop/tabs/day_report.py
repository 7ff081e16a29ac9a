"""A closed day's stored report as readable HTML (every value escaped), and its file download.

The preview renders the JSON the server sealed (`GET /business-days/{date}/report`): totals
first as a branch manager reads them, then the detail. Nothing is recomputed here.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from desktop import text, theme
from desktop.api.client import BankClient
from desktop.text import tr

JOURNAL_KINDS = {
    "deposit": "Deposits", "withdrawal": "Withdrawals", "transfer": "Transfers",
    "reversal": "Reversals", "vault_to_till": "Vault to till", "till_to_vault": "Till to vault",
    "vault_in": "Cash into the vault", "vault_out": "Cash out of the vault",
    "over_short": "Over and short", "migration": "Migration",
}  # fmt: skip


def _money(value: Any, currency: str | None = None) -> str:
    if value is None:
        return "—"
    try:
        return text.money(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError):
        return str(value)


def _per_currency(value: Mapping[str, Any] | None) -> str:
    if not value:
        return "—"
    return ", ".join(_money(amount, currency) for currency, amount in sorted(value.items()))


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], right: set[int]) -> str:
    muted = theme.colors().muted.name()
    head = "".join(
        f"<th align='{'right' if i in right else 'left'}' style='color:{muted}; "
        f"padding:2px 12px 2px 0'>{html.escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>" + "".join(
            f"<td align='{'right' if i in right else 'left'}' style='padding:2px 12px 2px 0'>"
            f"{html.escape(str(cell))}</td>" for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )  # fmt: skip
    if not body:
        return f"<p style='color:{muted}'>{html.escape(tr('None.'))}</p>"
    return f"<table cellspacing='0'><tr>{head}</tr>{body}</table>"


def _heading(words: str) -> str:
    return f"<h3>{html.escape(words)}</h3>"


def report_html(report: Mapping[str, Any], user_name: Callable[[int | None], str]) -> str:
    """Return a day's report as HTML: totals, cash, movements, sessions, then the detail."""
    parts = [f"<h2>{html.escape(tr('Business day {date}').format(date=report.get('date')))}</h2>"]
    closed_at = str(report.get("closed_at", ""))
    with suppress(ValueError):
        closed_at = text.time_with_zone(datetime.fromisoformat(closed_at))
    closed = tr("Closed {time} by {name}.").format(
        time=closed_at, name=user_name(report.get("closed_by"))
    )
    parts.append(f"<p>{html.escape(closed)}</p>")
    trial = report.get("trial_balance") or {}
    parts.append(_heading(tr("Trial balance")))
    parts.append(_table(
        (tr("Currency"), tr("Debits"), tr("Credits"), tr("Balanced")),
        ((cur, _money(t.get("debits")), _money(t.get("credits")),
          text.yes_no(bool(t.get("balanced")))) for cur, t in sorted(trial.items())), {1, 2},
    ))  # fmt: skip
    cash = report.get("cash_position") or {}
    parts.append(_heading(tr("Cash position")))
    parts.append(_table(
        (tr("Currency"), tr("Vault"), tr("Tills"), tr("Total")),
        ((cur, _money(p.get("vault")), _money(sum(
            (Decimal(str(t.get("cash") or 0)) for t in p.get("tills", [])), Decimal(0))),
          _money(p.get("total"))) for cur, p in sorted(cash.items())), {1, 2, 3},
    ))  # fmt: skip
    movements = report.get("movements") or {}
    parts.append(_heading(tr("Movements")))
    parts.append(_table(
        (tr("Kind"), tr("Currency"), tr("Count"), tr("Sum")),
        ((tr(JOURNAL_KINDS.get(kind, kind)), cur, f"{int(v.get('count', 0)):,}",
          _money(v.get("sum"))) for kind, per in sorted(movements.items())
         for cur, v in sorted(per.items())), {2, 3},
    ))  # fmt: skip
    approvals = report.get("approvals") or {}
    parts.append(_heading(tr("Approvals")))
    parts.append(_table(
        (tr("Outcome"), tr("Count")),
        ((tr(outcome.capitalize()), f"{int(n):,}") for outcome, n in approvals.items()), {1},
    ))  # fmt: skip
    parts.append(_heading(tr("Teller sessions")))
    parts.append(_table(
        (tr("Session"), tr("Till"), tr("Teller"), tr("Expected"), tr("Counted"), tr("Variance")),
        ((s.get("id"), s.get("till_id"), user_name(s.get("teller_id")),
          _per_currency(s.get("expected")), _per_currency(s.get("counted")),
          _per_currency(s.get("variance"))) for s in report.get("sessions") or []), set(),
    ))  # fmt: skip
    for key, title in (("reversals", tr("Reversals")), ("large_cash", tr("Large cash movements"))):
        parts.append(_heading(title))
        parts.append(_table(
            (tr("Journal"), tr("Entry"), tr("Account"), tr("Amount"), tr("By")),
            ((r.get("journal_id"), r.get("transaction_id"), r.get("account"),
              _money(r.get("amount"), r.get("currency")), user_name(r.get("performed_by")))
             for r in report.get(key) or []), {3},
        ))  # fmt: skip
    muted = theme.colors().muted.name()
    seal = tr("Hash {hash} · previous {previous}").format(
        hash=report.get("hash"), previous=report.get("previous_hash") or tr("none (first day)")
    )
    parts.append(f"<p style='color:{muted}; font-size:small'>{html.escape(seal)}</p>")
    return "".join(parts)


def download_report(
    client: BankClient,
    date: str,
    fmt: str,
    target: Path,
    canceled: threading.Event,
    progress: Callable[[int], None],
) -> int | None:
    """Stream a day's report file into `target` (worker thread); its size, None if canceled.

    The bytes go to a `.part` file first: only a complete download replaces the target.
    """
    partial = target.with_name(target.name + ".part")
    written = 0
    try:
        with partial.open("wb") as handle:
            for chunk in client.day_report_file(date, fmt):
                if canceled.is_set():
                    break
                handle.write(chunk)
                written += len(chunk)
                progress(written)
        if canceled.is_set():
            partial.unlink(missing_ok=True)
            return None
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
