"""Administration routes: the audit trail and statistics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from server.api.deps import StaffCtx, SupervisorCtx, list_params
from server.api.routes import errors, router
from server.services import admin
from server.services.views import ListParams
from shared.schemas.admin import AuditEventPublic, AuditSort, DailyStats, Stats
from shared.schemas.common import Page, SortOrder, TimestampFilter

routes = router(tags=["administration"])
AuditList = Annotated[ListParams, Depends(list_params(AuditSort, default_order=SortOrder.DESC))]


@routes.get(
    "/audit", name="audit", response_model=Page[AuditEventPublic], responses=errors(401, 403)
)
async def audit(
    _ctx: SupervisorCtx,
    params: AuditList,
    actor_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    since: Annotated[TimestampFilter | None, Query(description="inclusive")] = None,
    until: Annotated[TimestampFilter | None, Query(description="exclusive")] = None,
    include: Annotated[
        Literal["names"] | None,
        Query(description="`names`: each event also gets `actor_name` and `target_name`"),
    ] = None,
    approval_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**62,
            description="every event of one approval: its approval.* events "
            "and those of the request it executed",
        ),
    ] = None,
) -> Page[AuditEventPublic]:
    """Page through the audit trail, newest first; events are never changed or deleted."""
    return await admin.list_audit(
        params, actor_id=actor_id, action=action, target_type=target_type,
        target_id=target_id, since=since, until=until, names=include == "names",
        approval_id=approval_id,
    )  # fmt: skip


@routes.get("/stats", name="stats", response_model=Stats, responses=errors(401, 403))
async def stats(_ctx: StaffCtx) -> Stats:
    """Counts, balances per currency and today's movements (UTC day)."""
    return await admin.stats()


@routes.get(
    "/stats/daily", name="daily_stats", response_model=DailyStats, responses=errors(401, 403)
)
async def daily(_ctx: StaffCtx, days: Annotated[int, Query(ge=1, le=366)] = 30) -> DailyStats:
    """The movements of each of the last `days` UTC days."""
    return await admin.daily(days)
