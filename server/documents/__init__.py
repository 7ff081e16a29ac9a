"""Beanie documents: how the bank's records are stored. They never cross the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from beanie import DecimalAnnotation, Document, Indexed
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from shared.schemas.common import AccountStatus, AccountType, Role, now_ms
from shared.schemas.transactions import TransactionType


class Counter(Document):
    """An atomic sequence: `_id` is the sequence name, `seq` its last value."""

    id: str  # type: ignore[assignment]
    seq: int = 0

    class Settings:
        name = "counters"


class User(Document):
    """A person who signs in: customer, teller or admin."""

    id: int  # type: ignore[assignment]
    username: Annotated[str, Indexed(unique=True)]
    full_name: str
    email: str
    role: Role = Role.USER
    is_active: bool = True
    password_hash: str
    # Whether the password was long enough for staff when it was set (STAFF_PASSWORD_MIN):
    # promoting a customer whose password is shorter needs a new one with the role.
    password_fit_for_staff: bool = False
    created_at: datetime = Field(default_factory=now_ms)
    updated_at: datetime = Field(default_factory=now_ms)
    deleted_at: datetime | None = None
    failed_logins: int = 0
    locked_until: datetime | None = None
    # Bumped by every unlock: the per-IP and per-device failure counters of the username
    # are keyed by it, so an unlock starts them all afresh.
    login_epoch: int = 0
    # Customer identification (server/services/customers.py): the profile, identity
    # documents (each with its normalised `key`, unique through `IdentityDocument`), and the
    # normalised keys one search finds the user by ("name:zoe", "acct:0000000195", ...).
    profile: dict[str, Any] | None = None
    documents: list[dict[str, Any]] = Field(default_factory=list)
    search_keys: list[str] = Field(default_factory=list)

    class Settings:
        name = "users"
        use_revision = False
        indexes = [
            IndexModel([("role", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("full_name", ASCENDING)]),
            IndexModel([("created_at", ASCENDING)]),
            # Multikey: a search key's equality or prefix, in id order.
            IndexModel([("search_keys", ASCENDING), ("_id", ASCENDING)]),
        ]


class Account(Document):
    """A customer's account; `balance` changes only through movement transactions."""

    id: int  # type: ignore[assignment]
    number: Annotated[str, Indexed(unique=True)]
    owner_id: int
    owner_name: str
    # Whether the owner is staff (teller, supervisor, admin): their accounts are hidden from
    # tellers and supervisors. Set at opening, and with every change of the owner's role in
    # the same transaction.
    owner_staff: bool = False
    account_type: AccountType
    currency: str
    balance: DecimalAnnotation = Decimal("0.00")
    overdraft_limit: DecimalAnnotation = Decimal("0.00")
    daily_withdrawal_limit: DecimalAnnotation | None = Decimal("10000.00")
    status: AccountStatus = AccountStatus.ACTIVE
    nickname: str | None = None
    created_at: datetime = Field(default_factory=now_ms)
    updated_at: datetime = Field(default_factory=now_ms)
    version: int = 1
    # Ledger position: the seq of the account's last leg, bumped with every movement.
    entry_seq: int = 0
    # The sums of its debit and credit legs (balance = credits - debits: a liability).
    debits: DecimalAnnotation = Decimal("0.00")
    credits: DecimalAnnotation = Decimal("0.00")
    # Active holds: their sum, and when the first of them expires (None: none expires).
    held: DecimalAnnotation = Decimal("0.00")
    hold_expires_at: datetime | None = None
    # Movements dated `day` (the business date): what the daily limit and the approval
    # thresholds count, less reversed ones.
    day: str | None = None
    day_out: DecimalAnnotation = Decimal("0.00")
    day_deposit: DecimalAnnotation = Decimal("0.00")
    day_withdrawal: DecimalAnnotation = Decimal("0.00")
    day_transfer: DecimalAnnotation = Decimal("0.00")

    class Settings:
        name = "accounts"
        # Each list sort (field, then `_id` as the tie-breaker) has an index that gives it,
        # so a page never scans and sorts the collection (bench/scans.py checks them).
        indexes = [
            IndexModel([("owner_id", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("number", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("balance", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)]),
        ]


class LedgerEntry(Document):
    """One line of an account's ledger; never changed after it is written."""

    id: int  # type: ignore[assignment]
    account_id: int
    seq: int
    type: TransactionType
    amount: DecimalAnnotation
    balance_after: DecimalAnnotation
    currency: str
    description: str | None = None
    transfer_id: int | None = None
    counterparty_number: str | None = None
    performed_by: int | None = None
    created_at: datetime = Field(default_factory=now_ms)

    class Settings:
        name = "transactions"
        indexes = [
            IndexModel([("account_id", ASCENDING), ("seq", DESCENDING)], unique=True),
            IndexModel(
                [("account_id", ASCENDING), ("created_at", DESCENDING), ("seq", DESCENDING)]
            ),
            IndexModel([("created_at", ASCENDING), ("type", ASCENDING)]),
        ]


class Transfer(Document):
    """A transfer between two accounts; its two ledger legs carry its id."""

    id: int  # type: ignore[assignment]
    from_account_id: int
    to_account_id: int
    from_number: str
    to_number: str
    amount: DecimalAnnotation
    currency: str
    description: str | None = None
    performed_by: int | None = None
    created_at: datetime = Field(default_factory=now_ms)

    class Settings:
        name = "transfers"
        indexes = [
            IndexModel([("from_account_id", ASCENDING), ("_id", DESCENDING)]),
            IndexModel([("to_account_id", ASCENDING), ("_id", DESCENDING)]),
        ]


class IdempotencyRecord(Document):
    """A client's Idempotency-Key: claimed while its request runs, then its stored answer.

    `_id` is "<user id>:<sha256 of the key>", so a key is scoped to its user.
    """

    id: str  # type: ignore[assignment]
    user_id: int
    fingerprint: str
    state: str = "pending"  # pending | done
    claim: str | None = None
    claimed_at: datetime = Field(default_factory=now_ms)
    status: int | None = None
    body: dict[str, Any] | None = None
    created_at: datetime = Field(default_factory=now_ms)
    expires_at: datetime

    class Settings:
        name = "idempotency_keys"
        indexes = [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)]


class LoginSession(Document):
    """One login: every token carries its `sid`; revoking it ends them all."""

    id: str  # type: ignore[assignment]
    user_id: int
    created_at: datetime = Field(default_factory=now_ms)
    expires_at: datetime
    refresh_jti: str
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    ip: str | None = None

    class Settings:
        name = "login_sessions"
        indexes = [
            # A user's open sessions, oldest first (revocations, and the session cap at
            # every sign-in).
            IndexModel(
                [("user_id", ASCENDING), ("revoked_at", ASCENDING), ("created_at", ASCENDING)]
            ),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ]


class AuditEvent(Document):
    """An immutable record of who did what to which object, and with what outcome."""

    id: int  # type: ignore[assignment]
    at: datetime = Field(default_factory=now_ms)
    actor_id: int | None = None
    action: str
    outcome: str = "ok"
    code: str | None = None
    target_type: str | None = None
    target_id: int | None = None
    ip: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    business_date: str | None = None  # the posting date when it happened (version 1: none)

    class Settings:
        name = "audit_events"
        indexes = [
            IndexModel([("at", DESCENDING)]),
            IndexModel([("actor_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("target_type", ASCENDING), ("target_id", ASCENDING), ("at", DESCENDING)]),
            # GET /audit?approval_id=: the events of one approval (details.approval_id).
            IndexModel([("details.approval_id", ASCENDING), ("at", DESCENDING)]),
        ]


class DemoSeed(Document):
    """Marks that the demo data was created, so concurrent `--demo` starts seed it once."""

    id: str  # type: ignore[assignment]
    state: str = "running"
    claimed_at: datetime = Field(default_factory=now_ms)

    class Settings:
        name = "demo_seed"


from server.documents.branch import (  # noqa: E402 - they import this module's models
    ApprovalDoc,
    ApprovalPolicyDoc,
    BusinessDay,
    ClosedDayDoc,
    Hold,
    OpenSession,
    TellerSession,
    Till,
    VaultCount,
)
from server.documents.customers import IdentityDocument  # noqa: E402
from server.documents.ledger import (  # noqa: E402
    DailyTotals,
    JournalEntry,
    LedgerAccount,
    LegPage,
    TransactionRef,
)

ALL_DOCUMENTS: tuple[type[Document], ...] = (
    Counter,
    User,
    Account,
    LedgerEntry,
    Transfer,
    IdempotencyRecord,
    LoginSession,
    AuditEvent,
    DemoSeed,
    LedgerAccount,
    JournalEntry,
    LegPage,
    TransactionRef,
    DailyTotals,
    Till,
    TellerSession,
    OpenSession,
    VaultCount,
    ApprovalPolicyDoc,
    ApprovalDoc,
    BusinessDay,
    ClosedDayDoc,
    Hold,
    IdentityDocument,
)


def application_indexes() -> dict[str, list[IndexModel]]:
    """Return the indexes the application defines, by collection, as Beanie creates them.

    A restore creates exactly these (never a backup file's index specs, which a tampered or
    foreign file could make into a TTL on the ledger).
    """
    from beanie.odm.utils.typing import get_index_attributes

    found: dict[str, list[IndexModel]] = {}
    for document in ALL_DOCUMENTS:
        models = []
        for name, field in document.model_fields.items():
            attributes = get_index_attributes(field)
            if attributes is not None:
                direction, options = attributes
                models.append(IndexModel([(field.alias or name, direction)], **options))
        models += list(getattr(document.Settings, "indexes", []))
        found[document.Settings.name] = models
    return found


def to_mongo(document: Document) -> dict[str, Any]:
    """Encode a document for PyMongo as Beanie stores it (`_id`, Decimal128, enums as values)."""
    from beanie.odm.utils.encoder import Encoder

    encoded = Encoder(to_db=True).encode(document)
    return dict(encoded)
