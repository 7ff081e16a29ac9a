"""Who owns an account number: the payee lookup of the transfer dialog and its verdict.

The lookup asks the server (off the GUI thread) once the teller pauses typing, remembers
definitive answers (a payee, or "no active account has this number") and failures, and
says `changed` whenever an answer arrives. `check_destination` is the pure verdict on a
typed number, from what the lookup knows.
"""

from __future__ import annotations

import re

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from desktop import messages
from desktop.api.client import ApiError, BankClient, SessionExpired
from desktop.text import account_type, tr
from desktop.theme import Tone
from desktop.workers import run_task
from shared.account_number import is_valid_number
from shared.schemas.accounts import AccountPublic, Payee

# Wait this long after the last keystroke before asking the server who owns a number.
PAYEE_DEBOUNCE_MS = 300
_DIGITS_RE = re.compile(r"[0-9]+")


class PayeeLookup(QObject):
    """Look account numbers up on the server, debounced, remembering the answers."""

    changed = Signal()  # an answer (or a failure) arrived
    session_expired = Signal()

    def __init__(self, client: BankClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self.payees: dict[str, Payee | None] = {}  # None: no active account has that number
        self.failures: dict[str, str] = {}
        self._asking: set[str] = set()
        self._pending = ""
        self._timer = QTimer(self, singleShot=True, interval=PAYEE_DEBOUNCE_MS)
        self._timer.timeout.connect(lambda: self.lookup(self._pending))

    def known(self, number: str) -> bool:
        """Tell whether the server's answer for a number is known."""
        return number in self.payees

    def asking(self, number: str) -> bool:
        """Tell whether a lookup of the number is on its way."""
        return number in self._asking

    def schedule(self, number: str, *, skip: str | None = None) -> None:
        """Look a number up once typing pauses, unless its answer is known (or it is `skip`)."""
        if is_valid_number(number) and number not in self.payees and number != skip:
            self._pending = number
            self._timer.start()
        else:
            self._timer.stop()

    def lookup(self, number: str) -> None:
        """Ask the server now, unless the answer is known or already on its way."""
        if not is_valid_number(number) or number in self.payees or number in self._asking:
            return
        self._timer.stop()
        self.failures.pop(number, None)
        self._asking.add(number)
        run_task(
            self._client.payee, number,
            on_done=lambda payee: self._found(number, payee),
            on_error=lambda error: self._failed(number, error),
        )  # fmt: skip

    def forget(self, number: str) -> None:
        """Drop a remembered answer (the server refused the number after all) and ask again."""
        self.payees.pop(number, None)
        self._pending = number
        self._timer.start()

    def _found(self, number: str, payee: Payee) -> None:
        if not shiboken6.isValid(self):
            return
        self._asking.discard(number)
        self.payees[number] = payee
        self.changed.emit()

    def _failed(self, number: str, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._asking.discard(number)
        if isinstance(error, ApiError) and error.status == 404:
            self.payees[number] = None
        else:
            self.failures[number] = messages.explain(error).text
            if isinstance(error, SessionExpired):
                self.session_expired.emit()
        self.changed.emit()


def check_destination(
    number: str, source: AccountPublic | None, lookup: PayeeLookup
) -> tuple[Payee | None, str, Tone]:
    """Return the payee if a typed destination is usable (else None), with a line and a tone."""
    if not number:
        return None, tr("Enter the account number to pay (10 digits)."), Tone.MUTED
    if not _DIGITS_RE.fullmatch(number):
        return None, tr("Account numbers have digits only."), Tone.ERROR
    if len(number) < 10:
        return None, tr("Account numbers have 10 digits ({n} so far).").format(
            n=len(number)), Tone.MUTED  # fmt: skip
    if len(number) > 10:
        return None, tr("Account numbers have 10 digits."), Tone.ERROR
    if not is_valid_number(number):
        return None, tr("This is not a valid account number: check the digits."), Tone.ERROR
    if source is not None and number == source.number:
        return None, tr("This is the source account; choose another destination."), Tone.ERROR
    if lookup.known(number):
        payee = lookup.payees[number]
        if payee is None:
            return None, tr("No active account has this number."), Tone.ERROR
        line = f"{payee.holder} · {payee.currency} · {account_type(payee.account_type)}"
        if source is not None and payee.currency != source.currency:
            return (
                None,
                tr(
                    "{line}: this account holds {payee} and the source holds {source}; a transfer "
                    "needs the same currency on both sides."
                ).format(line=line, payee=payee.currency, source=source.currency),
                Tone.ERROR,
            )
        return payee, line, Tone.OK
    if number in lookup.failures:
        return (
            None,
            tr(
                "Could not check the number ({reason}) Press Enter in the field to try again."
            ).format(reason=lookup.failures[number].rstrip(".") + "."),
            Tone.ERROR,
        )
    return None, tr("Looking up the account…"), Tone.MUTED
