"""The one place that turns a refusal's `code` and `context` into the words a teller reads.

The server's `detail` is a sentence for logs; the desktop words every code it knows from the
code and the facts in `context` (API.md "Error facts"), so rewording the server changes
nothing here. `detail` is read only for a code this desktop does not know yet. A
`Situation` says what was being done (a transfer, an account's settings), which accounts
play which part, and what a refusal leaves behind ("No money moved.").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from desktop import text
from desktop.api.client import ApiError, ApprovalRequired, NetworkError, SessionExpired
from desktop.text import QT_TRANSLATE_NOOP, plural, tr
from shared.errors import ErrorCode


@dataclass(frozen=True)
class Situation:
    """What the refused request was doing, for the words around the reason."""

    # What a refusal left behind, e.g. "No money moved." (translated); "" for reads.
    nothing_happened: str = ""
    # What an unknown outcome means and what to do, e.g. "Press Retry …" (translated).
    unknown_advice: str = ""
    # Account ids and the part they play: {12: "the source account"} (translated).
    accounts: Mapping[int, str] = field(default_factory=dict)
    # The words for a 404 here, e.g. "No active account has that number." (translated).
    not_found: str = ""


@dataclass(frozen=True)
class Explanation:
    """A refusal in a teller's words."""

    text: str
    unknown: bool = False  # the request may or may not have taken effect
    code: str | None = None


GENERAL = Situation()


def explain(error: BaseException, situation: Situation = GENERAL) -> Explanation:
    """Return the words for a failed request."""
    if isinstance(error, SessionExpired):
        return _final(tr("Your session has ended; sign in again."), situation, None)
    if isinstance(error, ApprovalRequired):
        words = tr("This needs a supervisor's approval: request no. {id} is waiting for it.")
        return Explanation(words.format(id=error.approval_id), False, ErrorCode.APPROVAL_REQUIRED)
    if isinstance(error, NetworkError):
        reason = (
            tr("The server did not answer in time.")
            if error.timed_out
            else tr("Cannot reach the bank's server.")
        )
        return _unknown(reason, situation, None)
    if not isinstance(error, ApiError):
        return _unknown(tr("Something unexpected went wrong ({error}).").format(
            error=type(error).__name__), situation, None)  # fmt: skip
    code = error.code
    if code in _UNKNOWN_OUTCOME:
        return _unknown(tr(_UNKNOWN_OUTCOME[code]), situation, code)
    if code == ErrorCode.VALIDATION_ERROR:
        return _final(_validation(error.fields), situation, code)
    if code in _FIXED:
        return _final(tr(_FIXED[code]), situation, code)
    wording = _WORDING.get(code)
    if wording is not None:
        return _final(wording(_Facts(error.context), situation), situation, code)
    if error.status >= 500:
        return _unknown(tr("The bank's server had a problem."), situation, code)
    # A code this desktop does not know yet: the server's own sentence is all there is.
    return _final(tr("The bank refused the request: {detail}").format(
        detail=_sentence(error.message)), situation, code)  # fmt: skip


def _final(reason: str, situation: Situation, code: str | None) -> Explanation:
    return Explanation(_join(reason, situation.nothing_happened), False, code)


def _unknown(reason: str, situation: Situation, code: str | None) -> Explanation:
    return Explanation(_join(reason, situation.unknown_advice), True, code)


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _sentence(detail: str) -> str:
    detail = detail.strip()
    return detail if detail.endswith((".", "!", "?")) else detail + "."


class _Facts:
    """A refusal's `context`, read defensively (a missing fact reads as unknown)."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context

    def get(self, key: str) -> Any:
        return self.context.get(key)

    def money(self, key: str, currency_key: str = "currency") -> str | None:
        value, currency = self.context.get(key), self.context.get(currency_key)
        if value is None:
            return None
        try:
            return text.money(Decimal(str(value)), str(currency) if currency else None)
        except (InvalidOperation, ValueError):
            return None

    def number(self, key: str) -> int | None:
        value = self.context.get(key)
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None


def _which(facts: _Facts, situation: Situation, default: str) -> str:
    """Name the account a refusal is about, from its `account_id` fact."""
    account_id = facts.number("account_id")
    if account_id is not None and account_id in situation.accounts:
        return situation.accounts[account_id]
    if len(situation.accounts) == 1:
        return next(iter(situation.accounts.values()))
    return default


def _insufficient(facts: _Facts, situation: Situation) -> str:
    which = _which(facts, situation, tr("the account"))
    available, requested = facts.money("available"), facts.money("requested")
    try:
        nothing_requested = Decimal(str(facts.get("requested"))) == 0
    except (InvalidOperation, ValueError):
        nothing_requested = False
    if nothing_requested and available is not None:
        # Lowering an overdraft limit below what the account already owes.
        return tr(
            "The account owes more than the new overdraft limit allows: it would be {available}"
            " available. Bring the balance up first, or choose a higher limit."
        ).format(available=available)
    if available is None or requested is None:
        return tr("Not enough money in {which}.").format(which=which)
    return tr("Not enough money in {which}: {available} available, {requested} requested.").format(
        which=which, available=available, requested=requested
    )


def _limit(facts: _Facts, situation: Situation) -> str:
    which = _which(facts, situation, tr("the account"))
    limit, used, requested = facts.money("limit"), facts.money("used"), facts.money("requested")
    if limit is None or used is None or requested is None:
        return tr("This would exceed the daily withdrawal limit of {which}.").format(which=which)
    return tr(
        "This would exceed the daily withdrawal limit of {limit}: {used} already withdrawn or"
        " transferred out today, {requested} requested."
    ).format(limit=limit, used=used, requested=requested)


def _not_active(facts: _Facts, situation: Situation) -> str:
    which = _which(facts, situation, tr("the account"))
    status = facts.get("status")
    if status is None:
        return _capital(tr("{which} is not active; no money can move on it.").format(which=which))
    return _capital(tr("{which} is {status}; no money can move on it.").format(
        which=which, status=text.account_status(status).lower()))  # fmt: skip


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _currency_mismatch(facts: _Facts, _situation: Situation) -> str:
    source, destination = facts.get("from"), facts.get("to")
    if source and destination:
        return tr(
            "The source account holds {source} and the destination {destination}; a transfer"
            " needs the same currency on both sides."
        ).format(source=source, destination=destination)
    return tr("The two accounts hold different currencies; a transfer needs the same currency.")


def _balance_not_zero(facts: _Facts, _situation: Situation) -> str:
    balance = facts.money("balance")
    if balance is None:
        return tr("The account still holds money; it must be at 0.00 before it closes.")
    return tr(
        "The balance is {balance}; it must be 0.00 before the account closes. Withdraw or"
        " transfer the money first."
    ).format(balance=balance)


def _version_conflict(facts: _Facts, _situation: Situation) -> str:
    version = facts.number("current_version")
    words = tr("Someone else changed this meanwhile")
    if version is not None:
        words += tr(" (it is now at version {version})").format(version=version)
    return words + tr(". Check the current values and save again.")


def _rate_limited(facts: _Facts, _situation: Situation) -> str:
    seconds = facts.number("retry_after")
    if seconds is None:
        return tr("Too many requests just now; wait a moment and try again.")
    return tr("Too many requests just now; try again in {when}.").format(
        when=plural(seconds, tr("%n second"), tr("%n seconds"))
    )


def _statement_too_large(facts: _Facts, _situation: Situation) -> str:
    rows, days = facts.number("max_rows"), facts.number("max_days")
    if rows is None or days is None:
        return tr("This statement is too long; choose a shorter period.")
    return tr("A statement covers at most {days} and {rows}; choose a shorter period.").format(
        days=plural(days, tr("%n day"), tr("%n days")),
        rows=plural(rows, tr("%n line"), tr("%n lines")),
    )


def _not_found(_facts: _Facts, situation: Situation) -> str:
    return situation.not_found or tr("It was not found; it may have been closed or deleted.")


_FIELDS = {
    "username": QT_TRANSLATE_NOOP("bank", "the username"),
    "full_name": QT_TRANSLATE_NOOP("bank", "the full name"),
    "email": QT_TRANSLATE_NOOP("bank", "the email address"),
    "password": QT_TRANSLATE_NOOP("bank", "the password"),
    "role": QT_TRANSLATE_NOOP("bank", "the role"),
    "amount": QT_TRANSLATE_NOOP("bank", "the amount"),
    "description": QT_TRANSLATE_NOOP("bank", "the description"),
    "nickname": QT_TRANSLATE_NOOP("bank", "the nickname"),
    "currency": QT_TRANSLATE_NOOP("bank", "the currency"),
    "overdraft_limit": QT_TRANSLATE_NOOP("bank", "the overdraft limit"),
    "daily_withdrawal_limit": QT_TRANSLATE_NOOP("bank", "the daily withdrawal limit"),
    "to_account_number": QT_TRANSLATE_NOOP("bank", "the destination account number"),
}


def _validation(fields: tuple[str, ...]) -> str:
    """Name what the server's validation refused (from the fields, never its sentences)."""
    named = [tr(_FIELDS[name]) for name in fields if name in _FIELDS]
    if not named:
        return tr("The bank did not accept what was sent; check the form and try again.")
    return tr("The bank did not accept {fields}; check and try again.").format(
        fields=tr(", ").join(named)
    )


def _till_cash(facts: _Facts, _situation: Situation) -> str:
    available, requested = facts.money("available"), facts.money("requested")
    if available is None or requested is None:
        return tr("The till does not hold that much cash.")
    return tr("The till holds {available}; {requested} was requested.").format(
        available=available, requested=requested
    )


def _approval_pending(facts: _Facts, _situation: Situation) -> str:
    approval = facts.number("approval_id")
    if approval is None:
        return tr("The same request is already waiting for approval.")
    return tr("The same request is already waiting for approval (no. {id}).").format(id=approval)


def _day(code: str) -> Callable[[_Facts, Situation], str]:
    def word(facts: _Facts, _situation: Situation) -> str:
        day, open_day = facts.get("date"), facts.get("open_date")
        if code == ErrorCode.DAY_CLOSED:
            words = tr("The business day {day} is already closed.")
        else:
            words = tr("The business day {day} is not open yet.")
        words = words.format(day=day or "")
        if open_day:
            words += " " + tr("The open day is {day}.").format(day=open_day)
        return words

    return word


def _sessions_open(facts: _Facts, _situation: Situation) -> str:
    ids = [str(i) for i in facts.get("session_ids") or []]
    count = plural(len(ids), tr("%n session"), tr("%n sessions"))
    if not ids:
        return tr("Teller sessions are still open; close them first.")
    return tr("Teller sessions are still open ({count}: no. {ids}); close them first.").format(
        count=count, ids=", ".join(ids)
    )


_N = "bank"  # the translation context of the tables below (QT_TRANSLATE_NOOP marks them)

_UNKNOWN_OUTCOME: dict[str, str] = {
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: QT_TRANSLATE_NOOP(_N, "The bank is still working on this."),
    ErrorCode.SERVICE_UNAVAILABLE: QT_TRANSLATE_NOOP(_N, "The bank's database is not answering."),
    ErrorCode.INTERNAL_ERROR: QT_TRANSLATE_NOOP(_N, "The bank's server had a problem."),
}

# Codes whose words need no facts.
_FIXED: dict[str, str] = {
    ErrorCode.NOT_AUTHENTICATED: QT_TRANSLATE_NOOP(_N, "Your session has ended; sign in again."),
    ErrorCode.INVALID_TOKEN: QT_TRANSLATE_NOOP(_N, "Your session has ended; sign in again."),
    ErrorCode.INVALID_CREDENTIALS: QT_TRANSLATE_NOOP(_N, "Wrong username or password."),
    ErrorCode.FORBIDDEN: QT_TRANSLATE_NOOP(_N, "Your role may not do this."),
    ErrorCode.OWN_ACCOUNT: QT_TRANSLATE_NOOP(_N, "Staff may not move money on their own accounts."),
    ErrorCode.METHOD_NOT_ALLOWED: QT_TRANSLATE_NOOP(
        _N, "The server does not offer this; it may be a different version than this desktop."
    ),
    ErrorCode.USERNAME_TAKEN: QT_TRANSLATE_NOOP(
        _N, "This username is taken (the names of deleted users stay taken); choose another."
    ),
    ErrorCode.USER_HAS_OPEN_ACCOUNTS: QT_TRANSLATE_NOOP(
        _N, "An account of this user still holds money; withdraw or transfer it first."
    ),
    ErrorCode.LAST_ADMIN: QT_TRANSLATE_NOOP(
        _N,
        "This would leave the bank without an active administrator; make another user an"
        " administrator first.",
    ),
    ErrorCode.NO_OPEN_SESSION: QT_TRANSLATE_NOOP(_N, "Open a till session before handling cash."),
    ErrorCode.TILL_IN_USE: QT_TRANSLATE_NOOP(_N, "Another teller's session is open on this till."),
    ErrorCode.SESSION_OPEN: QT_TRANSLATE_NOOP(
        _N, "You already have a till session open elsewhere."
    ),
    ErrorCode.SESSION_CLOSING: QT_TRANSLATE_NOOP(
        _N, "The till session is being closed; wait for the count to be approved."
    ),
    ErrorCode.SESSION_CLOSED: QT_TRANSLATE_NOOP(_N, "The till session is closed."),
    ErrorCode.ALREADY_REVERSED: QT_TRANSLATE_NOOP(_N, "This movement has already been reversed."),
    ErrorCode.HOLDS_ACTIVE: QT_TRANSLATE_NOOP(
        _N, "Money on this account is on hold; release the holds first."
    ),
    ErrorCode.HOLD_NOT_ACTIVE: QT_TRANSLATE_NOOP(_N, "This hold is no longer active."),
    ErrorCode.APPROVAL_NOT_PENDING: QT_TRANSLATE_NOOP(
        _N, "This request is no longer waiting for approval."
    ),
    ErrorCode.NO_CHECKER: QT_TRANSLATE_NOOP(_N, "Nobody else may approve this request."),
    ErrorCode.DOCUMENT_IN_USE: QT_TRANSLATE_NOOP(
        _N, "Another customer holds this identity document."
    ),
    ErrorCode.KYC_NOT_VERIFIED: QT_TRANSLATE_NOOP(
        _N, "The customer's identity has not been verified yet."
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: QT_TRANSLATE_NOOP(
        _N, "The request is larger than the server accepts."
    ),
    ErrorCode.SAME_ACCOUNT: QT_TRANSLATE_NOOP(
        _N, "The destination is the source account; choose another destination."
    ),
    ErrorCode.UNSUPPORTED_CURRENCY: QT_TRANSLATE_NOOP(
        _N, "The bank does not hold accounts in this currency."
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: QT_TRANSLATE_NOOP(
        _N, "The bank saw this request's key on a different request. Review it and send it again."
    ),
    ErrorCode.INVALID_IDEMPOTENCY_KEY: QT_TRANSLATE_NOOP(
        _N, "The desktop sent a request key the bank refused."
    ),
    ErrorCode.NOT_REVERSIBLE: QT_TRANSLATE_NOOP(_N, "This entry cannot be reversed."),
    ErrorCode.COUNT_MISMATCH: QT_TRANSLATE_NOOP(
        _N, "The notes and coins do not add up to the amount counted."
    ),
    ErrorCode.COUNT_INCOMPLETE: QT_TRANSLATE_NOOP(_N, "Count every currency the till holds."),
    ErrorCode.NOTE_REQUIRED: QT_TRANSLATE_NOOP(_N, "A difference in the count needs a note."),
    ErrorCode.SELF_APPROVAL: QT_TRANSLATE_NOOP(
        _N, "You may not approve your own request, or one about you."
    ),
    ErrorCode.NOT_CASH_AMOUNT: QT_TRANSLATE_NOOP(
        _N, "Cash comes in the currency's smallest note or coin."
    ),
}

# Codes worded from their facts.
_WORDING: dict[str, Callable[[_Facts, Situation], str]] = {
    ErrorCode.NOT_FOUND: _not_found,
    ErrorCode.INSUFFICIENT_FUNDS: _insufficient,
    ErrorCode.LIMIT_EXCEEDED: _limit,
    ErrorCode.ACCOUNT_NOT_ACTIVE: _not_active,
    ErrorCode.CURRENCY_MISMATCH: _currency_mismatch,
    ErrorCode.BALANCE_NOT_ZERO: _balance_not_zero,
    ErrorCode.VERSION_CONFLICT: _version_conflict,
    ErrorCode.TILL_INSUFFICIENT_CASH: _till_cash,
    ErrorCode.SESSIONS_OPEN: _sessions_open,
    ErrorCode.APPROVAL_PENDING: _approval_pending,
    ErrorCode.DAY_CLOSED: _day(ErrorCode.DAY_CLOSED),
    ErrorCode.DAY_NOT_OPEN: _day(ErrorCode.DAY_NOT_OPEN),
    ErrorCode.RATE_LIMITED: _rate_limited,
    ErrorCode.STATEMENT_TOO_LARGE: _statement_too_large,
}


def known_codes() -> frozenset[str]:
    """Return the codes worded here without the server's sentence."""
    return (
        frozenset(_WORDING)
        | frozenset(_FIXED)
        | frozenset(_UNKNOWN_OUTCOME)
        | {ErrorCode.VALIDATION_ERROR}
    )
