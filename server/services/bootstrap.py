"""First start and demo data: the first admin, and `--demo`'s users, accounts and history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import date, timedelta
from decimal import Decimal

from pydantic import ValidationError
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.config import ConfigError, Settings
from server.db import Database
from server.documents import Account, DemoSeed, User
from server.documents.ledger import LedgerAccount
from server.errors import DomainError
from server.security import hash_password
from server.services import calendar, customers, movements, users
from server.services.accounts import open_account
from server.services.context import Ctx
from server.services.ledger import codes, posting
from server.services.ledger.posting import LegSpec, Posting
from server.services.tills import sessions as tills
from server.services.tills.cash import open_session_of
from shared.schemas.accounts import AccountCreate
from shared.schemas.common import AccountType, Role, now_ms
from shared.schemas.customers import DocumentCreate, DocumentType
from shared.schemas.ledger import JournalKind, Side
from shared.schemas.transactions import TransactionType
from shared.schemas.users import UserCreate

log = logging.getLogger("bank.bootstrap")

DEMO_STAFF = (("admin", "admin123", "Ada Admin", Role.ADMIN),
              ("super", "super123", "Sue Supervisor", Role.SUPERVISOR),
              ("teller", "teller123", "Tom Teller", Role.TELLER))  # fmt: skip
DEMO_VAULT_CASH = (("USD", Decimal("50000.00")), ("EUR", Decimal("50000.00")))
DEMO_TILLS = ("Till 1", "Till 2")
DEMO_CUSTOMERS = (
    ("alice", "alice123", "Alice Smith", "USD", ("1250.00", "-80.25", "300.00")),
    ("bob", "bob12345", "Bob Jones", "USD", ("640.00", "-120.00")),
    ("carol", "carol123", "Carol Brown", "EUR", ("2000.00", "-450.50", "75.10")),
)
# Each demo customer is identified: a passport on file, verified by the supervisor.
DEMO_DOCUMENTS = {"alice": ("P1000001", "US"), "bob": ("P1000002", "US"),
                  "carol": ("C1000003", "DE")}  # fmt: skip
DEMO_DOCUMENT_EXPIRY = date(2036, 12, 31)
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
    await _seed_branch(database, settings, staff)
    await collection.update_one({"_id": "demo"}, {"$set": {"state": "done"}})
    log.info("demo data ready: admin/admin123, super/super123, teller/teller123, alice/alice123")


async def _seed_branch(database: Database, settings: Settings, staff: dict[str, User]) -> None:
    """Vault cash, two tills, and the demo history through a closed, balanced session."""
    admin_ctx = Ctx(db=database, actor=staff["admin"])
    teller_ctx = Ctx(db=database, actor=staff["teller"])

    async def vault_cash(session: AsyncClientSession) -> None:
        business_date = await calendar.posting_date(session)
        for currency, amount in DEMO_VAULT_CASH:
            await posting.post(admin_ctx, session, Posting(
                kind=JournalKind.VAULT_IN, business_date=business_date,
                performed_by=staff["admin"].id, reference="Demo: opening vault cash",
                description="Demo: opening vault cash",
                legs=[LegSpec(codes.vault(currency), Side.DEBIT, amount, currency),
                      LegSpec(codes.head_office(currency), Side.CREDIT, amount, currency)],
            ))  # fmt: skip

    # Each step checks what a crashed earlier run left, so a resumed seed does it once.
    if await LedgerAccount.get(codes.vault(DEMO_VAULT_CASH[0][0])) is None:
        await database.transaction(vault_cash)
    till_ids = []
    for name in DEMO_TILLS:
        till = await tills.tills().find_one({"name": name})
        till = till or await tills.create_till(admin_ctx, name=name, cash_limit=None)
        till_ids.append(int(till["_id"]))
    opened = await open_session_of(staff["teller"].id) or await tills.open_session(
        teller_ctx, till_id=till_ids[0]
    )
    for username, password, name, currency, history in DEMO_CUSTOMERS:
        customer = await ensure_user(
            Ctx(db=database), username=username, password=password, full_name=name,
            role=Role.USER,
        )  # fmt: skip
        if not any(doc.get("verified_at") for doc in customer.documents):
            await _identify(database, staff, customer)
        if await Account.find_one({"owner_id": customer.id}) is not None:
            continue
        checking = await open_account(
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
                teller_ctx, settings, account_id=checking.id, kind=kind, amount=abs(value),
                description="Demo: opening deposit" if value > 0 else "Demo: cash withdrawal",
            )  # fmt: skip
    counted = await tills.till_cash(int(opened["till_id"]))
    await database.transaction(
        lambda session: tills.close_balanced_body(
            teller_ctx, session, session_id=int(opened["_id"]), counted=counted,
            note="Demo: balanced",
        )
    )  # fmt: skip


async def _identify(database: Database, staff: dict[str, User], customer: User) -> None:
    """File and verify a demo customer's passport (the teller files it, the supervisor checks).

    A rerun after a crash between the two steps verifies the passport already on file.
    """
    number, country = DEMO_DOCUMENTS[customer.username]
    document_id = customer.documents[0]["id"] if customer.documents else None
    if document_id is None:
        document = DocumentCreate(type=DocumentType.PASSPORT, number=number, country=country,
                                  expires_on=DEMO_DOCUMENT_EXPIRY)  # fmt: skip
        filed = await database.transaction(
            lambda session: customers.add_document_body(
                Ctx(db=database, actor=staff["teller"]), session, customer.id, document
            )
        )  # fmt: skip
        document_id = filed.id
    await database.transaction(
        lambda session: customers.verify_document_body(
            Ctx(db=database, actor=staff["super"]), session, customer.id, document_id
        )
    )  # fmt: skip
