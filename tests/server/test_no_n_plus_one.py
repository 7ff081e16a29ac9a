"""`GET /users/?include=accounts` answers from one aggregation: the command count is flat."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymongo import monitoring

from server.db import EmbeddedDatabase, init_database, make_client
from server.services.accounts import open_account
from server.services.context import Ctx
from server.services.users import insert_user, list_users
from server.services.views import ListParams
from shared.schemas.accounts import AccountCreate
from shared.schemas.common import AccountType, Role


class CommandCounter(monitoring.CommandListener):
    """Count the commands the driver sends (PyMongo command monitoring)."""

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.active = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


async def test_listing_users_with_accounts_does_not_grow_with_users(
    wire_db: EmbeddedDatabase,
) -> None:
    counter = CommandCounter()
    client: Any = make_client(wire_db.url)
    client = type(client)(wire_db.url, tz_aware=True, event_listeners=[counter])
    database = await init_database(client, "t_no_n_plus_one")
    ctx = Ctx(db=database)
    admin = await insert_user(ctx, username="boss", password_hash="x", full_name="Boss",
                              email="boss@example.com", role=Role.ADMIN)  # fmt: skip
    staff = Ctx(db=database, actor=await _user(admin.id))
    counts = []
    made = 0
    for total in (3, 12):
        while made < total:
            n = made = made + 1
            user = await insert_user(ctx, username=f"cust{n}", password_hash="x",
                                     full_name=f"Customer {n}", email=f"c{n}@example.com",
                                     role=Role.USER)  # fmt: skip
            for kind in (AccountType.CHECKING, AccountType.SAVINGS):
                await open_account(staff, AccountCreate(account_type=kind, owner_id=user.id))
        counter.commands.clear()
        counter.active = True
        page = await list_users(staff, ListParams(limit=200), q=None, role=Role.USER,
                                include_deleted=False, include_accounts=True)  # fmt: skip
        counter.active = False
        assert page.total == total
        assert all(len(item.accounts) == 2 for item in page.items)  # type: ignore[union-attr]
        counts.append(sum(counter.commands.values()))
        # One aggregate counts the page (count_documents), one answers it with $lookup.
        assert counter.commands["aggregate"] == 2, counter.commands
        # One find reads the open business date (each customer's kyc_status is as of it).
        assert counter.commands["find"] == 1, counter.commands
    assert counts[0] == counts[1], counts
    await client.close()


async def _user(user_id: int) -> Any:
    from server.documents import User

    return await User.get(user_id)
