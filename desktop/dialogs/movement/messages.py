"""What the movement dialogs say: their words per kind, amounts' problems, refusals' framing.

The reason of a refusal comes from `desktop.messages` (code and facts); this module only
says which account is which and what a refusal or an unknown outcome means for the money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desktop import messages
from desktop.dialogs.movement.flow import Kind
from desktop.messages import Explanation, Situation
from desktop.text import money, tr
from shared.account_number import account_id_from_number
from shared.money import MAX_AMOUNT, MIN_AMOUNT, parse_amount


@dataclass(frozen=True)
class Words:
    """How one kind of movement is named in its dialog and on its receipt."""

    title: str
    heading: str
    verb: str
    past: str
    preposition: str
    noun: str
    receipt_type: str


def words(kind: Kind) -> Words:
    """Return the words of a kind of movement."""
    if kind == "deposit":
        return Words(tr("Deposit"), tr("Deposit cash"), tr("Deposit"), tr("Deposited"),
                     tr("into"), tr("deposit"), tr("Cash deposit"))  # fmt: skip
    if kind == "withdraw":
        return Words(tr("Withdraw"), tr("Withdraw cash"), tr("Withdraw"), tr("Withdrew"),
                     tr("from"), tr("withdrawal"), tr("Cash withdrawal"))  # fmt: skip
    return Words(tr("Transfer"), tr("Transfer money"), tr("Transfer"), tr("Transferred"),
                 tr("from"), tr("transfer"), tr("Transfer"))  # fmt: skip


def situation(kind: Kind, source_id: int | None, to_number: str | None) -> Situation:
    """Describe a movement for the refusal's words: which account is which, what it risks."""
    noun = words(kind).noun
    accounts: dict[int, str] = {}
    if kind == "transfer":
        if source_id is not None:
            accounts[source_id] = tr("the source account")
        destination = account_id_from_number(to_number or "")
        if destination is not None:
            accounts[destination] = tr("the destination account")
        not_found = tr("No active account has that number, or the source account was not found.")
    else:
        if source_id is not None:
            accounts[source_id] = tr("the account")
        not_found = tr("The account was not found; it may have been closed.")
    return Situation(
        nothing_happened=tr("No money moved."),
        unknown_advice=tr(
            "The {noun} may or may not have gone through. Press Retry to send the same request "
            "again: the bank will not apply it twice. If you change the request instead, check "
            "the account's history first."
        ).format(noun=noun),
        accounts=accounts,
        not_found=not_found,
    )


def explain_failure(
    error: BaseException, kind: Kind, source_id: int | None = None, to_number: str | None = None
) -> Explanation:
    """Return a failed movement's words and whether its outcome is unknown."""
    return messages.explain(error, situation(kind, source_id, to_number))


def amount_problem(text: str) -> str | None:
    """Return why `text` is not an amount the API accepts, or None if it is one."""
    try:
        parse_amount(text)
    except ValueError as exc:
        reason = str(exc)
    else:
        return None
    # parse_amount alone decides; these only say its refusal in a teller's words.
    if text == "":
        return tr("Enter an amount.")
    if text != text.strip() or " " in text:
        return tr("Remove the spaces from the amount.")
    if text.startswith("-"):
        return tr("The amount must be positive.")
    if "," in text or "'" in text or "_" in text:
        return tr("Type the amount without thousands separators, e.g. 1250.00.")
    if re.fullmatch(r"[0-9]+[eE][-+]?[0-9]+|[0-9]*\.?[0-9]*[eE][-+]?[0-9]+", text):
        return tr("Write the amount in plain digits, without exponent notation.")
    if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text, re.ASCII):
        return tr("Use at most two decimal places.")
    if re.fullmatch(r"[0-9]{11,}(\.[0-9]*)?", text, re.ASCII) or "at most" in reason:
        return tr("The amount must be at most {most}.").format(most=money(MAX_AMOUNT))
    if "at least" in reason:
        return tr("The amount must be at least {least}.").format(least=money(MIN_AMOUNT))
    return tr("Type the amount in digits with at most two decimals, e.g. 1250.00.")


def amount_range() -> str:
    """Return the hint of an empty amount field."""
    return tr("Enter an amount from {least} to {most}.").format(
        least=money(MIN_AMOUNT), most=money(MAX_AMOUNT)
    )
