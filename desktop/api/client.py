"""The desktop's one HTTP client: typed methods that return `shared` models, typed errors.

Synchronous httpx on purpose: every call runs on a QThreadPool worker (desktop/workers.py),
never on the GUI thread, and a blocking client is the simplest thing to reason about there.
The transport is injectable, so tests can serve synthetic pages without a server.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter

from shared.errors import ErrorCode
from shared.money import to_cents_str
from shared.schemas.accounts import AccountPublic, Payee
from shared.schemas.admin import AuditEventPublic, DailyStats, Stats
from shared.schemas.approvals import ApprovalPublic, PolicyPublic
from shared.schemas.auth import TokenPair
from shared.schemas.business_day import BusinessDayPublic, ClosedDay, VerifyResult
from shared.schemas.common import Page
from shared.schemas.customers import DocumentPublic
from shared.schemas.holds import HoldPublic
from shared.schemas.ledger import JournalPublic
from shared.schemas.search import CustomerMatch
from shared.schemas.service import ServiceInfo
from shared.schemas.tills import CashPosition, SessionLine, SessionPublic, TillPublic
from shared.schemas.transactions import TransactionPublic, TransferPublic
from shared.schemas.users import UserPublic, UserWithAccounts

# Refresh the access token this long before it expires.
REFRESH_MARGIN_SECONDS = 60.0


class ApiError(Exception):
    """The server answered with an error: status, machine code, facts and a sentence."""

    def __init__(
        self, status: int, code: str, detail: Any, context: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.context: dict[str, Any] = dict(context or {})
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Return the server's sentence (or the first validation message)."""
        if isinstance(self.detail, list) and self.detail:
            first = self.detail[0]
            if isinstance(first, dict):
                field = ".".join(str(p) for p in first.get("loc", [])[1:])
                text = str(first.get("msg", "invalid value"))
                return f"{field}: {text}" if field else text
        return str(self.detail)

    @property
    def fields(self) -> tuple[str, ...]:
        """Return the request fields a validation error names (`loc`, not its sentences)."""
        if not isinstance(self.detail, list):
            return ()
        names = []
        for item in self.detail:
            loc = item.get("loc", []) if isinstance(item, dict) else []
            if len(loc) > 1 and str(loc[-1]) not in names:
                names.append(str(loc[-1]))
        return tuple(names)

    @property
    def outcome_unknown(self) -> bool:
        """Tell whether the request may or may not have taken effect (retry with the same key)."""
        return self.status >= 500 or self.code == ErrorCode.IDEMPOTENCY_KEY_IN_USE


class NetworkError(Exception):
    """The server could not be reached or did not answer in time; the outcome is unknown."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ApprovalRequired(Exception):
    """The server took the request for a second person's approval (202); nothing changed yet."""

    def __init__(self, approval: dict[str, Any]) -> None:
        self.approval = approval
        self.approval_id = approval.get("id")
        super().__init__(f"approval {self.approval_id} required")


class SessionExpired(Exception):
    """The login session ended (expired, revoked or logged out): sign in again."""


class InsecureServer(ValueError):
    """The server address is plain http to another computer: passwords would cross in clear."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"{url} is not a secure address: use https:// (plain http only reaches this computer)"
        )


# Sent on POST /login and answered by it: the server's remembered-device token (API.md).
DEVICE_HEADER = "X-Device-Token"


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address is this computer (127.0.0.0/8, ::1, localhost)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_server_url(url: str) -> None:
    """Raise InsecureServer unless `url` is https, or http to this computer (or not set yet)."""
    if not url:
        return  # no server yet (the bundled one is being started)
    parsed = httpx.URL(url)
    if parsed.scheme == "https" and parsed.host:
        return
    if parsed.scheme == "http" and is_loopback(parsed.host):
        return
    raise InsecureServer(url)


_PAGE_OF_ACCOUNTS = TypeAdapter(Page[AccountPublic])
_PAGE_OF_TRANSACTIONS = TypeAdapter(Page[TransactionPublic])
_PAGE_OF_USERS = TypeAdapter(Page[UserPublic])
_PAGE_OF_USERS_WITH_ACCOUNTS = TypeAdapter(Page[UserWithAccounts])
_PAGE_OF_AUDIT_EVENTS = TypeAdapter(Page[AuditEventPublic])
_PAGE_OF_SESSIONS = TypeAdapter(Page[SessionPublic])
_PAGE_OF_APPROVALS = TypeAdapter(Page[ApprovalPublic])
_PAGE_OF_CLOSED_DAYS = TypeAdapter(Page[ClosedDay])
_PAGE_OF_POLICIES = TypeAdapter(Page[PolicyPublic])
_PAGE_OF_HOLDS = TypeAdapter(Page[HoldPublic])
_PAGE_OF_MATCHES = TypeAdapter(Page[CustomerMatch])
_PAGE_OF_TILLS = TypeAdapter(Page[TillPublic])
_PAGE_OF_SESSION_LINES = TypeAdapter(Page[SessionLine])
_CASH_POSITION: TypeAdapter[CashPosition] = TypeAdapter(CashPosition)


def new_idempotency_key() -> str:
    """Return a fresh Idempotency-Key."""
    return str(uuid.uuid4())


class BankClient:
    """A signed-in (or not yet) client of the bank's HTTP API; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # A mock transport puts nothing on the wire: tests may give it any address. Otherwise
        # an insecure address is refused at the first request (see _send), not here, so the
        # sign-in dialog can say why and take another one.
        self._offline = isinstance(transport, httpx.MockTransport)
        # trust_env=False: no proxy, netrc or CA bundle slipped in by the environment.
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, timeout=timeout, trust_env=False
        )
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._margin = REFRESH_MARGIN_SECONDS
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self.user: UserPublic | None = None
        # Remembered-device tokens by (folded) username: the app keeps them in its settings.
        self.device_tokens: dict[str, str] = {}

    # -- session -----------------------------------------------------------------------

    def set_server(self, base_url: str) -> None:
        """Point a signed-out client at another server (the sign-in dialog's Server field)."""
        if self.signed_in:
            raise RuntimeError("sign out before changing the server")
        url = base_url.rstrip("/")
        if not self._offline:
            check_server_url(url)
        self.base_url = url
        self._http.base_url = httpx.URL(self.base_url)

    @property
    def signed_in(self) -> bool:
        """Tell whether the client holds tokens."""
        return self._access is not None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def login(self, username: str, password: str) -> UserPublic:
        """Sign in (again: the same client, re-authenticated in place); raise ApiError 401.

        Sends the device token the server gave this username before, and keeps the new one:
        a remembered device is slowed down, not locked out, by others' wrong passwords.
        """
        folded = username.strip().lower()
        known = self.device_tokens.get(folded)
        headers = {DEVICE_HEADER: known} if known else {}
        response = self._send(
            "POST", "/login", data={"username": username, "password": password}, headers=headers
        )
        self._store(TokenPair.model_validate(response.json()))
        if token := response.headers.get(DEVICE_HEADER):
            self.device_tokens[folded] = token
        self.user = self.me()
        return self.user

    def logout(self) -> None:
        """End the login session on the server and forget the tokens."""
        try:
            if self._access:
                self._authed("POST", "/logout")
        finally:
            self._forget()
            self.user = None

    def _store(self, tokens: TokenPair) -> None:
        with self._lock:
            self._access = tokens.access_token
            self._refresh = tokens.refresh_token
            self._expires_at = time.monotonic() + tokens.expires_in
            self._margin = min(REFRESH_MARGIN_SECONDS, tokens.expires_in / 4)

    def _forget(self) -> None:
        with self._lock:
            self._access = self._refresh = None
            self._expires_at = 0.0

    def seconds_left(self) -> float:
        """Return how long the access token has left."""
        return self._expires_at - time.monotonic()

    def refresh(self, *, used_access: str | None = None) -> None:
        """Trade the refresh token for new tokens; raise SessionExpired if that is refused.

        One thread refreshes at a time, and a thread that finds the tokens already renewed
        by another does not refresh again: presenting a used refresh token would make the
        server end the whole session.
        """
        with self._refresh_lock:
            if used_access is not None and self._access not in (None, used_access):
                return  # another thread renewed the tokens while we waited
            refresh_token = self._refresh
            if refresh_token is None:
                raise SessionExpired("not signed in")
            try:
                response = self._send(
                    "POST", "/login/refresh", json={"refresh_token": refresh_token}
                )
            except ApiError as error:
                if error.status == 401:
                    self._forget()
                    raise SessionExpired(error.message) from error
                raise
            self._store(TokenPair.model_validate(response.json()))

    def _token(self) -> str:
        access = self._access
        if access is None:
            raise SessionExpired("not signed in")
        if self.seconds_left() < self._margin:
            self.refresh(used_access=access)
        if self._access is None:
            raise SessionExpired("not signed in")
        return self._access

    # -- transport ---------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self._offline:
            check_server_url(self.base_url)  # nothing, a password least of all, goes in clear
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise NetworkError("the server did not answer in time", timed_out=True) from exc
        except httpx.TransportError as exc:
            raise NetworkError(f"cannot reach the server at {self.base_url}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                raise ApiError(
                    response.status_code, str(body.get("code")), body.get("detail"),
                    body.get("context") if isinstance(body.get("context"), dict) else None,
                )  # fmt: skip
            except ValueError:
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        return response

    def _authed(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        token = self._token()
        headers["Authorization"] = f"Bearer {token}"
        try:
            return _approved(self._send(method, path, headers=headers, **kwargs))
        except ApiError as error:
            if error.status != 401:
                raise
        # The access token was refused (expired early, clock skew): refresh once and retry.
        self.refresh(used_access=token)
        headers["Authorization"] = f"Bearer {self._token()}"
        try:
            return _approved(self._send(method, path, headers=headers, **kwargs))
        except ApiError as error:
            if error.status == 401:
                self._forget()
                raise SessionExpired(error.message) from error
            raise

    # -- reads -------------------------------------------------------------------------

    def service_info(self) -> ServiceInfo:
        """Return the server's name and version (`GET /`)."""
        return ServiceInfo.model_validate(self._send("GET", "/").json())

    def health(self) -> dict[str, Any]:
        """Return the server's health."""
        result: dict[str, Any] = self._send("GET", "/health").json()
        return result

    def me(self) -> UserPublic:
        """Return the signed-in user."""
        return UserPublic.model_validate(self._authed("GET", "/me").json())

    def accounts(self, **params: Any) -> Page[AccountPublic]:
        """Return a page of accounts (skip, limit, sort, order, q, status, owner_id)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return _PAGE_OF_ACCOUNTS.validate_python(
            self._authed("GET", "/accounts", params=clean).json()
        )

    def account(self, account_id: int) -> AccountPublic:
        """Return one account."""
        return AccountPublic.model_validate(self._authed("GET", f"/accounts/{account_id}").json())

    def transactions(self, account_id: int, **params: Any) -> Page[TransactionPublic]:
        """Return a page of an account's ledger, newest first by default."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        response = self._authed("GET", f"/accounts/{account_id}/transactions", params=clean)
        return _PAGE_OF_TRANSACTIONS.validate_python(response.json())

    def users(self, **params: Any) -> Page[UserPublic]:
        """Return a page of users (staff only)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return _PAGE_OF_USERS.validate_python(self._authed("GET", "/users", params=clean).json())

    def users_with_accounts(self, **params: Any) -> Page[UserWithAccounts]:
        """Return a page of users, each with summaries of their accounts (staff only)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        clean["include"] = "accounts"
        response = self._authed("GET", "/users", params=clean)
        return _PAGE_OF_USERS_WITH_ACCOUNTS.validate_python(response.json())

    def get_user(self, user_id: int) -> UserPublic:
        """Return one user (named so: `user` is the signed-in user)."""
        return UserPublic.model_validate(self._authed("GET", f"/users/{user_id}").json())

    def audit(self, **params: Any) -> Page[AuditEventPublic]:
        """Return a page of the audit trail (admin), newest first unless sorted otherwise."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        response = self._authed("GET", "/audit", params=clean)
        return _PAGE_OF_AUDIT_EVENTS.validate_python(response.json())

    def stats(self) -> Stats:
        """Return the bank's figures and today's movements (teller, admin)."""
        return Stats.model_validate(self._authed("GET", "/stats").json())

    def daily_stats(self, days: int = 30) -> DailyStats:
        """Return the movements of each of the last `days` UTC days, oldest first."""
        response = self._authed("GET", "/stats/daily", params={"days": days})
        return DailyStats.model_validate(response.json())

    def payee(self, number: str) -> Payee:
        """Describe an active account by number before paying it."""
        return Payee.model_validate(self._authed("GET", f"/payees/{number}").json())

    def statement(
        self, account_id: int, fmt: str = "csv", *, since: str | None = None,
        until: str | None = None,
    ) -> Iterator[bytes]:  # fmt: skip
        """Stream a statement file in chunks."""
        params = {k: v for k, v in {"format": fmt, "since": since, "until": until}.items() if v}
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            with self._http.stream(
                "GET", f"/accounts/{account_id}/statement", params=params, headers=headers
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    body = response.json()
                    raise ApiError(response.status_code, str(body.get("code")),
                                   body.get("detail"), body.get("context"))  # fmt: skip
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise NetworkError(f"cannot reach the server at {self.base_url}") from exc

    # -- writes ------------------------------------------------------------------------

    def create_user(self, **fields: Any) -> UserPublic:
        """Register a user."""
        return UserPublic.model_validate(self._authed("POST", "/users", json=fields).json())

    def update_user(self, user_id: int, **fields: Any) -> UserPublic:
        """Change a user: full_name, email, is_active, and as admin role and password."""
        response = self._authed("PUT", f"/users/{user_id}", json=fields)
        return UserPublic.model_validate(response.json())

    def delete_user(self, user_id: int) -> None:
        """Soft-delete a user (admin); ApiError 409 says why when refused."""
        self._authed("DELETE", f"/users/{user_id}")

    def unlock_user(self, user_id: int) -> None:
        """Clear a user's login lockout (admin)."""
        self._authed("POST", f"/users/{user_id}/unlock")

    def open_account(self, owner_id: int, account_type: str, currency: str = "USD",
                     nickname: str | None = None) -> AccountPublic:  # fmt: skip
        """Open an account for a customer."""
        body = {"owner_id": owner_id, "account_type": account_type, "currency": currency}
        if nickname:
            body["nickname"] = nickname
        return AccountPublic.model_validate(self._authed("POST", "/accounts", json=body).json())

    def update_account(self, account_id: int, version: int, **fields: Any) -> AccountPublic:
        """Change an account's status or limits (admin), guarded by the version last read."""
        body = {**fields, "version": version}
        response = self._authed("PUT", f"/accounts/{account_id}/admin", json=body)
        return AccountPublic.model_validate(response.json())

    def close_account(self, account_id: int) -> None:
        """Close a zero-balance account (admin); ApiError 409 says why when refused."""
        self._authed("DELETE", f"/accounts/{account_id}")

    def deposit(self, account_id: int, amount: Decimal, description: str | None,
                key: str) -> TransactionPublic:  # fmt: skip
        """Deposit cash under an Idempotency-Key."""
        return self._movement(f"/accounts/{account_id}/deposit", amount, description, key)

    def withdraw(self, account_id: int, amount: Decimal, description: str | None,
                 key: str) -> TransactionPublic:  # fmt: skip
        """Withdraw cash under an Idempotency-Key."""
        return self._movement(f"/accounts/{account_id}/withdraw", amount, description, key)

    def _movement(self, path: str, amount: Decimal, description: str | None,
                  key: str) -> TransactionPublic:  # fmt: skip
        body: dict[str, Any] = {"amount": to_cents_str(amount)}
        if description:
            body["description"] = description
        response = self._authed("POST", path, json=body, headers={"Idempotency-Key": key})
        return TransactionPublic.model_validate(response.json())

    def transfer(self, from_account_id: int, to_number: str, amount: Decimal,
                 description: str | None, key: str) -> TransferPublic:  # fmt: skip
        """Transfer to an account number under an Idempotency-Key."""
        body: dict[str, Any] = {"from_account_id": from_account_id, "to_account_number": to_number,
                                "amount": to_cents_str(amount)}  # fmt: skip
        if description:
            body["description"] = description
        response = self._authed("POST", "/transfers", json=body, headers={"Idempotency-Key": key})
        return TransferPublic.model_validate(response.json())

    # -- business day and reversals (API.md "Business day", "Reversals") ----------------

    def business_day(self) -> BusinessDayPublic:
        """Return the open business date and today's calendar date (staff)."""
        return BusinessDayPublic.model_validate(self._authed("GET", "/business-day").json())

    def reverse(self, transaction_id: int, reason_code: str, note: str | None,
                key: str) -> TransactionPublic:  # fmt: skip
        """Reverse a movement under an Idempotency-Key; ApprovalRequired when it waits (202)."""
        body: dict[str, Any] = {"reason_code": reason_code}
        if note:
            body["note"] = note
        response = self._authed("POST", f"/transactions/{transaction_id}/reverse", json=body,
                                headers={"Idempotency-Key": key})  # fmt: skip
        return TransactionPublic.model_validate(response.json())

    def day_sessions(self, status: str) -> Page[SessionPublic]:
        """Return the teller sessions in a status, newest first (supervisor, admin)."""
        response = self._authed("GET", "/sessions", params={"status": status, "limit": 200})
        return _PAGE_OF_SESSIONS.validate_python(response.json())

    def day_pending_approvals(self) -> Page[ApprovalPublic]:
        """Return the pending approvals, which expire when the day closes (supervisor, admin)."""
        response = self._authed("GET", "/approvals", params={"status": "pending", "limit": 200})
        return _PAGE_OF_APPROVALS.validate_python(response.json())

    def close_business_day(self, date: str, key: str) -> dict[str, Any]:
        """Close the open business date; return the sealed report (supervisor, admin)."""
        response = self._authed("POST", "/business-day/close", json={"date": date},
                                headers={"Idempotency-Key": key})  # fmt: skip
        report: dict[str, Any] = response.json()
        return report

    def closed_days(self, **params: Any) -> Page[ClosedDay]:
        """Return a page of the closed business days, newest first (supervisor, admin)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        response = self._authed("GET", "/business-days", params=clean)
        return _PAGE_OF_CLOSED_DAYS.validate_python(response.json())

    def day_report(self, date: str) -> dict[str, Any]:
        """Return a closed day's stored report as JSON (supervisor, admin)."""
        response = self._authed("GET", f"/business-days/{date}/report")
        report: dict[str, Any] = response.json()
        return report

    def day_report_file(self, date: str, fmt: str) -> Iterator[bytes]:
        """Stream a closed day's report as PDF or CSV in chunks (supervisor, admin)."""
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            with self._http.stream(
                "GET", f"/business-days/{date}/report", params={"format": fmt}, headers=headers
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    body = response.json()
                    raise ApiError(response.status_code, str(body.get("code")),
                                   body.get("detail"), body.get("context"))  # fmt: skip
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise NetworkError(f"cannot reach the server at {self.base_url}") from exc

    def verify_days(self) -> VerifyResult:
        """Check every closed day's hash, chain and figures (supervisor, admin)."""
        return VerifyResult.model_validate(self._authed("GET", "/business-days/verify").json())

    # -- approvals (maker-checker) -----------------------------------------------------

    def approval_policies(self) -> Page[PolicyPublic]:
        """Return every approval policy (staff)."""
        response = self._authed("GET", "/approval-policies", params={"limit": 200})
        return _PAGE_OF_POLICIES.validate_python(response.json())

    def update_policy(self, action: str, version: int, **fields: Any) -> PolicyPublic:
        """Change a policy (admin) at its version; a weakening one raises ApprovalRequired."""
        body = {**fields, "version": version}
        response = self._authed("PUT", f"/approval-policies/{action}", json=body)
        return PolicyPublic.model_validate(response.json())

    def approvals(self, **params: Any) -> Page[ApprovalPublic]:
        """Return a page of approvals, newest first (status, action, maker_id filters)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        response = self._authed("GET", "/approvals", params=clean)
        return _PAGE_OF_APPROVALS.validate_python(response.json())

    def approval(self, approval_id: int) -> ApprovalPublic:
        """Return one approval as it is now."""
        response = self._authed("GET", f"/approvals/{approval_id}")
        return ApprovalPublic.model_validate(response.json())

    def approve(self, approval_id: int) -> ApprovalPublic:
        """Approve; the last approval executes the request (its `result` says how)."""
        response = self._authed("POST", f"/approvals/{approval_id}/approve", json={})
        return ApprovalPublic.model_validate(response.json())

    def reject_approval(self, approval_id: int, reason: str) -> ApprovalPublic:
        """Reject with a reason: nothing of the request happens."""
        response = self._authed("POST", f"/approvals/{approval_id}/reject", json={"reason": reason})
        return ApprovalPublic.model_validate(response.json())

    def cancel_approval(self, approval_id: int) -> ApprovalPublic:
        """Withdraw one's own pending request."""
        response = self._authed("POST", f"/approvals/{approval_id}/cancel")
        return ApprovalPublic.model_validate(response.json())

    # -- holds, customer identification, the one search (version 2) -----------------------

    def holds(self, account_id: int, **params: Any) -> Page[HoldPublic]:
        """Return a page of an account's holds, oldest first (status, skip, limit)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        response = self._authed("GET", f"/accounts/{account_id}/holds", params=clean)
        return _PAGE_OF_HOLDS.validate_python(response.json())

    def place_hold(
        self, account_id: int, amount: Decimal, reason_code: str, reference: str | None,
        expires_at: str | None, key: str,
    ) -> HoldPublic:  # fmt: skip
        """Hold money on an account under an Idempotency-Key (staff)."""
        body: dict[str, Any] = {"amount": to_cents_str(amount), "reason_code": reason_code}
        if reference:
            body["reference"] = reference
        if expires_at:
            body["expires_at"] = expires_at
        response = self._authed("POST", f"/accounts/{account_id}/holds", json=body,
                                headers={"Idempotency-Key": key})  # fmt: skip
        return HoldPublic.model_validate(response.json())

    def release_hold(self, hold_id: int, note: str | None, key: str) -> HoldPublic:
        """Release a hold; ApprovalRequired when it waits for approval `hold.release`."""
        body = {"note": note} if note else {}
        response = self._authed("POST", f"/holds/{hold_id}/release", json=body,
                                headers={"Idempotency-Key": key})  # fmt: skip
        return HoldPublic.model_validate(response.json())

    def update_profile(self, user_id: int, **fields: Any) -> UserPublic:
        """Set a customer's date of birth, phone or address (a null clears it)."""
        response = self._authed("PUT", f"/users/{user_id}/profile", json=fields)
        return UserPublic.model_validate(response.json())

    def add_document(self, user_id: int, **fields: Any) -> DocumentPublic:
        """File an identity document (type, number, country, expires_on) for a customer."""
        response = self._authed("POST", f"/users/{user_id}/documents", json=fields)
        return DocumentPublic.model_validate(response.json())

    def verify_document(self, user_id: int, document_id: int) -> UserPublic:
        """Record that the signed-in staff member checked a customer's document."""
        response = self._authed("POST", f"/users/{user_id}/documents/{document_id}/verify",
                                json={})  # fmt: skip
        return UserPublic.model_validate(response.json())

    def search_customers(self, q: str, **params: Any) -> Page[CustomerMatch]:
        """Find customers and their accounts by any name, number, email or date (staff)."""
        clean = {k: v for k, v in {"q": q, **params}.items() if v not in (None, "")}
        response = self._authed("GET", "/customers/search", params=clean)
        return _PAGE_OF_MATCHES.validate_python(response.json())

    # -- tills and teller sessions (API.md "Tills and teller sessions") ----------------

    def tills(self, **params: Any) -> Page[TillPublic]:
        """Return a page of tills (tellers never see their cash)."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return _PAGE_OF_TILLS.validate_python(self._authed("GET", "/tills", params=clean).json())

    def till(self, till_id: int) -> TillPublic:
        """Return one till."""
        return TillPublic.model_validate(self._authed("GET", f"/tills/{till_id}").json())

    def open_session(
        self, till_id: int, counted: dict[str, Decimal] | None, key: str
    ) -> SessionPublic:
        """Open the caller's session on a till; a differing count raises ApprovalRequired."""
        body: dict[str, Any] = {}
        if counted is not None:
            body["counted"] = {c: to_cents_str(a) for c, a in counted.items()}
        response = self._authed("POST", f"/tills/{till_id}/sessions", json=body,
                                headers={"Idempotency-Key": key})  # fmt: skip
        return SessionPublic.model_validate(response.json())

    def current_session(self) -> SessionPublic | None:
        """Return the caller's session that is not closed, or None."""
        try:
            response = self._authed("GET", "/sessions/current")
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return SessionPublic.model_validate(response.json())

    def session(self, session_id: int) -> SessionPublic:
        """Return one teller session (blind to its own teller until closed)."""
        return SessionPublic.model_validate(self._authed("GET", f"/sessions/{session_id}").json())

    def session_journal(self, session_id: int, **params: Any) -> Page[SessionLine]:
        """Return a page of the till's legs in a session, oldest first."""
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        response = self._authed("GET", f"/sessions/{session_id}/journal", params=clean)
        return _PAGE_OF_SESSION_LINES.validate_python(response.json())

    def till_cash(
        self, till_id: int, direction: str, currency: str, amount: Decimal,
        reference: str | None, key: str,
    ) -> JournalPublic:  # fmt: skip
        """Move cash between the vault and a till; a teller's raises ApprovalRequired."""
        body: dict[str, Any] = {"direction": direction, "currency": currency,
                                "amount": to_cents_str(amount)}  # fmt: skip
        if reference:
            body["reference"] = reference
        response = self._authed("POST", f"/tills/{till_id}/cash", json=body,
                                headers={"Idempotency-Key": key})  # fmt: skip
        return JournalPublic.model_validate(response.json())

    def close_session(
        self, session_id: int, counted: dict[str, Decimal],
        denominations: dict[str, dict[str, int]] | None, note: str | None, key: str,
    ) -> SessionPublic:  # fmt: skip
        """Close a session with a count; a difference raises ApprovalRequired (`closing`)."""
        body: dict[str, Any] = {"counted": {c: to_cents_str(a) for c, a in counted.items()}}
        if denominations:
            body["denominations"] = denominations
        if note:
            body["note"] = note
        response = self._authed("POST", f"/sessions/{session_id}/close", json=body,
                                headers={"Idempotency-Key": key})  # fmt: skip
        return SessionPublic.model_validate(response.json())

    def cash_position(self) -> CashPosition:
        """Return the cash in the vault and in every till, per currency (supervisor, admin)."""
        return _CASH_POSITION.validate_python(self._authed("GET", "/cash-position").json())


def _approved(response: httpx.Response) -> httpx.Response:
    """Pass an answer on, unless it is a 202 that waits for an approval (then raise)."""
    if response.status_code == 202:
        body = response.json()
        if isinstance(body, dict) and body.get("code") == ErrorCode.APPROVAL_REQUIRED:
            raise ApprovalRequired(dict(body.get("approval") or {}))
    return response


def model_json(model: BaseModel) -> dict[str, Any]:
    """Return a model as JSON-ready data."""
    return model.model_dump(mode="json")
