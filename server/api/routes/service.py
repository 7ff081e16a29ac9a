"""Service routes: what this is and whether it is healthy."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from server import __version__
from server.api.deps import DatabaseDep
from server.api.routes import router
from shared.schemas.service import Health, ServiceInfo

routes = router(tags=["service"])


@routes.get("/", response_model=ServiceInfo)
async def root() -> ServiceInfo:
    """Name the service and point at its docs."""
    return ServiceInfo(name="Bank System API", version=__version__)


@routes.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer"}},
)
async def health(database: DatabaseDep) -> Health | JSONResponse:
    """Report whether the server and its database answer."""
    if await database.ping():
        return Health(status="ok", database="ok", version=__version__)
    body = Health(status="unavailable", database="unavailable", version=__version__)
    return JSONResponse(body.model_dump(), status_code=503)
