"""Customer identification: profiles, identity documents, verification and the KYC rule.

A customer's profile and documents live on their user document, with the normalised search
keys (server/services/search_keys.py) rewritten in the same update. A document's
normalised `key` (type, number without spaces and dashes, case-folded, country) is the
`_id` of its `identity_documents` entry, written in the same transaction, so one document
identifies one customer: the body checks it first (409 `document_in_use`) and the unique
`_id` catches the race. Staff users carry no profile and no documents (their view: null).
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.db import RetryTransaction
from server.documents import Account, IdentityDocument, User
from server.errors import DomainError, forbidden, not_found, refused
from server.services import audit, calendar, search_keys
from server.services.audit import Action
from server.services.context import Ctx
from server.services.views import document_public, from_raw, kyc_status, user_public
from shared.errors import ErrorCode
from shared.schemas.common import Role, now_ms
from shared.schemas.customers import DocumentCreate, DocumentPublic, KycStatus, ProfileUpdate
from shared.schemas.users import UserPublic

# What a customer may change of their own profile; staff change all of a customer's.
SELF_PROFILE_FIELDS = frozenset({"phone", "address"})


def _users() -> Any:
    return User.get_pymongo_collection()


async def open_date(session: AsyncClientSession | None = None) -> str:
    """Return the open business date (what KYC status is reckoned on)."""
    return str((await calendar.current(session))["date"])


async def user_view(user: User, session: AsyncClientSession | None = None) -> UserPublic:
    """Return the API view of a user, their KYC status as of the open business date."""
    return user_public(user, business_date=await open_date(session))


def _can_see(ctx: Ctx, raw: dict[str, Any]) -> bool:
    """Self and admins see a user; tellers and supervisors see customers."""
    if ctx.actor is None or raw.get("deleted_at") is not None:
        return False
    if raw["_id"] == ctx.actor.id or ctx.is_admin:
        return True
    return ctx.is_staff and raw.get("role") == Role.USER.value


async def _target(ctx: Ctx, user_id: int, session: AsyncClientSession) -> dict[str, Any]:
    """Read a user the caller may see, in the transaction, or answer 404."""
    raw = await _users().find_one({"_id": user_id}, session=session)
    if raw is None or not _can_see(ctx, raw):
        raise not_found("user not found")
    return dict(raw)


def _require_customer(raw: dict[str, Any]) -> None:
    if raw.get("role") != Role.USER.value:
        raise forbidden("staff users have no customer profile or documents")


def _keys(raw: dict[str, Any]) -> list[str]:
    return search_keys.keys_of(
        full_name=raw["full_name"], username=raw["username"], email=raw["email"],
        profile=raw.get("profile"), documents=raw.get("documents") or [],
        previous=raw.get("search_keys") or [],
    )  # fmt: skip


async def _save(
    session: AsyncClientSession, raw: dict[str, Any], update: dict[str, Any]
) -> dict[str, Any]:
    """Apply an update if the user is as read (else start over); keys follow the change."""
    sets = dict(update.get("$set", {}))
    sets["updated_at"] = now_ms()
    changed = {**raw, **sets}
    if "$push" in update:
        changed["documents"] = [*raw.get("documents", []), update["$push"]["documents"]]
    sets["search_keys"] = _keys(changed)
    stored = await _users().find_one_and_update(
        {"_id": raw["_id"], "updated_at": raw["updated_at"]},
        {**update, "$set": sets},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if stored is None:
        raise RetryTransaction(f"user {raw['_id']} changed meanwhile")
    return dict(stored)


async def update_profile_body(
    ctx: Ctx, session: AsyncClientSession, user_id: int, data: ProfileUpdate
) -> UserPublic:
    """Set the given profile fields (a customer only their phone and address)."""
    assert ctx.actor is not None
    raw = await _target(ctx, user_id, session)
    _require_customer(raw)
    given = set(data.model_fields_set)
    if not ctx.is_staff:
        refused_fields = given - SELF_PROFILE_FIELDS
        if refused_fields:
            raise forbidden("you may not change: " + ", ".join(sorted(refused_fields)))
    fields = data.model_dump(mode="json", include=given)
    profile = {**(raw.get("profile") or {}), **fields}
    if profile != (raw.get("profile") or {}):
        raw = await _save(session, raw, {"$set": {"profile": profile}})
        await audit.record(
            ctx, action=Action.CUSTOMER_PROFILE_UPDATED, session=session, target_type="user",
            target_id=user_id, details={"fields": sorted(given)},
        )  # fmt: skip
    return await user_view(from_raw(User, raw), session)


async def add_document_body(
    ctx: Ctx, session: AsyncClientSession, user_id: int, data: DocumentCreate
) -> DocumentPublic:
    """File an identity document shown by a customer (unverified until checked)."""
    raw = await _target(ctx, user_id, session)
    _require_customer(raw)
    key = search_keys.document_key(data.type.value, data.number, data.country)
    registry = IdentityDocument.get_pymongo_collection()
    if await registry.find_one({"_id": key}, projection={"_id": 1}, session=session):
        raise document_in_use(data)
    document = {
        "id": await ctx.db.next_id("documents", session=session), "type": data.type.value,
        "number": data.number, "country": data.country,
        "expires_on": data.expires_on.isoformat(), "key": key, "added_by": ctx.actor_id,
        "added_at": now_ms(), "verified_by": None, "verified_at": None,
    }  # fmt: skip
    try:
        entry = {"_id": key, "user_id": user_id, "document_id": document["id"],
                 "created_at": document["added_at"]}  # fmt: skip
        await registry.insert_one(entry, session=session)
    except DuplicateKeyError as error:  # another transaction filed it first
        raise document_in_use(data) from error
    await _save(session, raw, {"$push": {"documents": document}})
    await audit.record(
        ctx, action=Action.CUSTOMER_DOCUMENT_ADDED, session=session, target_type="user",
        target_id=user_id,
        details={"document_id": document["id"], "type": data.type.value,
                 "country": data.country},
    )  # fmt: skip
    return document_public(document)


def document_in_use(data: DocumentCreate) -> DomainError:
    """Return the refusal of a document another customer already holds."""
    return refused(ErrorCode.DOCUMENT_IN_USE, "this identity document is on file for a customer",
                   type=data.type.value, country=data.country)  # fmt: skip


async def verify_document_body(
    ctx: Ctx, session: AsyncClientSession, user_id: int, document_id: int
) -> UserPublic:
    """Mark a customer's document as checked by the caller (never their own user's)."""
    assert ctx.actor is not None
    if user_id == ctx.actor.id:
        raise forbidden("you may not verify your own documents")
    raw = await _target(ctx, user_id, session)
    _require_customer(raw)
    documents = list(raw.get("documents") or [])
    index = next((n for n, doc in enumerate(documents) if doc["id"] == document_id), None)
    if index is None:
        raise not_found("document not found")
    if documents[index].get("verified_at") is None:
        documents[index] = {**documents[index], "verified_by": ctx.actor.id,
                            "verified_at": now_ms()}  # fmt: skip
        raw = await _save(session, raw, {"$set": {"documents": documents}})
        await audit.record(
            ctx, action=Action.CUSTOMER_DOCUMENT_VERIFIED, session=session, target_type="user",
            target_id=user_id,
            details={"document_id": document_id, "type": documents[index]["type"],
                     "expires_on": documents[index]["expires_on"]},
        )  # fmt: skip
    return await user_view(from_raw(User, raw), session)


async def require_kyc(ctx: Ctx, owner: User, session: AsyncClientSession) -> None:
    """Refuse an account for a customer who is not verified, when KYC_REQUIRED is on (409)."""
    settings = ctx.settings
    if settings is None or not settings.kyc_enforced or owner.role is not Role.USER:
        return
    raw = await _users().find_one({"_id": owner.id}, projection={"documents": 1},
                                  session=session)  # fmt: skip
    status = kyc_status(list((raw or {}).get("documents") or []), await open_date(session))
    if status is not KycStatus.VERIFIED:
        raise refused(
            ErrorCode.KYC_NOT_VERIFIED,
            f"the customer's identity is not verified ({status.value}); verify a valid "
            "identity document first",
            user_id=owner.id, kyc_status=status.value,
        )  # fmt: skip


async def add_search_key(user_id: int, key: str, session: AsyncClientSession | None) -> None:
    """Add a key (an account number) to a user's search keys, in the caller's transaction."""
    await _users().update_one({"_id": user_id}, {"$addToSet": {"search_keys": key}},
                              session=session)  # fmt: skip


def keys_for_new_user(*, full_name: str, username: str, email: str) -> list[str]:
    """Return the search keys of a user about to be created."""
    return search_keys.keys_of(full_name=full_name, username=username, email=email,
                               profile=None, documents=())  # fmt: skip


def keys_after(current: User, sets: dict[str, Any]) -> list[str]:
    """Return a user's search keys after a change of name or email (`sets`)."""
    return _keys({**current.model_dump(), **sets})


async def backfill_search_keys() -> int:
    """Give search keys to users stored before they existed (at start); return how many."""
    changed = 0
    async for raw in _users().find({"search_keys": {"$exists": False}}):
        numbers = [
            search_keys.account_key(account["number"]) async for account in
            Account.get_pymongo_collection().find({"owner_id": raw["_id"]},
                                                  projection={"number": 1})
        ]  # fmt: skip
        keys = search_keys.keys_of(
            full_name=raw["full_name"], username=raw["username"], email=raw["email"],
            profile=raw.get("profile"), documents=raw.get("documents") or [], previous=numbers,
        )  # fmt: skip
        result = await _users().update_one(
            {"_id": raw["_id"], "search_keys": {"$exists": False}},
            {"$set": {"search_keys": keys}},
        )
        changed += int(result.modified_count)
    return changed
