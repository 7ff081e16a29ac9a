"""What the till screens say: a session in a line, money per currency, an approval waiting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from desktop.api.client import ApprovalRequired
from desktop.text import QT_TRANSLATE_NOOP, Words, money, tr
from shared.schemas.tills import SessionPublic, SessionStatus

_SESSION_STATUSES = {
    "open": QT_TRANSLATE_NOOP("bank", "open"),
    "closing": QT_TRANSLATE_NOOP("bank", "closing"),
    "closed": QT_TRANSLATE_NOOP("bank", "closed"),
}
_JOURNAL_KINDS = {
    "deposit": QT_TRANSLATE_NOOP("bank", "Deposit"),
    "withdrawal": QT_TRANSLATE_NOOP("bank", "Withdrawal"),
    "reversal": QT_TRANSLATE_NOOP("bank", "Reversal"),
    "vault_to_till": QT_TRANSLATE_NOOP("bank", "From the vault"),
    "till_to_vault": QT_TRANSLATE_NOOP("bank", "To the vault"),
    "over_short": QT_TRANSLATE_NOOP("bank", "Over/short"),
}
session_status = Words(_SESSION_STATUSES)  # "open", "closing", "closed"
journal_kind = Words(_JOURNAL_KINDS)  # "From the vault" for vault_to_till
HIDDEN = QT_TRANSLATE_NOOP("bank", "hidden until the session is closed")


def session_line(session: SessionPublic, till_name: str | None) -> str:
    """Return a session for the status bar: "Till 1 · session 12 open"."""
    till = till_name or tr("Till {id}").format(id=session.till_id)
    return tr("{till} · session {id} {status}").format(
        till=till, id=session.id, status=session_status(session.status))  # fmt: skip


def money_map(amounts: Mapping[str, Decimal] | None, none: str = "—") -> str:
    """Return money per currency on one line: "500.00 USD, 20.00 EUR" (`none` when unknown)."""
    if amounts is None:
        return none
    if not amounts:
        return money(Decimal(0))
    return ", ".join(money(amount, currency) for currency, amount in sorted(amounts.items()))


def variance_text(variance: Mapping[str, Decimal]) -> str:
    """Return a difference in words: "short 5.00 USD, over 2.00 EUR" ("balanced" if none)."""
    parts = [
        (tr("short {amount}") if amount < 0 else tr("over {amount}")).format(
            amount=money(abs(amount), currency))
        for currency, amount in sorted(variance.items())
        if amount != 0
    ]  # fmt: skip
    return ", ".join(parts) or tr("balanced")


def session_result(session: SessionPublic) -> str:
    """Return what a count came to, saying only what the caller may see (blind balancing)."""
    counted = tr("Counted: {amounts}.").format(amounts=money_map(session.counted))
    if session.expected is None:
        expected = tr("Expected: {hidden}.").format(hidden=tr(HIDDEN))
    else:
        expected = tr("Expected: {amounts}.").format(amounts=money_map(session.expected))
    lines = [counted, expected]
    if session.variance is not None:
        lines.append(tr("Difference: {words}.").format(words=variance_text(session.variance)))
    if session.status is SessionStatus.CLOSING:
        lines.append(waiting_for_variance(session.approval_id))
    elif session.status is SessionStatus.CLOSED:
        lines.insert(0, tr("Session {id} is closed.").format(id=session.id))
    return "\n".join(lines)


def waiting_for_variance(approval_id: int | None) -> str:
    """Say a count that differs waits for a supervisor's approval (`till.variance`)."""
    return tr(
        "The count differs from what the till should hold: a supervisor must approve the "
        "difference (approval no. {id}, till variance). Until then the session is closing: "
        "no cash moves through it."
    ).format(id=approval_id if approval_id is not None else "?")


def waiting(approval: ApprovalRequired) -> str:
    """Say what a request that answered 202 now waits for."""
    action = str(approval.approval.get("action", ""))
    number = approval.approval_id
    if action == "till.receive":
        return tr("Sent. The teller of that till must accept the cash (approval no. {id}); "
                  "nothing moves until then.").format(id=number)  # fmt: skip
    if action == "vault.transfer":
        return tr("Requested. The cash moves when a supervisor approves it (approval no. {id}, "
                  "vault transfer).").format(id=number)  # fmt: skip
    if action == "till.variance":
        return waiting_for_variance(int(number) if number is not None else None)
    return tr("This waits for a supervisor's approval (no. {id}).").format(id=number)


def or_approval(call: Callable[..., Any]) -> Callable[..., Any]:
    """Return a call that answers an ApprovalRequired instead of raising it (worker thread)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ApprovalRequired as approval:
            return approval

    return run


class Keys:
    """One Idempotency-Key per request: kept for a retry after an unknown outcome only.

    A final answer (success or refusal) is stored by the server under its key, so the next
    send after one must carry a new key, or it would replay the stale answer.
    """

    def __init__(self, new_key: Callable[[], str]) -> None:
        self._new_key = new_key
        self._kept: tuple[object, str] | None = None

    def key_for(self, request: object) -> str:
        """Return the key to send a request under (the kept one if it is the same request)."""
        if self._kept is not None and self._kept[0] == request:
            return self._kept[1]
        key = self._new_key()
        self._kept = (request, key)
        return key

    def settled(self, unknown: bool) -> None:
        """Forget the key after a final answer; keep it when the outcome is unknown."""
        if not unknown:
            self._kept = None
