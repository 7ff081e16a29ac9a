"""The movement flow as a state machine, without Qt: review, confirm, send, retry, keys."""

from __future__ import annotations

import itertools
from decimal import Decimal

from desktop.dialogs.movement.flow import MovementFlow, MovementRequest, Press, Step


def keys() -> MovementFlow:
    counter = itertools.count(1)
    return MovementFlow(lambda: f"key-{next(counter)}")


def request(amount: str = "10.00", to: str | None = None) -> MovementRequest:
    kind = "transfer" if to else "deposit"
    return MovementRequest(kind, 1, to, Decimal(amount), None)


def test_review_then_send_then_done() -> None:
    flow = keys()
    assert flow.press() is Press.NOTHING  # an empty form: Ok does nothing
    flow.edited(request())
    assert flow.press() is Press.REVIEW
    assert flow.step is Step.CONFIRMING
    assert flow.press() is Press.SEND
    sent, key = flow.send()
    assert (sent, key, flow.step, flow.editable) == (request(), "key-1", Step.BUSY, False)
    flow.edited(request("99.00"))  # nothing changes while the request is out
    assert flow.request == request()
    flow.succeeded()
    assert flow.step is Step.DONE
    assert flow.press() is Press.NOTHING


def test_an_edit_leaves_the_confirmation() -> None:
    flow = keys()
    flow.edited(request())
    flow.press()
    flow.edited(request("11.00"))
    assert flow.step is Step.EDITING
    assert flow.press() is Press.REVIEW


def test_a_refusal_retires_the_key_and_its_message_goes_on_the_next_edit() -> None:
    flow = keys()
    flow.edited(request())
    flow.press()
    flow.press()
    flow.send()
    flow.failed("Not enough money.", unknown=False)
    assert (flow.step, flow.error, flow.key_for(request())) == (
        Step.EDITING, "Not enough money.", None,
    )  # fmt: skip
    flow.edited(request("5.00"))
    assert flow.error is None
    flow.edited(request())  # the refused request again is a new request: a new key
    flow.press()
    flow.press()
    assert flow.send()[1] == "key-2"


def test_an_unknown_outcome_keeps_its_key_for_retry_and_for_the_same_request_typed_again() -> None:
    flow = keys()
    flow.edited(request())
    flow.press()
    flow.press()
    assert flow.send()[1] == "key-1"
    flow.failed("No answer.", unknown=True)
    assert flow.step is Step.UNKNOWN
    assert flow.press() is Press.SEND  # Retry: straight away
    assert flow.send()[1] == "key-1"
    flow.failed("No answer.", unknown=True)
    # Edited and edited back: the warning stays, and the same request finds the same key.
    flow.edited(request("12.00"))
    assert (flow.step, flow.error) == (Step.EDITING, "No answer.")
    flow.edited(request())
    assert flow.error == "No answer."
    flow.press()
    flow.press()
    assert flow.send()[1] == "key-1"
    flow.succeeded()
    assert flow.key_for(request()) is None
    # A changed request after an unknown outcome is a new request.
    other = keys()
    other.edited(request())
    other.press()
    other.press()
    other.send()
    other.failed("No answer.", unknown=True)
    other.edited(request("13.00"))
    other.press()
    other.press()
    assert other.send()[1] == "key-2"


def test_a_payee_answer_keeps_the_confirmation_while_the_request_stays_valid() -> None:
    flow = keys()
    flow.edited(request(to="0000000195"))
    flow.press()
    flow.revalidated(request(to="0000000195"))
    assert flow.step is Step.CONFIRMING
    flow.revalidated(None)  # the payee turned out not to exist
    assert flow.step is Step.EDITING
    assert flow.press() is Press.NOTHING
