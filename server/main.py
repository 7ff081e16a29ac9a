"""The FastAPI application: middleware, routers, error handlers and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import __version__, backup, first_admin, observability
from server.api.deps import client_ip
from server.api.errors import install_error_handlers
from server.api.routes import (
    accounts,
    admin,
    approvals,
    auth,
    business_day,
    customers,
    holds,
    ledger,
    money,
    reversals,
    service,
    tills,
    users,
)
from server.config import Settings, get_settings
from server.db import init_database, make_client
from server.limits import AbuseLimits
from server.net import UnknownProxyGuard, parse_trusted_proxies
from server.security import default_hash_concurrency, set_hash_concurrency
from server.services import accounts as accounts_service
from server.services import bootstrap, calendar, covered
from server.services import customers as customer_keys
from server.services.ledger import migration

log = logging.getLogger("bank.server")


class PathNormalizer:
    """Answer `/users/` exactly as `/users`: strip one trailing slash, never redirect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                trimmed = path.rstrip("/") or "/"
                scope = dict(scope, path=trimmed, raw_path=trimmed.encode())
        await self.app(scope, receive, send)


class RequestGuard:
    """Give every request an id (echoing a sane `X-Request-ID`) and cap body size."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        ok = 0 < len(incoming) <= 128 and incoming.isascii() and incoming.isprintable()
        request_id = incoming if ok else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._too_large(send, request_id)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, counted_receive, send_with_id)
        except _BodyTooLarge:
            await self._too_large(send, request_id)

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = (
            b'{"detail":"request body is larger than %d bytes","code":"payload_too_large"}'
            % self.max_body
        )
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-request-id", request_id.encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(HTTPException):
    """Raised while a streamed body is read past the cap.

    An HTTPException, because FastAPI turns any other error raised while it reads a body into
    a 400 (a chunked body over the cap answered 400; found by tests/security).
    """

    def __init__(self) -> None:
        super().__init__(413, "the request body is larger than the configured cap")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the database connects in the lifespan."""
    settings = settings or get_settings()
    settings.check()
    settings.signing_key()  # fail at start, not at the first login
    parse_trusted_proxies(settings.trusted_proxies)  # a bad entry fails here too
    set_hash_concurrency(settings.password_hash_concurrency or default_hash_concurrency())
    observability.configure_logging(settings)
    observability.init_sentry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.mongodb_url:
            raise RuntimeError("MONGODB_URL is not set; start the server with `bank-server serve`")
        client: Any = make_client(settings.mongodb_url, timeout_ms=settings.db_timeout_ms)
        app.state.limits = AbuseLimits(settings)
        try:
            app.state.database = await init_database(client, settings.database_name)
            await accounts_service.backfill_owner_staff()  # data from before the field
            await calendar.ensure(settings.bank_timezone)
            await customer_keys.backfill_search_keys()  # users stored before search keys
            app.state.ledger = migration.MigrationGate()
            migrating = asyncio.create_task(
                migration.run(app.state.database, timezone=settings.bank_timezone,
                              gate=app.state.ledger),
                name="ledger-migration",
            )  # fmt: skip
            if settings.bank_demo:
                await bootstrap.seed_demo(app.state.database, settings)
            elif generated := await bootstrap.ensure_admin(app.state.database, settings):
                # A terminal, or a 0600 file in the data dir: never a log.
                first_admin.reveal(settings.bank_data_dir, settings.admin_username, generated)
            scheduler = backup.start_scheduler(settings)  # BACKUP_DIR, BACKUP_INTERVAL_MINUTES
            try:
                yield
            finally:
                migrating.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await migrating
                if scheduler is not None:
                    await scheduler.stop()
        finally:
            await app.state.limits.close()
            await client.close()

    app = FastAPI(
        title="Bank System API",
        version=__version__,
        description="Accounts, money movement and administration for a bank's branches.",
        lifespan=lifespan,
        redirect_slashes=False,
        # Operation ids `tag-name` ("money-deposit"): short, unique names for the clients
        # that tools generate from /openapi.json.
        generate_unique_id_function=lambda route: f"{route.tags[0]}-{route.name}",
        docs_url="/docs" if settings.docs_on else None,
        redoc_url="/redoc" if settings.docs_on else None,
        openapi_url="/openapi.json" if settings.docs_on else None,
    )
    app.state.settings = settings
    covered.register_all()  # the routes an approval can execute
    app.state.metrics = observability.Metrics()
    install_error_handlers(app)
    for routes in (service.routes, auth.routes, users.routes, accounts.routes, accounts.payees,
                   money.routes, reversals.routes, tills.routes, ledger.routes,
                   approvals.routes, business_day.routes, holds.routes, customers.routes,
                   admin.routes):  # fmt: skip
        app.include_router(routes)
    app.add_middleware(RequestGuard, max_body=settings.max_body_bytes)
    if settings.is_production and not settings.trusted_proxies:
        app.add_middleware(UnknownProxyGuard)  # inside the access log: refusals are logged
    # Outside RequestGuard, so a 413, a timeout and an unhandled error are logged and
    # counted like any answer, and carry the security headers.
    app.add_middleware(observability.RequestTimeout, seconds=settings.request_timeout_seconds)
    # CORS outside the guard and the timeout: a browser can read their 413 and 503 too.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "X-Request-ID",
            "X-Device-Token",
        ],
        expose_headers=["X-Request-ID", "Idempotent-Replayed", "Retry-After", "X-Device-Token"],
    )
    app.add_middleware(observability.AccessLog, metrics=app.state.metrics, client_ip=client_ip)
    app.add_middleware(
        observability.SecurityHeaders,
        hsts=settings.is_production,
        docs_paths=("/docs", "/docs/oauth2-redirect", "/redoc") if settings.docs_on else (),
    )
    app.add_middleware(PathNormalizer)
    return app
