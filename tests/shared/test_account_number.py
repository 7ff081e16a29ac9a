"""Account numbers: 8-digit id plus ISO 7064 MOD 97-10 check digits, typos caught."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from shared.account_number import (
    account_id_from_number,
    account_number,
    check_digits,
    is_valid_number,
)

ids = st.integers(min_value=1, max_value=99_999_999)


def reference_number(account_id: int) -> str:
    """Compute a number independently of the module under test (ISO 7064 MOD 97-10)."""
    base = f"{account_id:08d}"
    remainder = int(base + "00") % 97
    return base + f"{98 - remainder:02d}"


@pytest.mark.parametrize(
    ("account_id", "number"),
    [
        (1, "0000000195"),
        (2, "0000000292"),
        (97, "0000009798"),
        (12_345_678, "1234567889"),
        (99_999_999, "9999999952"),
    ],
)
def test_known_numbers(account_id: int, number: str) -> None:
    assert reference_number(account_id) == number
    assert account_number(account_id) == number
    assert is_valid_number(number)
    assert account_id_from_number(number) == account_id


def test_check_digits_of_a_base() -> None:
    assert check_digits("00000001") == "95"
    assert check_digits("12345678") == "89"


@pytest.mark.parametrize("account_id", [0, -1, 100_000_000, 10**12])
def test_ids_outside_eight_digits_are_refused(account_id: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        account_number(account_id)


@settings(max_examples=500)
@given(ids)
@example(1)
@example(99_999_999)
def test_every_id_gives_a_valid_ten_digit_number(account_id: int) -> None:
    number = account_number(account_id)
    assert len(number) == 10
    assert number.isascii()
    assert number.isdigit()
    assert number[:8] == f"{account_id:08d}"
    assert number == reference_number(account_id)
    assert int(number) % 97 == 1
    assert is_valid_number(number)
    assert account_id_from_number(number) == account_id


@settings(max_examples=500)
@given(ids, st.integers(min_value=0, max_value=9), st.integers(min_value=0, max_value=9))
def test_any_single_digit_change_fails_the_check(
    account_id: int, position: int, digit: int
) -> None:
    number = account_number(account_id)
    assume(number[position] != str(digit))
    typo = number[:position] + str(digit) + number[position + 1 :]
    assert not is_valid_number(typo)
    assert account_id_from_number(typo) is None


@settings(max_examples=500)
@given(ids, st.integers(min_value=0, max_value=8))
def test_any_adjacent_transposition_fails_the_check(account_id: int, position: int) -> None:
    number = account_number(account_id)
    first, second = number[position], number[position + 1]
    assume(first != second)
    swapped = number[:position] + second + first + number[position + 2 :]
    assert not is_valid_number(swapped)
    assert account_id_from_number(swapped) is None


def test_every_typo_of_one_number_is_caught_exhaustively() -> None:
    number = account_number(4_2424_242)
    for position in range(10):
        for digit in "0123456789":
            if digit != number[position]:
                changed = number[:position] + digit + number[position + 1 :]
                assert not is_valid_number(changed), changed
        if position < 9 and number[position] != number[position + 1]:
            swapped = (
                number[:position] + number[position + 1] + number[position] + number[position + 2 :]
            )
            assert not is_valid_number(swapped), swapped


@pytest.mark.parametrize(
    "text",
    [
        "",
        "000000019",  # 9 digits
        "00000001950",  # 11 digits
        "000000019a",
        " 0000000195",
        "0000000195 ",
        "0000000195\n",
        "+000000195",
        "-000000195",
        "00000001.5",
        "0000_00195",
        "٠٠٠٠٠٠٠١٩٥",  # Arabic-Indic digits: int() reads them, an account number must not
        "０００００００１９５",  # fullwidth digits
    ],
)
def test_malformed_strings_are_not_numbers(text: str) -> None:
    assert not is_valid_number(text)
    assert account_id_from_number(text) is None


@given(st.text(max_size=12))
def test_arbitrary_text_validates_only_if_ascii_digits_mod_97(text: str) -> None:
    expected = len(text) == 10 and text.isascii() and text.isdigit() and int(text) % 97 == 1
    assert is_valid_number(text) is expected
    if expected and int(text[:8]) >= 1:
        assert account_number(int(text[:8])) == text


def test_the_all_zero_base_names_no_account() -> None:
    # "0000000098" passes the check, but id 0 is never issued.
    assert is_valid_number("0000000098")
    assert account_id_from_number("0000000098") is None
