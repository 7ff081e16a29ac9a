"""Logs, metrics, error reporting and protective response headers.

- **Logs**: stdlib logging with one JSON object per line (`LOG_FORMAT=json`, the default) or
  plain text. Every line written while a request runs carries its `request_id` and `user_id`;
  the access log adds method, route template, status, duration and client IP. Request
  bodies, headers and query strings are never logged, and anything that looks like a bearer
  token or JWT, or equals a configured secret, is replaced before a line is written.
- **Metrics**: Prometheus counters and histograms in a registry of the application's own
  (so several apps in one process never clash). Each uvicorn worker process has its own
  registry; scrape every process (one worker per container), or run one worker.
- **Sentry**: when `SENTRY_DSN` is set, unexpected errors are reported without personal
  data, request bodies or local variables, and with credentials scrubbed.
- **Limits**: a per-request deadline until the response starts, and security headers.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import inspect
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import ConfigError, Settings

log = logging.getLogger("bank.observability")
access_log = logging.getLogger("bank.access")

# The fields an access line carries, in the order they are written.
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "client_ip")
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Credentials that may hide in free text (exception messages, library warnings).
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
)
_SECRETS: set[str] = set()
_SENSITIVE_KEY = re.compile(
    r"(?i)(authorization|cookie|password|passwd|secret|token|api[-_]?key|credential|session)"
)
FILTERED = "[Filtered]"

# The state dict of the request being served (request_id, user_id), for every log line.
_request_state: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "bank_request_state", default=None
)
_current_metrics: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar(
    "bank_metrics", default=None
)


def register_secret(value: str | None) -> None:
    """Never write this exact value to a log line or an error report."""
    if value and len(value) >= 8:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace bearer tokens, JWTs and registered secrets in free text."""
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(FILTERED, text)
    for value in _SECRETS:
        if value in text:
            text = text.replace(value, FILTERED)
    return text


# --- logging -------------------------------------------------------------------------------


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _context(record: logging.LogRecord) -> dict[str, Any]:
    """Return request_id and user_id of the record, or of the request being served."""
    state = _request_state.get() or {}
    return {
        "request_id": getattr(record, "request_id", None) or state.get("request_id"),
        "user_id": getattr(record, "user_id", None) or state.get("user_id"),
    }


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as JSON: ts, level, logger, message and the request fields."""
        payload: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        context = _context(record)
        if context["request_id"] is not None:
            payload.update(context)
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                payload[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            payload["exc_type"] = record.exc_info[0].__name__
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, separators=(",", ":"), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Format a record as `time level logger message key=value...` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of text (plus a traceback, if any)."""
        line = redact(super().format(record))
        context = _context(record)
        if context["request_id"] is not None:
            line += f" request_id={context['request_id']} user_id={context['user_id']}"
        if hasattr(record, "duration_ms"):
            extra = record.__dict__
            line += f" duration_ms={extra['duration_ms']} client_ip={extra.get('client_ip')}"
        return line


class _BankHandler(logging.StreamHandler):
    """The handler configure_logging installs: writes to whatever sys.stderr is now.

    Looking sys.stderr up at each line keeps it right when a test runner swaps the
    stream; the class also marks the handler, so a second configure_logging replaces it.
    """

    @property
    def stream(self) -> Any:
        """Return the current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        return


def configure_logging(settings: Settings) -> None:
    """Send every log line (ours and uvicorn's) to stderr in LOG_FORMAT at LOG_LEVEL."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        raise ConfigError(f"LOG_LEVEL {settings.log_level!r} is not a logging level")
    register_secret(settings.secret_key)
    register_secret(settings.backup_key)
    handler = _BankHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BankHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's lines go through our handler; its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True


# --- metrics -------------------------------------------------------------------------------


class Metrics:
    """The application's Prometheus registry and the series it records."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered, by route template and status",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "http_request_duration_seconds", "Time from request to the end of the answer",
            ["method", "route"], registry=self.registry,
        )  # fmt: skip
        self.movements = Counter(
            "bank_money_movements_total",
            "Money movements by type (deposit, withdrawal, transfer) and outcome (ok, refused)",
            ["type", "outcome", "code"], registry=self.registry,
        )  # fmt: skip
        self.logins = Counter(
            "bank_login_attempts_total",
            "Password checks (sign-ins and password changes) by outcome: ok, "
            "invalid_credentials, rate_limited; only the start of a lockout is audited",
            ["kind", "outcome"], registry=self.registry,
        )  # fmt: skip


def count_movement(action: str, outcome: str, code: str = "") -> None:
    """Count a committed (`ok`) or refused movement; `action` is its audit action name."""
    metrics = _current_metrics.get()
    if metrics is not None:
        kind = action.removeprefix("money.")
        metrics.movements.labels(type=kind, outcome=outcome, code=code).inc()


def count_login(kind: str, outcome: str) -> None:
    """Count a password check: `kind` login or password_change, its outcome."""
    metrics = _current_metrics.get()
    if metrics is not None:
        metrics.logins.labels(kind=kind, outcome=outcome).inc()


# --- middleware ----------------------------------------------------------------------------


def _route_template(scope: Scope) -> str:
    """Return the template of the route that answered (`/accounts/{account_id}`), never the path.

    FastAPI records its API routes in the scope; plain Starlette routes (the docs pages)
    are found again by matching. Anything else is `<unmatched>`, so a scan of random paths
    cannot create a metric series per path.
    """
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            candidate = getattr(route, "path", None)
            if isinstance(candidate, str):
                return candidate
    return UNMATCHED_ROUTE


def _json_answer(status: int, body: dict[str, Any], request_id: str | None) -> list[Message]:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": data},
    ]


class AccessLog:
    """Log one line and record metrics per request; answer an unhandled error with the API's 500.

    It sits outside RequestGuard, so it also sees 413s and timeouts. An exception that
    escapes the application before the answer starts is turned into the app's `Exception`
    handler's answer here (with the request id and security headers) and reported to
    Sentry, instead of reaching uvicorn as a traceback.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        client_ip: Callable[[Request], str | None],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.client_ip = client_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        state_token = _request_state.set(state)
        metrics_token = _current_metrics.set(self.metrics)
        status: int | None = None

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                request_id = state.get("request_id")
                if request_id and not any(key.lower() == b"x-request-id" for key, _ in headers):
                    headers.append((b"x-request-id", str(request_id).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception as exc:
            if status is not None:
                raise  # the answer is under way: uvicorn closes the connection
            for message in await self._error_answer(scope, exc):
                await send_logged(message)
        finally:
            self._finish(scope, state, status, started)
            _current_metrics.reset(metrics_token)
            _request_state.reset(state_token)

    async def _error_answer(self, scope: Scope, exc: Exception) -> list[Message]:
        """Build the answer of the app's Exception handler, and report a 500 to Sentry."""
        handler = getattr(scope.get("app"), "exception_handlers", {}).get(Exception)
        request_id = scope.get("state", {}).get("request_id")
        sentry_sdk.set_tag("request_id", request_id)  # this request's scope: report meets log
        response = None
        if handler is not None:
            try:
                response = handler(Request(scope), exc)
                if inspect.isawaitable(response):
                    response = await response
            except Exception:
                log.exception("the error handler failed")
        if response is None or (response.status_code >= 500 and response.status_code != 503):
            sentry_sdk.capture_exception(exc)
        if response is None:
            body = {"detail": "internal error; it has been logged", "code": "internal_error"}
            return _json_answer(500, body, request_id)
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, collect)
        return messages

    def _finish(
        self, scope: Scope, state: dict[str, Any], status: int | None, started: float
    ) -> None:
        elapsed = time.perf_counter() - started
        method = str(scope.get("method", "GET"))
        method_label = method if method in _METHODS else "OTHER"
        route = _route_template(scope)
        self.metrics.requests.labels(method_label, route, str(status or 0)).inc()
        self.metrics.duration.labels(method_label, route).observe(elapsed)
        try:
            ip = self.client_ip(Request(scope))
        except Exception:  # a malformed forwarding header must never cost the log line
            ip = None
        fields = {
            "method": method_label,
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            "client_ip": ip,
            "request_id": state.get("request_id"),
            "user_id": state.get("user_id"),
        }
        level = logging.ERROR if status is None or status >= 500 else logging.INFO
        access_log.log(level, "%s %s %s", method_label, route, status, extra=fields)


class RequestTimeout:
    """Answer 503 when the answer has not started within REQUEST_TIMEOUT_SECONDS.

    The deadline covers reading the body and running the route; once the answer starts
    (a streamed statement, say) it is lifted, so a long download is never cut.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        deadline = asyncio.timeout(self.seconds)

        async def send_lifting(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_lifting)
        except TimeoutError:
            if started or not deadline.expired():
                raise
            log.warning("stopped a request after %ss without an answer", self.seconds)
            detail = (
                f"the request took longer than {self.seconds:g} s and was stopped; a money "
                "movement may or may not have happened: retry with the same Idempotency-Key"
            )
            body = {"detail": detail, "code": "service_unavailable"}
            for message in _json_answer(503, body, scope.get("state", {}).get("request_id")):
                await send(message)


# --- security headers ----------------------------------------------------------------------

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_DOCS_CSP = (
    "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net {hashes}; "
    "style-src 'self' https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
HSTS = "max-age=31536000; includeSubDomains"


def docs_csp(html: bytes) -> str:
    """Return the docs pages' policy: the CDN FastAPI loads them from, and their inline scripts."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return _DOCS_CSP.format(hashes=hashes).replace("  ", " ")


class SecurityHeaders:
    """Add nosniff, no framing, no referrer, no-store and a CSP to every answer; HSTS in production.

    JSON answers get a policy that allows nothing; the docs pages (Swagger UI and ReDoc
    from jsDelivr) get one that allows exactly their CDN and the hashes of their inline
    scripts, computed from the page itself.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.hsts = hsts
        self.docs_paths = frozenset(docs_paths)

    def _headers(self, csp: str) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
            (b"content-security-policy", csp.encode()),
        ]
        if self.hsts:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers

    def _merged(self, message: Message, csp: str) -> Message:
        headers = list(message.get("headers") or [])
        present = {key.lower() for key, _ in headers}
        headers += [(k, v) for k, v in self._headers(csp) if k not in present]
        return {**message, "headers": headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in self.docs_paths:

            async def send_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = self._merged(message, API_CSP)
                await send(message)

            await self.app(scope, receive, send_headers)
            return
        # A docs page is small: hold it until its inline scripts can be hashed.
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_docs(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                await send(self._merged(start, docs_csp(body)))
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_docs)


# --- Sentry --------------------------------------------------------------------------------


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            key: (FILTERED if isinstance(key, str) and _SENSITIVE_KEY.search(key) else _scrub(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


def scrub_event(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Drop credentials, cookies and bodies from a Sentry event before it leaves the process."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        request.pop("query_string", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                key: value for key, value in headers.items() if not _SENSITIVE_KEY.search(key)
            }
    scrubbed: dict[str, Any] = _scrub(event)
    return scrubbed


def init_sentry(settings: Settings) -> bool:
    """Start reporting unexpected errors to Sentry when SENTRY_DSN is set; tell whether it is."""
    if not settings.sentry_dsn:
        return False
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.integrations.starlette import StarletteIntegration
    from sentry_sdk.utils import BadDsn

    from server import __version__

    try:
        sentry_sdk.init(
            dsn=settings.sentry_dsn,
            environment=settings.sentry_environment or settings.bank_env.value,
            release=f"bank-system@{__version__}",
            traces_sample_rate=settings.sentry_traces_sample_rate,
            send_default_pii=False,
            include_local_variables=False,  # locals hold passwords, tokens and settings
            max_request_body_size="never",
            before_send=scrub_event,  # type: ignore[arg-type]
            before_send_transaction=scrub_event,  # type: ignore[arg-type]
            integrations=[StarletteIntegration(), FastApiIntegration()],
        )
    except BadDsn as exc:
        raise ConfigError(f"SENTRY_DSN is not a valid DSN: {exc}") from exc
    ignore_logger(access_log.name)  # a 5xx line is not a second event: the error is reported
    return True
