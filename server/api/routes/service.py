"""Service routes: what this is, whether it is healthy, and its metrics."""

from __future__ import annotations

import ipaddress

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import __version__
from server.api.deps import DatabaseDep, OptionalCtx, SettingsDep
from server.api.routes import TOO_LARGE, errors, router
from server.errors import forbidden
from server.observability import Metrics
from shared.schemas.common import Role
from shared.schemas.service import Health, ServiceInfo

routes = router(tags=["service"])


@routes.get("/", name="info", response_model=ServiceInfo, responses=TOO_LARGE)
async def root(settings: SettingsDep) -> ServiceInfo:
    """Name the bank (BANK_NAME) and point at its docs (null when they are turned off)."""
    docs = "/docs" if settings.docs_on else None
    return ServiceInfo(name=settings.bank_name, version=__version__, docs=docs)


@routes.get(
    "/health",
    name="health",
    response_model=Health,
    responses={
        **TOO_LARGE,
        503: {"model": Health, "description": "The database does not answer"},
    },
)
async def health(database: DatabaseDep) -> Health | JSONResponse:
    """Report whether the server and its database answer."""
    if await database.ping():
        return Health(status="ok", database="ok", version=__version__)
    body = Health(status="unavailable", database="unavailable", version=__version__)
    return JSONResponse(body.model_dump(), status_code=503)


def _is_loopback(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


@routes.get(
    "/metrics",
    name="metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
        **errors(401, 403),
    },
)
async def metrics(request: Request, ctx: OptionalCtx, settings: SettingsDep) -> Response:
    """Prometheus metrics: for admins, and for loopback callers (after TRUSTED_PROXIES) when
    METRICS_LOOPBACK is on (off by default)."""
    loopback = settings.metrics_loopback and _is_loopback(ctx.ip)
    if ctx.role is not Role.ADMIN and not loopback:
        raise forbidden("metrics are served to admins (and to loopback with METRICS_LOOPBACK)")
    app_metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
