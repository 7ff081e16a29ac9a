"""The bank's ledger: accounts, legs, journal entries and the trial balance."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from server.api.deps import SupervisorCtx, list_params
from server.api.routes import errors, router
from server.services import calendar
from server.services.ledger import reading
from server.services.views import ListParams
from shared.schemas.business_day import BusinessDate
from shared.schemas.common import Page
from shared.schemas.ledger import (
    JournalPublic,
    LedgerAccountPublic,
    LedgerAccountSort,
    LedgerKind,
    LegPublic,
    TrialBalance,
)

routes = router(prefix="/ledger", tags=["ledger"])
AccountList = Annotated[ListParams, Depends(list_params(LedgerAccountSort))]


@routes.get("/accounts", name="accounts", response_model=Page[LedgerAccountPublic],
            responses=errors(401, 403))  # fmt: skip
async def ledger_accounts(
    _ctx: SupervisorCtx, params: AccountList, kind: LedgerKind | None = None
) -> Page[LedgerAccountPublic]:
    """List the ledger's accounts; `kind=liability` lists customer accounts."""
    return await reading.list_accounts(params, kind=kind)


@routes.get("/accounts/{code}/entries", name="entries", response_model=Page[LegPublic],
            responses=errors(401, 403, 404))  # fmt: skip
async def ledger_entries(
    _ctx: SupervisorCtx,
    code: Annotated[str, Path(max_length=64, examples=["vault:USD", "0000000195"])],
    params: Annotated[ListParams, Depends(list_params(reading.LegSort))],
) -> Page[LegPublic]:
    """Page through one account's legs, oldest first, each with the balance after it."""
    return await reading.entries(code, params)


@routes.get("/journal/{journal_id}", name="journal", response_model=JournalPublic,
            responses=errors(401, 403, 404))  # fmt: skip
async def journal_entry(
    _ctx: SupervisorCtx, journal_id: Annotated[int, Path(ge=1, le=2**62)]
) -> JournalPublic:
    """Return one journal entry with all its legs."""
    return await reading.journal(journal_id)


@routes.get("/trial-balance", name="trial_balance", response_model=TrialBalance,
            responses=errors(401, 403))  # fmt: skip
async def trial_balance(
    _ctx: SupervisorCtx,
    business_date: Annotated[BusinessDate | None, Query(description="as of the end of D")] = None,
) -> TrialBalance:
    """Per currency: debits, credits, balanced, and every account's balance."""
    if business_date is None or business_date >= await calendar.posting_date():
        return await reading.current_trial_balance()
    return await reading.trial_balance_from_journal(business_date)
