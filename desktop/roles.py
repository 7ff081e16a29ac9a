"""What a role may do in the desktop (the server decides; this only shapes the window)."""

from __future__ import annotations

from shared.schemas.common import Role

# Staff above teller: admins, and supervisors where this version of the API has the role.
_ACCOUNT_ADMINS = frozenset({"admin", "supervisor"})
_STAFF = frozenset({"teller", "supervisor", "admin"})


def is_staff(role: Role) -> bool:
    """Tell whether a role serves customers (teller, supervisor, admin)."""
    return role.value in _STAFF


def administers_accounts(role: Role) -> bool:
    """Tell whether a role freezes, unfreezes, limits and closes accounts."""
    return role.value in _ACCOUNT_ADMINS


def is_admin(role: Role) -> bool:
    """Tell whether a role manages users and reads the audit trail."""
    return role is Role.ADMIN
