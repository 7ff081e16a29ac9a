"""What an approval says in words: who may approve it, where it stands, how it ended.

A covered request answers 202 with the Approval (API.md "Approvals"); the dialogs show its
number, the server's one-sentence summary and who can approve it, and after the decision
its outcome: the executed result, or the refusal (worded by `desktop.messages` from the
stored error's `code` and `context`), the rejection's reason, a cancellation or expiry.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pydantic import ValidationError

from desktop import messages, text
from desktop.api.client import (
    ApiError,
    ApprovalRequired,
    BankClient,
    NetworkError,
    SessionExpired,
)
from desktop.text import plural, tr
from shared.schemas.approvals import ApprovalAction, ApprovalPublic, ApprovalStatus


def approval_of(error: ApprovalRequired) -> ApprovalPublic | None:
    """Return the Approval a 202 carried (None if the answer was not one)."""
    try:
        return ApprovalPublic.model_validate(error.approval)
    except ValidationError:
        return None


def checkers_text(approval: ApprovalPublic) -> str:
    """Say who may approve: a supervisor or an administrator other than the maker."""
    if approval.action is ApprovalAction.TILL_RECEIVE:
        return tr("The teller whose till session receives the cash.")
    return tr("A supervisor or an administrator other than the one who asked.")


def votes_text(approval: ApprovalPublic) -> str:
    """Say how many approvals it has of those it needs, when it needs more than one."""
    if approval.required <= 1:
        return ""
    return tr("{given} of {required} so far.").format(
        given=len(approval.approvals),
        required=plural(approval.required, tr("%n approval"), tr("%n approvals")),
    )


def pending_text(approval: ApprovalPublic) -> str:
    """Say that a request waits for approval: its number, what it is and who may approve."""
    lines = [
        tr("Waiting for approval no. {id}: {summary}").format(
            id=approval.id, summary=_sentence(approval.summary)
        ),
        tr("Nothing has happened yet."),
        tr("Who can approve: {who}").format(who=checkers_text(approval)),
    ]
    votes = votes_text(approval)
    if votes:
        lines.append(votes)
    return "\n".join(lines)


def refusal_of(approval: ApprovalPublic) -> ApiError | None:
    """Return the refusal stored in a failed approval's result, as the maker would have had it."""
    result = approval.result
    if approval.status is not ApprovalStatus.FAILED or result is None:
        return None
    body: dict[str, Any] = result.body
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    return ApiError(result.status, str(body.get("code")), body.get("detail"), context)


def outcome_text(approval: ApprovalPublic, situation: messages.Situation = messages.GENERAL) -> str:
    """Say how a decided approval ended (or that it still waits)."""
    number = approval.id
    status = approval.status
    if status is ApprovalStatus.PENDING:
        return pending_text(approval)
    if status is ApprovalStatus.EXECUTED:
        return tr("Approval no. {id} was given and the request was carried out.").format(id=number)
    if status is ApprovalStatus.FAILED:
        refusal = refusal_of(approval)
        reason = messages.explain(refusal, situation).text if refusal else ""
        return tr("Approval no. {id} was given, but the bank refused the request then: "
                  "{reason}").format(id=number, reason=reason).strip()  # fmt: skip
    if status is ApprovalStatus.REJECTED:
        return tr("Approval no. {id} was rejected: {reason} {nothing}").format(
            id=number, reason=_sentence(approval.reason or tr("no reason given")),
            nothing=situation.nothing_happened,
        ).strip()  # fmt: skip
    if status is ApprovalStatus.CANCELLED:
        return (
            tr("Request no. {id} was cancelled. {nothing}")
            .format(id=number, nothing=situation.nothing_happened)
            .strip()
        )
    return (
        tr("Request no. {id} expired without a decision. {nothing}")
        .format(id=number, nothing=situation.nothing_happened)
        .strip()
    )


def status_line(approval: ApprovalPublic) -> str:
    """Return an approval's status as the queue shows it."""
    return text.approval_status(approval.status)


def approve_here(base_url: str, username: str, password: str, approval_id: int) -> ApprovalPublic:
    """Sign a checker in on a client of their own, approve, sign them out (worker thread).

    The teller's client is never touched: the supervisor at the counter gets a separate
    login session that ends as soon as the approval is given or refused.
    """
    checker = BankClient(base_url)
    try:
        checker.login(username, password)
        try:
            return checker.approve(approval_id)
        finally:
            # The approval's answer matters, not the logout's (its tokens are forgotten anyway).
            with suppress(ApiError, NetworkError, SessionExpired):
                checker.logout()
    finally:
        checker.close()


def _sentence(words: str) -> str:
    words = words.strip()
    return words if words.endswith((".", "!", "?")) else words + "."
