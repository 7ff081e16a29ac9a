"""The bank's ledger in double entry: accounts, legs, journal entries and the trial balance."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from shared.money import Money
from shared.schemas.common import Timestamp


class Side(StrEnum):
    """Which way a leg moves its account."""

    DEBIT = "debit"
    CREDIT = "credit"


class LedgerKind(StrEnum):
    """What an account of the ledger is to the bank."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    EXPENSE = "expense"


class JournalKind(StrEnum):
    """Kinds of journal entry (API.md "Rules across version 2")."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"
    REVERSAL = "reversal"
    VAULT_TO_TILL = "vault_to_till"
    TILL_TO_VAULT = "till_to_vault"
    VAULT_IN = "vault_in"
    VAULT_OUT = "vault_out"
    OVER_SHORT = "over_short"
    MIGRATION = "migration"


class LedgerAccountPublic(BaseModel):
    """An account of the ledger; `balance` in the kind's normal direction."""

    code: str
    kind: LedgerKind
    name: str
    currency: str
    balance: Money
    debits: Money
    credits: Money


class LedgerAccountSort(StrEnum):
    """The ledger's accounts are listed by code (`id`): customer numbers, then the bank's."""

    ID = "id"


class LegPublic(BaseModel):
    """One leg on one account, with the account's balance after it."""

    journal_id: int
    side: Side
    amount: Money
    balance_after: Money
    business_date: str
    created_at: Timestamp
    description: str | None
    transaction_id: int | None


class JournalLeg(BaseModel):
    """One leg of a journal entry."""

    account: str
    side: Side
    amount: Money
    currency: str


class JournalPublic(BaseModel):
    """A journal entry: legs whose debits equal their credits in every currency."""

    id: int
    kind: JournalKind
    business_date: str
    created_at: Timestamp
    performed_by: int | None
    approval_id: int | None
    session_id: int | None
    legs: list[JournalLeg]
    reverses_id: int | None
    reversed_by: int | None
    description: str | None = None
    reference: str | None = None


class TrialBalanceLine(BaseModel):
    """One line of a trial balance: an internal account, or all customer accounts."""

    account: str
    kind: LedgerKind
    balance: Money
    count: int | None = Field(default=None, description="customer accounts only")


class TrialBalanceCurrency(BaseModel):
    """A currency's totals: debits equal credits."""

    debits: Money
    credits: Money
    balanced: bool
    accounts: list[TrialBalanceLine]


type TrialBalance = dict[str, TrialBalanceCurrency]
