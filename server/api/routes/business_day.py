"""The business day: the open date, its close, and the chain of sealed reports."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from server.api.deps import LedgerReady, SettingsDep, StaffCtx, SupervisorCtx, list_params
from server.api.idempotent import IdempotencyKey, idempotent_answer
from server.api.routes import errors, router
from server.services import admin, idempotency
from server.services.business_day import chain, closing, files
from server.services.context import Ctx
from server.services.views import ListParams
from shared.schemas.business_day import (
    BusinessDate,
    BusinessDayPublic,
    ClosedDay,
    CloseRequest,
    ReportFormat,
    VerifyResult,
)
from shared.schemas.common import Page, SortOrder

routes = router(tags=["business_day"])


class ClosedDaySort(StrEnum):
    """Closed days are listed by date (`id`)."""

    ID = "id"


DayList = Annotated[ListParams, Depends(list_params(ClosedDaySort, default_order=SortOrder.DESC))]
REPORT_DESCRIPTION = (
    "The day's report: date, closed_at, closed_by, trial_balance (as /ledger/trial-balance), "
    "cash_position, vault_count, sessions, movements {kind: {CUR: {count, sum}}}, reversals, "
    "large_cash, approvals, previous_hash and hash (SHA-256 of the report without `hash`, "
    "as JSON with sorted keys and no spaces)."
)


@routes.get("/business-day", name="current", response_model=BusinessDayPublic,
            responses=errors(401, 403))  # fmt: skip
async def business_day(_ctx: StaffCtx) -> BusinessDayPublic:
    """Return the open business date and today's date in BANK_TIMEZONE."""
    return await chain.current()


@routes.post(
    "/business-day/close", name="close", dependencies=[LedgerReady],
    responses={**errors(401, 403, 409, 429), 200: {"description": REPORT_DESCRIPTION}},
    description="Checks in order: 409 `day_closed` (that date is closed already), 409 "
    "`day_not_open` (a later date), 409 `sessions_open` (with `session_ids`). The day's pending "
    "approvals expire; the next date is max(date + 1, the calendar date).",
)  # fmt: skip
async def close_day(
    ctx: SupervisorCtx, request: Request, body: CloseRequest, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Close the open business day and seal its report."""

    async def run(ctx: Ctx, claim: idempotency.Claim | None) -> Any:
        return await closing.close(ctx, date=body.date, claim=claim)

    return await idempotent_answer(ctx, request, idempotency_key, body, run, status=200,
                                   money=False)  # fmt: skip


@routes.get("/business-days", name="list", response_model=Page[ClosedDay],
            responses=errors(401, 403))  # fmt: skip
async def closed_days(_ctx: SupervisorCtx, params: DayList) -> Page[ClosedDay]:
    """List the closed days with their hashes, newest first."""
    return await chain.list_days(params)


@routes.get("/business-days/verify", name="verify", response_model=VerifyResult,
            responses=errors(401, 403))  # fmt: skip
async def verify(_ctx: SupervisorCtx) -> VerifyResult:
    """Re-hash every report, check the chain and recompute every day's figures."""
    return await chain.verify()


@routes.get(
    "/business-days/{date}/report", name="report", response_class=Response,
    responses={**errors(401, 403, 404), 200: {
        "description": REPORT_DESCRIPTION,
        "content": {"application/json": {}, "application/pdf": {}, "text/csv": {}},
    }},
)  # fmt: skip
async def day_report(
    _ctx: SupervisorCtx,
    settings: SettingsDep,
    date: Annotated[BusinessDate, Path()],
    format: Annotated[ReportFormat, Query()] = ReportFormat.JSON,
) -> Response:
    """Return a closed day's stored report (JSON exactly as hashed), or its PDF or CSV."""
    report = await chain.stored_report(date)
    if format is ReportFormat.JSON:
        return JSONResponse(report)
    disposition = {"Content-Disposition": f'attachment; filename="business-day-{date}.'
                                          f'{format.value}"'}  # fmt: skip
    if format is ReportFormat.PDF:
        bank = str(getattr(settings, "bank_name", None) or "Bank System")
        names = await admin.usernames_of(files.user_ids(report))
        return Response(await files.pdf_bytes(report, bank, names), media_type="application/pdf",
                        headers=disposition)  # fmt: skip
    return Response(files.csv_bytes(report), media_type="text/csv; charset=utf-8",
                    headers=disposition)  # fmt: skip


__all__ = ["BusinessDate", "routes"]
