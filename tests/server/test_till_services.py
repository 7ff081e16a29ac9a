"""Till services in-process against the real embedded database: what HTTP does not reach.

`till.variance` turned off (counts post at once), the vault count the day's report reads
(`last_vault_count`), and the cash position the report embeds (`cash_position`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from server.db import EmbeddedDatabase, init_database, make_client
from server.documents import User
from server.services.approvals import policies
from server.services.context import Ctx
from server.services.ledger import codes, posting
from server.services.ledger.posting import LegSpec, Posting
from server.services.tills import closing, position, vault_count
from server.services.tills import sessions as tills
from server.services.users import insert_user
from shared.schemas.approvals import ApprovalAction, PolicyUpdate
from shared.schemas.common import Role
from shared.schemas.ledger import JournalKind, Side
from shared.schemas.tills import VaultCountRequest

D = Decimal


@pytest.fixture(scope="module")
async def bank(wire_db: EmbeddedDatabase) -> Any:
    """A database with a supervisor, a teller, 1,000.00 USD in the vault, till.variance off."""
    client: Any = make_client(wire_db.url)
    database = await init_database(client, "t_till_services")
    ctx = Ctx(db=database)
    supervisor = await insert_user(ctx, username="sue", password_hash="x", full_name="Sue",
                                   email="sue@example.com", role=Role.SUPERVISOR)  # fmt: skip
    teller = await insert_user(ctx, username="tom", password_hash="x", full_name="Tom",
                               email="tom@example.com", role=Role.TELLER)  # fmt: skip
    boss = Ctx(db=database, actor=await User.get(supervisor.id))

    async def setup(session: Any) -> None:
        await posting.post(boss, session, Posting(
            kind=JournalKind.VAULT_IN, business_date="2026-12-01", performed_by=supervisor.id,
            legs=[LegSpec(codes.vault("USD"), Side.DEBIT, D("1000.00"), "USD"),
                  LegSpec(codes.head_office("USD"), Side.CREDIT, D("1000.00"), "USD")],
        ))  # fmt: skip
        await policies.apply(ApprovalAction.TILL_VARIANCE,
                             PolicyUpdate(enabled=False, version=1), session)  # fmt: skip

    await database.transaction(setup)
    yield {
        "db": database,
        "boss": boss,
        "teller": Ctx(db=database, actor=await User.get(teller.id)),
    }
    await client.close()


async def test_a_vault_difference_posts_at_once_when_till_variance_is_off(bank: Any) -> None:
    database, boss = bank["db"], bank["boss"]
    balanced = await database.transaction(lambda s: vault_count.vault_count_body(
        boss, s, VaultCountRequest(counted={"USD": D("1000.00")})))  # fmt: skip
    assert balanced.variance == {"USD": D("0.00")}
    business_date = (await vault_count.vault_counts().find_one({}))["business_date"]
    assert (await vault_count.last_vault_count(business_date))["status"] == "balanced"
    short = await database.transaction(lambda s: vault_count.vault_count_body(
        boss, s, VaultCountRequest(counted={"USD": D("996.50")}, note="short")))  # fmt: skip
    assert short.variance == {"USD": D("-3.50")}
    assert (await vault_count.vault_cash())["USD"] == D("996.50")
    last = await vault_count.last_vault_count(business_date)
    assert last is not None
    assert last["status"] == "posted"
    assert (last["counted"], last["expected"], last["variance"]) == (
        {"USD": "996.50"}, {"USD": "1000.00"}, {"USD": "-3.50"})  # fmt: skip
    assert last["journal_id"] is not None
    assert last["note"] == "short"
    assert await vault_count.last_vault_count("1999-01-01") is None


async def test_a_close_with_a_difference_closes_at_once_when_till_variance_is_off(
    bank: Any,
) -> None:
    database, boss, teller = bank["db"], bank["boss"], bank["teller"]
    till = await tills.create_till(boss, name="Service till", cash_limit=None)
    till_id = int(till["_id"])

    async def stock(session: Any) -> None:
        await posting.post(boss, session, Posting(
            kind=JournalKind.VAULT_TO_TILL, business_date="2026-12-01", performed_by=boss.actor_id,
            legs=[LegSpec(codes.till(till_id, "USD"), Side.DEBIT, D("100.00"), "USD",
                          till_id=till_id, till_name="Service till"),
                  LegSpec(codes.vault("USD"), Side.CREDIT, D("100.00"), "USD")],
        ))  # fmt: skip

    await database.transaction(stock)
    opened = await tills.open_session(teller, till_id=till_id)
    closed = await database.transaction(
        lambda s: closing.close_body(
            teller, s, session_id=int(opened["_id"]), counted={"USD": D("102.00")}, note="over"
        )
    )
    assert isinstance(closed, dict)
    assert closed["status"] == "closed"
    assert closed["approval_id"] is None
    assert closed["variance_journal_id"] is not None
    assert await tills.till_cash(till_id) == {"USD": D("102.00")}
    assert (await tills.tills().find_one({"_id": till_id}))["session_id"] is None
    # The cash position the day's report carries: every till, the vault, the total.
    cash = await position.cash_position()
    usd = cash["USD"]
    line = next(t for t in usd.tills if t.till_id == till_id)
    assert (line.cash, line.session_id, line.teller_id) == (D("102.00"), None, None)
    assert usd.total == usd.vault + sum((t.cash or D(0)) for t in usd.tills)
    blind = await position.cash_position(blind_till_id=till_id)
    assert blind["USD"].total is None
    assert next(t for t in blind["USD"].tills if t.till_id == till_id).cash is None
