"""Account numbers: the id zero-padded to 8 digits and two ISO 7064 MOD 97-10 check digits."""

from __future__ import annotations

import re

# ASCII digits only: `\d` and int() also accept other scripts' digits ("٠١٩٥").
_NUMBER_RE = re.compile(r"[0-9]{10}")


def check_digits(base: str) -> str:
    """Return the two check digits that make `base + digits` ≡ 1 (mod 97)."""
    return f"{98 - int(base + '00') % 97:02d}"


def account_number(account_id: int) -> str:
    """Return the 10-digit number of an account id."""
    if not 1 <= account_id <= 99_999_999:
        raise ValueError("account id out of range for an 8-digit account number")
    base = f"{account_id:08d}"
    return base + check_digits(base)


def is_valid_number(number: str) -> bool:
    """Tell whether a string is a well-formed account number with correct check digits."""
    return bool(_NUMBER_RE.fullmatch(number)) and int(number) % 97 == 1


def account_id_from_number(number: str) -> int | None:
    """Return the account id a valid number names, or None."""
    if not is_valid_number(number):
        return None
    account_id = int(number[:8])
    # "0000000098" passes the check, but no account has id 0.
    return account_id or None
