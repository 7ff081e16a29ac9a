"""How the desktop says things: `tr()`, plurals, enums, money, currencies, dates and periods.

Every string a person reads goes through `tr()` (Qt's translation lookup, context "bank"),
so a translation can be added later with `pyside6-lupdate` and a `.qm` file; until then the
English source text is shown (tables of words are marked with QT_TRANSLATE_NOOP
for lupdate). Values that arrive as codes (`checking`, `frozen`,
`money.transfer`) are worded here and nowhere else; refusals are worded in
`desktop/messages.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from PySide6.QtCore import QCoreApplication

from shared.money import format_money

CONTEXT = "bank"


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # noqa: N802 - the name lupdate reads
    """Mark a string for translation where a table defines it; `tr()` translates it when shown."""
    return text


def tr(text: str, disambiguation: str | None = None) -> str:
    """Return the translation of a visible string (the string itself without a translation)."""
    return QCoreApplication.translate(CONTEXT, text, disambiguation)


def plural(n: int, one: str, many: str) -> str:
    """Return "%n thing(s)" for a count: a translation's plural form, else English's rule.

    `one` and `many` hold `%n` where the number goes; English numbers get thousands
    separators ("1,234 accounts").
    """
    translated = QCoreApplication.translate(CONTEXT, many, None, n)
    if translated != many.replace("%n", str(n)):
        return translated  # a loaded translation chose the form
    return (one if n == 1 else many).replace("%n", f"{n:,}")


# -- enums -----------------------------------------------------------------------------

_ACCOUNT_TYPES = {
    "checking": QT_TRANSLATE_NOOP("bank", "Checking"),
    "savings": QT_TRANSLATE_NOOP("bank", "Savings"),
}
_ACCOUNT_STATUSES = {
    "active": QT_TRANSLATE_NOOP("bank", "Active"),
    "frozen": QT_TRANSLATE_NOOP("bank", "Frozen"),
    "closed": QT_TRANSLATE_NOOP("bank", "Closed"),
}
_STATUS_TIPS = {
    "active": QT_TRANSLATE_NOOP("bank", "Active: money can move in and out"),
    "frozen": QT_TRANSLATE_NOOP(
        "bank", "Frozen: no deposits, withdrawals or transfers until unfrozen"
    ),
    "closed": QT_TRANSLATE_NOOP("bank", "Closed: final; the account keeps its history"),
}
_ROLES = {
    "user": QT_TRANSLATE_NOOP("bank", "Customer"),
    "teller": QT_TRANSLATE_NOOP("bank", "Teller"),
    "supervisor": QT_TRANSLATE_NOOP("bank", "Supervisor"),
    "admin": QT_TRANSLATE_NOOP("bank", "Administrator"),
}
_TRANSACTION_TYPES = {
    "deposit": QT_TRANSLATE_NOOP("bank", "Deposit"),
    "withdrawal": QT_TRANSLATE_NOOP("bank", "Withdrawal"),
    "transfer_in": QT_TRANSLATE_NOOP("bank", "Transfer in"),
    "transfer_out": QT_TRANSLATE_NOOP("bank", "Transfer out"),
    "reversal": QT_TRANSLATE_NOOP("bank", "Reversal"),
}
_REVERSAL_REASONS = {
    "teller_error": QT_TRANSLATE_NOOP("bank", "Teller error"),
    "customer_request": QT_TRANSLATE_NOOP("bank", "Customer request"),
    "duplicate": QT_TRANSLATE_NOOP("bank", "Duplicate"),
    "fraud": QT_TRANSLATE_NOOP("bank", "Fraud"),
    "other": QT_TRANSLATE_NOOP("bank", "Other"),
}
_DAY_STATUSES = {
    "open": QT_TRANSLATE_NOOP("bank", "open"),
    "closing": QT_TRANSLATE_NOOP("bank", "closing"),
}
_AUDIT_ACTIONS = {
    "login.succeeded": QT_TRANSLATE_NOOP("bank", "Signed in"),
    "login.failed": QT_TRANSLATE_NOOP("bank", "Sign-in refused"),
    "logout": QT_TRANSLATE_NOOP("bank", "Signed out"),
    "user.created": QT_TRANSLATE_NOOP("bank", "User created"),
    "user.updated": QT_TRANSLATE_NOOP("bank", "User changed"),
    "user.role_changed": QT_TRANSLATE_NOOP("bank", "Role changed"),
    "user.deactivated": QT_TRANSLATE_NOOP("bank", "User deactivated"),
    "user.deleted": QT_TRANSLATE_NOOP("bank", "User deleted"),
    "user.unlocked": QT_TRANSLATE_NOOP("bank", "Sign-in unlocked"),
    "account.opened": QT_TRANSLATE_NOOP("bank", "Account opened"),
    "account.updated": QT_TRANSLATE_NOOP("bank", "Account changed"),
    "account.frozen": QT_TRANSLATE_NOOP("bank", "Account frozen"),
    "account.unfrozen": QT_TRANSLATE_NOOP("bank", "Account unfrozen"),
    "account.closed": QT_TRANSLATE_NOOP("bank", "Account closed"),
    "money.deposit": QT_TRANSLATE_NOOP("bank", "Deposit"),
    "money.withdrawal": QT_TRANSLATE_NOOP("bank", "Withdrawal"),
    "money.transfer": QT_TRANSLATE_NOOP("bank", "Transfer"),
}
_TARGET_TYPES = {
    "user": QT_TRANSLATE_NOOP("bank", "User"),
    "account": QT_TRANSLATE_NOOP("bank", "Account"),
    "transfer": QT_TRANSLATE_NOOP("bank", "Transfer"),
}

_APPROVAL_STATUSES = {
    "pending": QT_TRANSLATE_NOOP("bank", "Waiting"),
    "executed": QT_TRANSLATE_NOOP("bank", "Approved and done"),
    "failed": QT_TRANSLATE_NOOP("bank", "Approved, refused when done"),
    "rejected": QT_TRANSLATE_NOOP("bank", "Rejected"),
    "cancelled": QT_TRANSLATE_NOOP("bank", "Cancelled"),
    "expired": QT_TRANSLATE_NOOP("bank", "Expired"),
}
_APPROVAL_ACTIONS = {
    "deposit": QT_TRANSLATE_NOOP("bank", "Deposit"),
    "withdrawal": QT_TRANSLATE_NOOP("bank", "Withdrawal"),
    "transfer": QT_TRANSLATE_NOOP("bank", "Transfer"),
    "reversal": QT_TRANSLATE_NOOP("bank", "Reversal"),
    "till.variance": QT_TRANSLATE_NOOP("bank", "Till difference"),
    "till.receive": QT_TRANSLATE_NOOP("bank", "Cash into or out of a till"),
    "vault.transfer": QT_TRANSLATE_NOOP("bank", "Vault and till cash"),
    "vault.cash": QT_TRANSLATE_NOOP("bank", "Vault cash in or out"),
    "hold.release": QT_TRANSLATE_NOOP("bank", "Release of a hold"),
    "account.limits": QT_TRANSLATE_NOOP("bank", "Raise account limits"),
    "account.unfreeze": QT_TRANSLATE_NOOP("bank", "Unfreeze account"),
    "user.role": QT_TRANSLATE_NOOP("bank", "Role change"),
    "policy.update": QT_TRANSLATE_NOOP("bank", "Weaken an approval policy"),
}
_HOLD_REASONS = {
    "cheque_clearing": QT_TRANSLATE_NOOP("bank", "Cheque clearing"),
    "dispute": QT_TRANSLATE_NOOP("bank", "Dispute"),
    "legal": QT_TRANSLATE_NOOP("bank", "Legal order"),
    "fraud": QT_TRANSLATE_NOOP("bank", "Fraud"),
    "other": QT_TRANSLATE_NOOP("bank", "Other"),
}
_HOLD_STATUSES = {
    "active": QT_TRANSLATE_NOOP("bank", "Active"),
    "released": QT_TRANSLATE_NOOP("bank", "Released"),
    "expired": QT_TRANSLATE_NOOP("bank", "Expired"),
}
_DOCUMENT_TYPES = {
    "passport": QT_TRANSLATE_NOOP("bank", "Passport"),
    "national_id": QT_TRANSLATE_NOOP("bank", "National ID card"),
    "driving_licence": QT_TRANSLATE_NOOP("bank", "Driving licence"),
    "residence_permit": QT_TRANSLATE_NOOP("bank", "Residence permit"),
}
_KYC_STATUSES = {
    "verified": QT_TRANSLATE_NOOP("bank", "ID verified"),
    "expired": QT_TRANSLATE_NOOP("bank", "ID expired"),
    "pending": QT_TRANSLATE_NOOP("bank", "ID not verified"),
}
_MATCH_KINDS = {
    "name": QT_TRANSLATE_NOOP("bank", "name"),
    "document": QT_TRANSLATE_NOOP("bank", "identity document"),
    "account": QT_TRANSLATE_NOOP("bank", "account number"),
    "phone": QT_TRANSLATE_NOOP("bank", "phone"),
    "email": QT_TRANSLATE_NOOP("bank", "email"),
    "username": QT_TRANSLATE_NOOP("bank", "username"),
    "date_of_birth": QT_TRANSLATE_NOOP("bank", "date of birth"),
}


class Words:
    """Codes and the words they read as; calling the table words a code.

    An unknown code (a newer server's) reads as itself, made readable, or as `unknown`.
    """

    def __init__(self, table: dict[str, str], unknown: str | None = None) -> None:
        self._table = table
        self._unknown = unknown

    def __call__(self, value: object) -> str:
        """Return the words for a code (an enum member or its value)."""
        code = str(getattr(value, "value", value))
        if code in self._table:
            return tr(self._table[code])
        if self._unknown is not None:
            return self._unknown
        return code.replace("_", " ").replace(".", ": ").capitalize()

    def codes(self) -> tuple[str, ...]:
        """Return the codes the table words, in its order."""
        return tuple(self._table)


account_type = Words(_ACCOUNT_TYPES)  # "Checking"
account_status = Words(_ACCOUNT_STATUSES)  # "Active", "Frozen", "Closed"
account_status_tip = Words(_STATUS_TIPS, unknown="")  # what a status means for the money
role = Words(_ROLES)  # "Customer", "Teller", "Supervisor", "Administrator"
transaction_type = Words(_TRANSACTION_TYPES)  # "Deposit", "Transfer in"
reversal_reason = Words(_REVERSAL_REASONS)  # "Teller error" for teller_error
day_status = Words(_DAY_STATUSES)  # "open", "closing" (a business day's)
audit_action = Words(_AUDIT_ACTIONS)  # "Account frozen" for account.frozen
target_type = Words(_TARGET_TYPES)  # what an audit event is about: "Account"
approval_status = Words(_APPROVAL_STATUSES)  # "Waiting", "Rejected"
approval_action = Words(_APPROVAL_ACTIONS)  # "Deposit", "Role change"
hold_reason = Words(_HOLD_REASONS)  # "Cheque clearing"
hold_status = Words(_HOLD_STATUSES)  # "Active", "Released", "Expired"
document_type = Words(_DOCUMENT_TYPES)  # "Passport"
kyc_status = Words(_KYC_STATUSES)  # "ID verified"
match_kind = Words(_MATCH_KINDS)  # what a search result was found by: "identity document"


def yes_no(value: bool) -> str:
    """Return "Yes" or "No"."""
    return tr("Yes") if value else tr("No")


# -- money and currencies --------------------------------------------------------------

_CURRENCY_NAMES = {
    "USD": QT_TRANSLATE_NOOP("bank", "US dollar"),
    "EUR": QT_TRANSLATE_NOOP("bank", "Euro"),
    "GBP": QT_TRANSLATE_NOOP("bank", "Pound sterling"),
    "CHF": QT_TRANSLATE_NOOP("bank", "Swiss franc"),
    "CAD": QT_TRANSLATE_NOOP("bank", "Canadian dollar"),
    "AUD": QT_TRANSLATE_NOOP("bank", "Australian dollar"),
    "NZD": QT_TRANSLATE_NOOP("bank", "New Zealand dollar"),
    "SEK": QT_TRANSLATE_NOOP("bank", "Swedish krona"),
    "NOK": QT_TRANSLATE_NOOP("bank", "Norwegian krone"),
    "DKK": QT_TRANSLATE_NOOP("bank", "Danish krone"),
    "PLN": QT_TRANSLATE_NOOP("bank", "Polish złoty"),
    "CZK": QT_TRANSLATE_NOOP("bank", "Czech koruna"),
    "SGD": QT_TRANSLATE_NOOP("bank", "Singapore dollar"),
    "HKD": QT_TRANSLATE_NOOP("bank", "Hong Kong dollar"),
}


def currency_name(code: str) -> str:
    """Return a currency's name: "Swiss franc" for CHF (the code itself if unknown)."""
    return tr(_CURRENCY_NAMES[code]) if code in _CURRENCY_NAMES else code


def currency_label(code: str) -> str:
    """Return a currency for a list: "CHF — Swiss franc"."""
    name = currency_name(code)
    return code if name == code else f"{code} — {name}"


def money(value: Decimal, currency: str | None = None) -> str:
    """Return money for people: "1,250.00 USD" (two places, thousands separators)."""
    return format_money(value, currency)


def signed_money(value: Decimal, credit: bool, currency: str | None = None) -> str:
    """Return an amount with its direction: "+1,250.00" for a credit, "-40.00" for a debit."""
    return ("+" if credit else "-") + format_money(value, currency)


def money_or(value: Decimal | None, currency: str, none: str) -> str:
    """Return money, or `none` (already translated) when there is no value (no limit)."""
    return none if value is None else format_money(value, currency)


# -- dates and periods -----------------------------------------------------------------

DATE_FORMAT = "%Y-%m-%d"
TIME_FORMAT = "%Y-%m-%d %H:%M"


def local(moment: datetime) -> datetime:
    """Return an aware timestamp in the machine's time zone."""
    return moment.astimezone()


def date_text(moment: datetime | date) -> str:
    """Return a day: "2026-11-29" (a timestamp in the machine's time zone)."""
    if isinstance(moment, datetime):
        moment = local(moment)
    return moment.strftime(DATE_FORMAT)


def time_text(moment: datetime, seconds: bool = False) -> str:
    """Return a local time of day with its date: "2026-11-29 10:15"."""
    return local(moment).strftime(TIME_FORMAT + (":%S" if seconds else ""))


def time_with_zone(moment: datetime) -> str:
    """Return a local time with seconds and its UTC offset: "2026-11-29 10:15:00 (UTC+01:00)"."""
    value = local(moment)
    offset = value.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{value:%Y-%m-%d %H:%M:%S} (UTC{offset})"


def iso_day(text: str) -> str:
    """Return a `YYYY-MM-DD` day from the API as the desktop shows days."""
    return date.fromisoformat(text).strftime(DATE_FORMAT)


def period_text(since: datetime | date | None, until: datetime | date | None) -> str:
    """Return a period: "2026-11-01 – 2026-11-29", "from 2026-11-01", "until 2026-11-29"."""
    if since is None and until is None:
        return tr("all time")
    if since is None:
        assert until is not None
        return tr("until {day}").format(day=date_text(until))
    if until is None:
        return tr("from {day}").format(day=date_text(since))
    return f"{date_text(since)} – {date_text(until)}"
