"""First start and demo data: the first admin, and `--demo`'s users, accounts and history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import timedelta
from decimal import Decimal

from pydantic import ValidationError
from pymongo.errors import DuplicateKeyError

from server.config import ConfigError, Settings
from server.db import Database
from server.documents import Account, DemoSeed, User
from server.errors import DomainError
from server.security import hash_password
from server.services import movements, users
from server.services.accounts import open_account
from server.services.context import Ctx
from shared.schemas.accounts import AccountCreate
from shared.schemas.common import AccountType, Role, now_ms
from shared.schemas.transactions import TransactionType
from shared.schemas.users import UserCreate

log = logging.getLogger("bank.bootstrap")

DEMO_STAFF = (("admin", "admin123", "Ada Admin", Role.ADMIN),
              ("teller", "teller123", "Tom Teller", Role.TELLER))  # fmt: skip
DEMO_CUSTOMERS = (
    ("alice", "alice123", "Alice Smith", "USD", ("1250.00", "-80.25", "300.00")),
    ("bob", "bob12345", "Bob Jones", "USD", ("640.00", "-120.00")),
    ("carol", "carol123", "Carol Brown", "EUR", ("2000.00", "-450.50", "75.10")),
)
SEED_CLAIM_SECONDS = 120


async def ensure_user(
    ctx: Ctx, *, username: str, password: str, full_name: str, role: Role
) -> User:
    """Create a user if missing; an existing one is left as it is.

    Never a reset: an admin may have changed a demo password, deactivated or deleted the
    user since, and a restart with `--demo` must not undo that.
    """
    existing = await User.find_one({"username": username})  # deleted users keep their name
    if existing is None:
        password_hash = await asyncio.to_thread(hash_password, password)
        with contextlib.suppress(DomainError):  # another process created it first
            await users.insert_user(
                ctx, username=username, password_hash=password_hash, full_name=full_name,
                email=f"{username}@bank.example", role=role,
            )  # fmt: skip
        existing = await User.find_one({"username": username})
        assert existing is not None
    return existing


def check_admin_settings(settings: Settings) -> None:
    """Refuse an ADMIN_USERNAME or ADMIN_PASSWORD the API's rules would refuse (one line)."""
    try:
        UserCreate(
            username=settings.admin_username,
            password=settings.admin_password or secrets.token_urlsafe(18),
            full_name="Administrator",
            email="admin@bank.example",
            role=Role.ADMIN,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        name = {"username": "ADMIN_USERNAME", "password": "ADMIN_PASSWORD"}.get(
            str(error["loc"][0]) if error["loc"] else "", "ADMIN_PASSWORD"
        )
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


async def ensure_admin(database: Database, settings: Settings) -> str | None:
    """On first start with no users, create the admin; return a generated password to print."""
    if await User.find_one({}) is not None:
        return None
    generated = None
    password = settings.admin_password
    if not password:
        password = generated = secrets.token_urlsafe(18)
    ctx = Ctx(db=database)
    username = settings.admin_username.lower()
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        await users.insert_user(
            ctx, username=username, password_hash=password_hash, full_name="Administrator",
            email=f"{username}@bank.example", role=Role.ADMIN,
        )  # fmt: skip
    except DomainError:
        return None  # another process created it at the same moment
    return generated


async def seed_demo(database: Database, settings: Settings) -> None:
    """Ensure the demo users, accounts and history; safe when several processes start at once."""
    ctx = Ctx(db=database)
    staff = {}
    for username, password, name, role in DEMO_STAFF:
        staff[username] = await ensure_user(
            ctx, username=username, password=password, full_name=name, role=role
        )
    collection = DemoSeed.get_pymongo_collection()
    try:
        await collection.insert_one({"_id": "demo", "state": "running", "claimed_at": now_ms()})
    except DuplicateKeyError:
        marker = await collection.find_one({"_id": "demo"})
        if marker is None or marker["state"] != "running":
            return  # seeded already
        if marker["claimed_at"] >= now_ms() - timedelta(seconds=SEED_CLAIM_SECONDS):
            return  # being seeded by another process right now
        claimed = await collection.update_one(
            {"_id": "demo", "claimed_at": marker["claimed_at"]},
            {"$set": {"claimed_at": now_ms()}},
        )
        if claimed.modified_count != 1:
            return
    teller_ctx = Ctx(db=database, actor=staff["teller"])
    for username, password, name, currency, history in DEMO_CUSTOMERS:
        customer = await ensure_user(
            ctx, username=username, password=password, full_name=name, role=Role.USER
        )
        if await Account.find_one({"owner_id": customer.id}) is not None:
            continue
        opened = await open_account(
            teller_ctx,
            AccountCreate(account_type=AccountType.CHECKING, currency=currency,
                          nickname="Everyday", owner_id=customer.id),
        )  # fmt: skip
        await open_account(
            teller_ctx,
            AccountCreate(account_type=AccountType.SAVINGS, currency=currency,
                          nickname="Savings", owner_id=customer.id),
        )  # fmt: skip
        for amount in history:
            value = Decimal(amount)
            kind = TransactionType.DEPOSIT if value > 0 else TransactionType.WITHDRAWAL
            await movements.cash_movement(
                teller_ctx, settings, account_id=opened.id, kind=kind, amount=abs(value),
                description="Demo: opening deposit" if value > 0 else "Demo: cash withdrawal",
            )  # fmt: skip
    await collection.update_one({"_id": "demo"}, {"$set": {"state": "done"}})
    log.info("demo data ready: admin/admin123, teller/teller123, alice/alice123")
