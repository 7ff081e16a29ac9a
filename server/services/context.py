"""Who is acting, from where, in which request: passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.db import Database
from server.documents import User
from shared.schemas.common import Role


@dataclass(frozen=True)
class Frozen:
    """A request as an approval keeps it: method, path, canonical body and its fingerprint."""

    method: str
    path: str
    body: dict[str, Any]
    fingerprint: str
    idempotency_record: str | None = None


@dataclass(frozen=True)
class Ctx:
    """The caller of a service: database, acting user (None when anonymous), IP and request.

    `request` is the HTTP request a covered action may have to freeze for approval;
    `approval` is set while an approval executes its request as the maker.
    """

    db: Database
    actor: User | None = None
    ip: str | None = None
    request_id: str | None = None
    request: Frozen | None = None
    approval: dict[str, Any] | None = None
    settings: Any = None

    @property
    def actor_id(self) -> int | None:
        """Return the acting user's id, if any."""
        return self.actor.id if self.actor is not None else None

    @property
    def role(self) -> Role | None:
        """Return the acting user's role, if any."""
        return self.actor.role if self.actor is not None else None

    @property
    def is_staff(self) -> bool:
        """Tell whether the actor is staff: a teller, a supervisor or an admin."""
        return self.role is not None and self.role.is_staff

    @property
    def serves_customers(self) -> bool:
        """Tell whether the actor is a teller or a supervisor: staff who see customers only."""
        return self.role in (Role.TELLER, Role.SUPERVISOR)

    @property
    def is_supervisor(self) -> bool:
        """Tell whether the actor is a supervisor or an admin."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        """Tell whether the actor is an admin."""
        return self.role is Role.ADMIN
