"""The review / confirm / send / retry flow of a movement, as a state machine without Qt.

Money moves at most once per request: every request is sent under an Idempotency-Key, and
the key is kept while the outcome is unknown (no answer, a 5xx, or 409
`idempotency_key_in_use`), so Retry makes the server replay the first answer instead of
moving the money again; the same request typed again after edits finds the same key. A
final answer (success or a refusal) retires the key: the server stores refusals too, so
reusing it would replay a stale "insufficient funds". A 202 (the movement waits for a
second person's approval) is final too: the flow waits in PENDING, form frozen, until the
approval is decided; executed ends DONE, anything else (rejected, refused at execution,
cancelled, expired) goes back to EDITING with the reason, and the next send is a new request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, auto
from typing import Literal

Kind = Literal["deposit", "withdraw", "transfer"]
KINDS: tuple[Kind, ...] = ("deposit", "withdraw", "transfer")


class Step(Enum):
    """Where a movement is in its flow."""

    EDITING = auto()
    CONFIRMING = auto()
    BUSY = auto()
    UNKNOWN = auto()  # the last request has no known outcome; Retry resends it with its key
    PENDING = auto()  # the server took the request for approval (202); nothing moved yet
    DONE = auto()


class Press(Enum):
    """What pressing Ok does now."""

    NOTHING = auto()
    REVIEW = auto()  # show the confirmation
    SEND = auto()  # send the request (confirmed, or a retry)


@dataclass(frozen=True)
class MovementRequest:
    """What one press of Confirm asks the server to do; equal requests share a key."""

    kind: Kind
    account_id: int
    to_number: str | None
    amount: Decimal
    description: str | None


class MovementFlow:
    """The steps of one movement dialog, its requests' keys and the error it shows."""

    def __init__(self, new_key: Callable[[], str]) -> None:
        self._new_key = new_key
        self.step = Step.EDITING
        self.request: MovementRequest | None = None  # what the form says now, if it is valid
        self.sent: MovementRequest | None = None
        self.last_key: str | None = None
        self.error: str | None = None
        self.error_sticky = False  # an unknown outcome's warning stays while the teller edits
        self.approval_id: int | None = None  # the approval the movement waits for, if any
        self._keys: dict[MovementRequest, str] = {}

    @property
    def editable(self) -> bool:
        """Tell whether the form may change now."""
        return self.step not in (Step.BUSY, Step.PENDING, Step.DONE)

    @property
    def can_press(self) -> bool:
        """Tell whether Ok does something now."""
        return self.editable and self.request is not None

    def key_for(self, request: MovementRequest) -> str | None:
        """Return the key kept for a request whose outcome is unknown, if any."""
        return self._keys.get(request)

    def edited(self, request: MovementRequest | None) -> None:
        """The teller changed the form: leave the confirmation; drop a refusal's message."""
        if not self.editable:
            return
        self.request = request
        if self.step in (Step.CONFIRMING, Step.UNKNOWN):
            self.step = Step.EDITING  # an unknown outcome's warning stays (error_sticky)
        elif not self.error_sticky:
            self.error = None

    def revalidated(self, request: MovementRequest | None) -> None:
        """Something outside the form changed (a payee answered): keep the step if still valid."""
        if not self.editable:
            return
        self.request = request
        if request is None and self.step is Step.CONFIRMING:
            self.step = Step.EDITING

    def press(self) -> Press:
        """Press Ok: review first, send once confirmed, or resend after an unknown outcome."""
        if not self.can_press:
            return Press.NOTHING
        if self.step is Step.EDITING:
            self.step = Step.CONFIRMING
            return Press.REVIEW
        return Press.SEND

    def send(self) -> tuple[MovementRequest, str]:
        """Start sending the current request; return it with its key."""
        assert self.request is not None
        request = self.request
        key = self._keys.get(request) or self._new_key()
        self._keys[request] = key  # kept until a final answer arrives
        self.last_key, self.sent = key, request
        self.step = Step.BUSY
        self.error, self.error_sticky = None, False
        return request, key

    def succeeded(self) -> None:
        """The server confirmed the movement."""
        if self.sent is not None:
            self._keys.pop(self.sent, None)
        self.step = Step.DONE
        self.error, self.error_sticky = None, False

    def failed(self, message: str, unknown: bool) -> None:
        """The request failed: finally (a refusal) or with an unknown outcome."""
        if not unknown and self.sent is not None:
            self._keys.pop(self.sent, None)  # a final answer: the next press is a new request
        self.step = Step.UNKNOWN if unknown else Step.EDITING
        self.error, self.error_sticky = message, unknown

    def awaiting(self, approval_id: int | None) -> None:
        """The server answered 202: the movement waits for approval; nothing moved yet."""
        if self.sent is not None:
            self._keys.pop(self.sent, None)  # the approval now holds the request
        self.approval_id = approval_id
        self.step = Step.PENDING
        self.error, self.error_sticky = None, False

    def approved(self) -> None:
        """The approval was given and the movement executed."""
        self.succeeded()

    def not_approved(self, message: str) -> None:
        """The approval ended without a movement (rejected, refused, cancelled, expired)."""
        if self.step is not Step.PENDING:
            return
        self.step = Step.EDITING
        self.error, self.error_sticky = message, False
