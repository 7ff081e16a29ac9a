"""A customer's profile fields in a form: date of birth, phone and postal address, read back
as the changes to send (an emptied field clears it) and checked as the API checks them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import QFormLayout, QLineEdit

from desktop.text import QT_TRANSLATE_NOOP, tr
from desktop.widgets import named
from shared.schemas.customers import Address, Profile, ProfileUpdate

ADDRESS_FIELDS = ("line1", "line2", "city", "postal_code", "country")
_PROBLEMS = {
    "date_of_birth": QT_TRANSLATE_NOOP(
        "bank", "The date of birth is a past date after 1900 written YYYY-MM-DD."
    ),
    "phone": QT_TRANSLATE_NOOP(
        "bank", "The phone number has 6 to 15 digits (+, spaces, dashes and brackets allowed)."
    ),
    "line1": QT_TRANSLATE_NOOP("bank", "The first address line is needed (up to 100 characters)."),
    "city": QT_TRANSLATE_NOOP("bank", "The address needs a city."),
    "postal_code": QT_TRANSLATE_NOOP("bank", "The address needs a postal code."),
    "country": QT_TRANSLATE_NOOP("bank", "The country is a two-letter code in capitals, e.g. GB."),
}


class ProfileFields:
    """The profile's line edits, added to a form; `changes()` is what to PUT."""

    def __init__(self, form: QFormLayout, profile: Profile | None) -> None:
        self.profile = profile or Profile()
        address = self.profile.address
        birth = self.profile.date_of_birth
        self.date_of_birth = named(QLineEdit(birth.isoformat() if birth else ""),
                                   "dateOfBirthEdit")  # fmt: skip
        self.date_of_birth.setPlaceholderText(tr("YYYY-MM-DD"))
        self.date_of_birth.setMaxLength(10)
        self.phone = named(QLineEdit(self.profile.phone or ""), "phoneEdit")
        self.phone.setPlaceholderText(tr("e.g. +44 20 7946 0958"))
        self.phone.setMaxLength(30)
        self.address: dict[str, QLineEdit] = {}
        labels = {"line1": tr("&Address"), "line2": "", "city": tr("Cit&y"),
                  "postal_code": tr("&Postal code"), "country": tr("Co&untry")}  # fmt: skip
        for name in ADDRESS_FIELDS:
            value = getattr(address, name, None) if address else None
            edit = named(QLineEdit(value or ""), f"address_{name}Edit")
            edit.setMaxLength(2 if name == "country" else 100)
            self.address[name] = edit
        self.address["line1"].setPlaceholderText(tr("Street and number"))
        self.address["line2"].setPlaceholderText(tr("Optional second line"))
        self.address["country"].setPlaceholderText(tr("e.g. GB"))
        form.addRow(tr("Date of &birth"), self.date_of_birth)
        form.addRow(tr("P&hone"), self.phone)
        for name in ADDRESS_FIELDS:
            form.addRow(labels[name], self.address[name])

    def edits(self) -> list[QLineEdit]:
        """Return every line edit of the profile."""
        return [self.date_of_birth, self.phone, *self.address.values()]

    def _address(self) -> dict[str, Any] | None:
        typed = {name: edit.text().strip() for name, edit in self.address.items()}
        if not any(typed.values()):
            return None
        return {name: value or None for name, value in typed.items()}

    def changes(self) -> dict[str, Any]:
        """Return the profile fields that differ from the loaded profile (None clears one)."""
        fields: dict[str, Any] = {}
        birth = self.date_of_birth.text().strip() or None
        loaded_birth = self.profile.date_of_birth.isoformat() if self.profile.date_of_birth \
            else None  # fmt: skip
        if birth != loaded_birth:
            fields["date_of_birth"] = birth
        phone = self.phone.text().strip() or None
        if phone != self.profile.phone:
            fields["phone"] = phone
        address = self._address()
        loaded = self.profile.address.model_dump() if self.profile.address else None
        if address != loaded:
            fields["address"] = address
        return fields

    def problem(self) -> str | None:
        """Return why the server would refuse the changes, in words, or None."""
        changes = self.changes()
        if not changes:
            return None
        try:
            ProfileUpdate.model_validate(changes)
        except ValidationError as error:
            field = str(error.errors()[0]["loc"][-1]) if error.errors()[0]["loc"] else ""
            if field not in _PROBLEMS and isinstance(changes.get("address"), dict):
                try:
                    Address.model_validate(changes["address"])
                except ValidationError as inner:
                    field = str(inner.errors()[0]["loc"][-1])
            return tr(_PROBLEMS.get(field, "Check the profile fields."))
        return None
