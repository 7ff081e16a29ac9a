"""Idempotency-Key on deposits, withdrawals and transfers: replay, scope, claims, races."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from server.services.idempotency import fingerprint
from tests.ledger_checks import customer_legs
from tests.support import Api, ServerProcess, dec, expect, user_id

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
Party = tuple[dict[str, Any], Api]

KINDS = ("deposit", "withdraw", "transfer")
REPLAYED = "Idempotent-Replayed"


# ---------------------------------------------------------------- helpers


def new_key() -> str:
    """Return a fresh Idempotency-Key."""
    return f"key-{uuid.uuid4()}"


def record_id(owner_id: int, key: str) -> str:
    """Return the `_id` of a user's key in `idempotency_keys`."""
    return f"{owner_id}:{hashlib.sha256(key.encode()).hexdigest()}"


def keyed(api: Api, path: str, body: Any, key: str | bytes | None) -> httpx.Response:
    """POST a JSON body (a dict, or raw bytes sent exactly as given) with an Idempotency-Key."""
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    return api.post(path, content=content, headers=headers)


def movement(kind: str, source: dict[str, Any], dest: dict[str, Any], amount: Any,
             **extra: Any) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Return the path and body of a deposit, withdrawal or transfer."""
    if kind == "transfer":
        return "/transfers", {"from_account_id": source["id"], "to_account_id": dest["id"],
                              "amount": amount, **extra}  # fmt: skip
    return f"/accounts/{source['id']}/{kind}", {"amount": amount, **extra}


def canonical(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Return the canonical model dump the server fingerprints (amount as "x.xx")."""
    amount = f"{Decimal(str(body['amount'])):.2f}"
    if kind == "transfer":
        return {"from_account_id": body["from_account_id"],
                "to_account_id": body.get("to_account_id"),
                "to_account_number": body.get("to_account_number"), "amount": amount,
                "description": body.get("description")}  # fmt: skip
    return {"amount": amount, "description": body.get("description")}


def state(mongo: Any, *account_ids: int) -> dict[str, Any]:
    """Capture balances, ledgers, transfers and money audit events of some accounts."""
    accounts = {}
    for account_id in account_ids:
        raw = mongo.accounts.find_one({"_id": account_id})
        entries = [e["_id"] for e in customer_legs(mongo, account_id)]
        accounts[account_id] = (dec(raw["balance"]), raw.get("entry_seq", 0), sorted(entries))
    return {
        "accounts": accounts,
        "transfers": mongo.transfers.count_documents({}),
        "events": mongo.audit_events.count_documents({"action": {"$regex": "^money\\."}}),
    }


def balance(api: Api, account_id: int) -> str:
    """Return an account's balance as the API shows it."""
    return str(expect(api.get(f"/accounts/{account_id}"), 200)["balance"])


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def customer(make_user: MakeUser) -> Party:
    """A customer who moves money on their own accounts (self-service cash is on in tests)."""
    return make_user("user")


@pytest.fixture(scope="module")
def other(make_user: MakeUser) -> Party:
    """A second customer."""
    return make_user("user")


@pytest.fixture
def mine(customer: Party, open_account: OpenAccount) -> OpenAccount:
    """Open a new account of the customer, optionally funded."""

    def factory(deposit: str | None = None, **fields: Any) -> dict[str, Any]:
        return open_account(customer[0]["id"], deposit=deposit, **fields)

    return factory


# ---------------------------------------------------------------- replay


@pytest.mark.parametrize("kind", KINDS)
def test_retry_with_the_same_key_replays_and_moves_nothing(
    customer: Party, mine: OpenAccount, mongo: Any, kind: str
) -> None:
    owner, api = customer
    source, dest = mine(deposit="100.00"), mine()
    key = new_key()
    path, body = movement(kind, source, dest, "10.00", description="once only")
    started = datetime.now(UTC)
    first = keyed(api, path, body, key)
    answer = expect(first, 201)
    assert REPLAYED not in first.headers
    after_first = state(mongo, source["id"], dest["id"])
    expected = {"deposit": "110.00", "withdraw": "90.00", "transfer": "90.00"}[kind]
    assert balance(api, source["id"]) == expected

    # The stored answer: done, the first status and body, kept at least 24 hours.
    record = mongo.idempotency_keys.find_one({"_id": record_id(owner["id"], key)})
    assert record is not None
    assert record["user_id"] == owner["id"]
    assert record["state"] == "done"
    assert record["status"] == 201
    assert record["body"] == answer
    assert record["fingerprint"] == fingerprint("POST", path, canonical(kind, body))
    assert started - timedelta(seconds=5) <= record["created_at"] <= datetime.now(UTC)
    assert record["expires_at"] - record["created_at"] >= timedelta(hours=24)

    for _ in range(3):
        again = keyed(api, path, body, key)
        assert again.status_code == 201
        assert again.headers.get(REPLAYED) == "true"
        assert again.json() == answer
        assert again.content == first.content
    assert state(mongo, source["id"], dest["id"]) == after_first
    assert balance(api, source["id"]) == expected
    # Without the key, the same request is a new movement.
    expect(keyed(api, path, body, None), 201)
    assert state(mongo, source["id"], dest["id"]) != after_first


@pytest.mark.parametrize("kind", KINDS)
def test_the_canonical_body_and_path_decide_what_is_the_same_request(
    customer: Party, mine: OpenAccount, mongo: Any, kind: str
) -> None:
    _, api = customer
    source, dest = mine(deposit="100.00"), mine()
    key = new_key()
    path, body = movement(kind, source, dest, 10)
    raw = httpx.Request("POST", "/", json=body).content
    assert b'"amount":10' in raw.replace(b" ", b"")
    answer = expect(keyed(api, path, raw, key), 201)
    assert answer["amount"] == "10.00"
    after = state(mongo, source["id"], dest["id"])
    spellings: list[tuple[str, Any]] = [
        (path, {**body, "amount": "10.00"}),
        (path, {**body, "amount": "10"}),
        (path, {**body, "amount": "010.0"}),
        (path + "/", {**body, "amount": "10.00"}),
        (path, {**body, "description": None}),
        (
            path,
            (
                f'{{"to_account_id": {dest["id"]}, "amount": 10.00, '
                f'"from_account_id": {source["id"]}}}'
            ).encode()
            if kind == "transfer"
            else b'{"amount": 10.0, "description": null}',
        ),
        (path, dict(reversed(list(body.items())))),
    ]
    if kind == "transfer":
        spellings.append((path, {**body, "to_account_number": None}))
    for spelled_path, spelled in spellings:
        again = keyed(api, spelled_path, spelled, key)
        assert again.status_code == 201, (spelled_path, spelled, again.text)
        assert again.headers.get(REPLAYED) == "true"
        assert again.json() == answer
    assert state(mongo, source["id"], dest["id"]) == after


@pytest.mark.parametrize("kind", KINDS)
def test_a_different_request_with_the_same_key_answers_422(
    customer: Party, mine: OpenAccount, mongo: Any, kind: str
) -> None:
    owner, api = customer
    source, dest, third = mine(deposit="100.00"), mine(deposit="100.00"), mine()
    key = new_key()
    path, body = movement(kind, source, dest, "10.00")
    answer = expect(keyed(api, path, body, key), 201)
    stored = mongo.idempotency_keys.find_one({"_id": record_id(owner["id"], key)})
    after = state(mongo, source["id"], dest["id"], third["id"])
    other_kind = {"deposit": "withdraw", "withdraw": "deposit", "transfer": "deposit"}[kind]
    different: list[tuple[str, dict[str, Any]]] = [
        (path, {**body, "amount": "10.01"}),
        (path, {**body, "amount": 1}),
        (path, {**body, "description": "now with words"}),
        (path, {**body, "description": ""}),
        movement(other_kind, source, dest, "10.00"),
    ]
    if kind == "transfer":
        different += [
            (path, {**body, "to_account_id": third["id"]}),
            (path, {**body, "from_account_id": dest["id"], "to_account_id": source["id"]}),
            # The same destination named by number is a different request body.
            (
                path,
                {
                    "from_account_id": source["id"],
                    "to_account_number": dest["number"],
                    "amount": "10.00",
                },
            ),
        ]
    else:
        different.append(movement(kind, third, dest, "10.00"))
    for other_path, other_body in different:
        response = keyed(api, other_path, other_body, key)
        error = expect(response, 422, "idempotency_key_reused")
        assert isinstance(error["detail"], str)
        assert REPLAYED not in response.headers
    assert state(mongo, source["id"], dest["id"], third["id"]) == after
    # The stored answer is untouched and still replays.
    assert mongo.idempotency_keys.find_one({"_id": record_id(owner["id"], key)}) == stored
    again = keyed(api, path, body, key)
    assert again.status_code == 201
    assert again.json() == answer


def test_the_scope_is_the_user_and_the_key(
    customer: Party, other: Party, teller: Api, admin: Api, mine: OpenAccount,
    open_account: OpenAccount, mongo: Any,
) -> None:  # fmt: skip
    key = new_key()
    account = mine(deposit="50.00")
    # Two staff members deposit on one account with the same key: two deposits.
    path, body = movement("deposit", account, account, "5.00")
    by_teller = expect(keyed(teller, path, body, key), 201)
    by_admin = keyed(admin, path, body, key)
    assert by_admin.status_code == 201
    assert REPLAYED not in by_admin.headers
    assert by_admin.json()["id"] != by_teller["id"]
    assert balance(admin, account["id"]) == "60.00"
    # Each one's retry replays their own answer.
    assert keyed(teller, path, body, key).json() == by_teller
    assert keyed(admin, path, body, key).json() == by_admin.json()
    assert balance(admin, account["id"]) == "60.00"
    # Two customers with the same key on their own transfers: each moves money once, and a
    # different body under another user's key is not a reuse.
    theirs = open_account(other[0]["id"], deposit="50.00")
    mine_out = expect(keyed(customer[1], *movement("transfer", account, theirs, "1.00"), key), 201)
    theirs_out = expect(keyed(other[1], *movement("transfer", theirs, account, "2.00"), key), 201)
    assert mine_out["id"] != theirs_out["id"]
    for api, (src, dst, amount), answer in (
        (customer[1], (account, theirs, "1.00"), mine_out),
        (other[1], (theirs, account, "2.00"), theirs_out),
    ):
        again = keyed(api, *movement("transfer", src, dst, amount), key)
        assert again.headers.get(REPLAYED) == "true"
        assert again.json() == answer
    assert balance(admin, account["id"]) == "61.00"
    assert balance(admin, theirs["id"]) == "49.00"
    ids = {record_id(user_id(api), key) for api in (teller, admin, customer[1], other[1])}
    assert mongo.idempotency_keys.count_documents({"_id": {"$in": sorted(ids)}}) == 4


# ---------------------------------------------------------------- what is stored, what is not


@pytest.mark.parametrize("kind", ["withdraw", "transfer"])
def test_a_409_refusal_is_stored_and_replayed_after_funds_arrive(
    customer: Party, teller: Api, mine: OpenAccount, mongo: Any, kind: str
) -> None:
    owner, api = customer
    source, dest = mine(deposit="5.00"), mine()
    key = new_key()
    path, body = movement(kind, source, dest, "20.00")
    first = keyed(api, path, body, key)
    refusal = expect(first, 409, "insufficient_funds")
    assert REPLAYED not in first.headers
    record = mongo.idempotency_keys.find_one({"_id": record_id(owner["id"], key)})
    assert record["state"] == "done"
    assert record["status"] == 409
    assert record["body"] == refusal
    refused_events = mongo.audit_events.count_documents({"outcome": "refused",
                                                         "target_id": source["id"]})  # fmt: skip
    assert refused_events == 1
    expect(teller.post(f"/accounts/{source['id']}/deposit", json={"amount": "100.00"}), 201)
    after_funding = state(mongo, source["id"], dest["id"])
    for _ in range(2):
        again = keyed(api, path, body, key)
        assert again.status_code == 409
        assert again.headers.get(REPLAYED) == "true"
        assert again.json() == refusal
    # Nothing moved and no second refusal was recorded.
    assert state(mongo, source["id"], dest["id"]) == after_funding
    assert balance(api, source["id"]) == "105.00"
    assert mongo.audit_events.count_documents({"outcome": "refused",
                                               "target_id": source["id"]}) == 1  # fmt: skip
    # A new key runs the request afresh, and now it succeeds.
    expect(keyed(api, path, body, new_key()), 201)
    assert balance(api, source["id"]) == "85.00"


def test_a_validation_422_is_not_stored(customer: Party, mine: OpenAccount, mongo: Any) -> None:
    owner, api = customer
    account = mine(deposit="10.00")
    key = new_key()
    path = f"/accounts/{account['id']}/deposit"
    before = state(mongo, account["id"])
    expect(keyed(api, path, b'{"amount": "1.005"}', key), 422, "validation_error")
    expect(keyed(api, path, {"amount": "1.00", "nickname": "x"}, key), 422, "validation_error")
    assert mongo.idempotency_keys.count_documents({"_id": record_id(owner["id"], key)}) == 0
    assert state(mongo, account["id"]) == before
    corrected = keyed(api, path, {"amount": "1.00"}, key)
    answer = expect(corrected, 201)
    assert REPLAYED not in corrected.headers
    assert keyed(api, path, {"amount": "1.00"}, key).json() == answer
    assert balance(api, account["id"]) == "11.00"


def test_a_same_account_422_is_not_stored(customer: Party, mine: OpenAccount, mongo: Any) -> None:
    owner, api = customer
    source, dest = mine(deposit="10.00"), mine()
    key = new_key()
    before = state(mongo, source["id"], dest["id"])
    for _ in range(2):
        expect(keyed(api, *movement("transfer", source, source, "1.00"), key), 422,
               "same_account")  # fmt: skip
    assert mongo.idempotency_keys.count_documents({"_id": record_id(owner["id"], key)}) == 0
    assert state(mongo, source["id"], dest["id"]) == before
    corrected = expect(keyed(api, *movement("transfer", source, dest, "1.00"), key), 201)
    assert corrected["to_account_id"] == dest["id"]
    assert balance(api, dest["id"]) == "1.00"


def test_a_404_is_not_stored(
    customer: Party, other: Party, mine: OpenAccount, open_account: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    source, dest = mine(deposit="10.00"), mine()
    hidden = open_account(other[0]["id"], deposit="10.00")
    key = new_key()
    before = state(mongo, source["id"], dest["id"], hidden["id"])
    missing = {"from_account_id": source["id"], "to_account_id": 10**9, "amount": "1.00"}
    expect(keyed(api, "/transfers", missing, key), 404, "not_found")
    expect(keyed(api, "/transfers", missing, key), 404, "not_found")
    # Someone else's account, the same key: 404 again, nothing kept.
    expect(keyed(api, *movement("deposit", hidden, hidden, "1.00"), key), 404, "not_found")
    assert mongo.idempotency_keys.count_documents({"_id": record_id(owner["id"], key)}) == 0
    assert state(mongo, source["id"], dest["id"], hidden["id"]) == before
    fixed = keyed(api, *movement("transfer", source, dest, "1.00"), key)
    answer = expect(fixed, 201)
    assert REPLAYED not in fixed.headers
    again = keyed(api, *movement("transfer", source, dest, "1.00"), key)
    assert again.headers.get(REPLAYED) == "true"
    assert again.json() == answer
    assert balance(api, source["id"]) == "9.00"


@pytest.mark.parametrize(
    "key",
    [b"", b"k" * 256, b"two words", b"tab\there", b"caf\xc3\xa9", b"\xe9t\xe9",
     b"ctl\x01", b"del\x7f"],
    ids=["empty", "256", "space", "tab", "utf8", "latin1", "ctl", "del"],
)  # fmt: skip
@pytest.mark.parametrize("kind", KINDS)
def test_invalid_keys_answer_422_and_move_nothing(
    customer: Party, mine: OpenAccount, mongo: Any, kind: str, key: bytes
) -> None:
    owner, api = customer
    source, dest = mine(deposit="10.00"), mine()
    before = state(mongo, source["id"], dest["id"])
    keys_before = mongo.idempotency_keys.count_documents({"user_id": owner["id"]})
    response = keyed(api, *movement(kind, source, dest, "1.00"), key)
    if key in (b"ctl\x01", b"del\x7f") and response.status_code == 400:
        # RFC 9110 forbids these in a field value: uvicorn's HTTP parser refuses the request
        # before the application sees it. (A tab is legal HTTP, so the API answers it: 422.)
        assert "idempotency" not in response.text.lower()
    else:
        error = expect(response, 422, "invalid_idempotency_key")
        assert isinstance(error["detail"], str)
    assert state(mongo, source["id"], dest["id"]) == before
    assert mongo.idempotency_keys.count_documents({"user_id": owner["id"]}) == keys_before


@pytest.mark.parametrize("key", ["k" * 255, "!", "~", "A-z_0.9:/+=@{}"])
def test_keys_at_the_edges_are_accepted(customer: Party, mine: OpenAccount, key: str) -> None:
    _, api = customer
    account = mine()
    path, body = movement("deposit", account, account, "1.00")
    answer = expect(keyed(api, path, body, key), 201)
    again = keyed(api, path, body, key)
    assert again.headers.get(REPLAYED) == "true"
    assert again.json() == answer
    assert balance(api, account["id"]) == "1.00"


# ---------------------------------------------------------------- claims


@pytest.mark.parametrize("kind", KINDS)
def test_a_running_request_holds_its_key_until_the_claim_lapses(
    customer: Party, mine: OpenAccount, mongo: Any, kind: str
) -> None:
    owner, api = customer
    source, dest = mine(deposit="100.00"), mine()
    key = new_key()
    path, body = movement(kind, source, dest, 10)
    now = datetime.now(UTC)
    pending = {
        "_id": record_id(owner["id"], key), "user_id": owner["id"],
        "fingerprint": fingerprint("POST", path, canonical(kind, body)), "state": "pending",
        "claim": "someone-else", "claimed_at": now, "status": None, "body": None,
        "created_at": now, "expires_at": now + timedelta(hours=48),
    }  # fmt: skip
    mongo.idempotency_keys.insert_one(pending)
    before = state(mongo, source["id"], dest["id"])
    for spelled in (body, {**body, "amount": "10.00"}):
        response = keyed(api, path, spelled, key)
        expect(response, 409, "idempotency_key_in_use")
        assert int(response.headers["Retry-After"]) >= 1
        assert REPLAYED not in response.headers
    # A different request under the held key is still a reuse.
    expect(keyed(api, path, {**body, "amount": "11.00"}, key), 422, "idempotency_key_reused")
    assert state(mongo, source["id"], dest["id"]) == before  # no movement, no refused event
    held = mongo.idempotency_keys.find_one({"_id": pending["_id"]})
    assert held["state"] == "pending"
    assert held["claim"] == "someone-else"

    # 31 seconds later the claim has lapsed: the next request takes the key over, once.
    mongo.idempotency_keys.update_one(
        {"_id": pending["_id"]}, {"$set": {"claimed_at": now - timedelta(seconds=31)}}
    )
    taken = keyed(api, path, body, key)
    answer = expect(taken, 201)
    assert REPLAYED not in taken.headers
    done = mongo.idempotency_keys.find_one({"_id": pending["_id"]})
    assert done["state"] == "done"
    assert done["status"] == 201
    assert done["body"] == answer
    assert done["claim"] != "someone-else"
    again = keyed(api, path, body, key)
    assert again.headers.get(REPLAYED) == "true"
    assert again.json() == answer
    after = state(mongo, source["id"], dest["id"])
    assert len(after["accounts"][source["id"]][2]) == len(before["accounts"][source["id"]][2]) + 1
    expected = {"deposit": "110.00", "withdraw": "90.00", "transfer": "90.00"}[kind]
    assert balance(api, source["id"]) == expected


def test_a_claim_just_short_of_lapsing_still_holds(
    customer: Party, mine: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    account = mine()
    key = new_key()
    path, body = movement("deposit", account, account, "3.00")
    now = datetime.now(UTC)
    mongo.idempotency_keys.insert_one({
        "_id": record_id(owner["id"], key), "user_id": owner["id"],
        "fingerprint": fingerprint("POST", path, canonical("deposit", body)), "state": "pending",
        "claim": "slow", "claimed_at": now - timedelta(seconds=25), "status": None,
        "body": None, "created_at": now, "expires_at": now + timedelta(hours=48),
    })  # fmt: skip
    expect(keyed(api, path, body, key), 409, "idempotency_key_in_use")
    assert balance(api, account["id"]) == "0.00"


def test_records_expire_after_a_day_or_more_through_a_ttl_index(
    customer: Party, mine: OpenAccount, mongo: Any
) -> None:
    owner, api = customer
    account = mine()
    key = new_key()
    expect(keyed(api, *movement("deposit", account, account, "1.00"), key), 201)
    record = mongo.idempotency_keys.find_one({"_id": record_id(owner["id"], key)})
    assert record["expires_at"] - record["created_at"] >= timedelta(hours=24)
    assert record["expires_at"] - datetime.now(UTC) >= timedelta(hours=23, minutes=59)
    ttl = [index for index in mongo.idempotency_keys.index_information().values()
           if index["key"] == [("expires_at", 1)]]  # fmt: skip
    assert len(ttl) == 1, mongo.idempotency_keys.index_information()
    assert "expireAfterSeconds" in ttl[0]
    assert ttl[0]["expireAfterSeconds"] == 0  # expires_at itself is the moment


# ---------------------------------------------------------------- concurrency


async def _same_request(
    base_url: str, token: str, path: str, body: dict[str, Any], key: str, n: int
) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        timeout=120,
        limits=httpx.Limits(max_connections=n),
    ) as client:
        return list(await asyncio.gather(*(client.post(path, json=body) for _ in range(n))))


@pytest.mark.parametrize("kind", KINDS)
def test_ten_identical_requests_at_once_move_money_once(
    server: ServerProcess, customer: Party, mine: OpenAccount, mongo: Any, kind: str
) -> None:
    owner, api = customer
    source, dest = mine(deposit="100.00"), mine()
    key = new_key()
    path, body = movement(kind, source, dest, "7.00")
    before = state(mongo, source["id"], dest["id"])
    assert api.token is not None
    responses = asyncio.run(_same_request(server.url, api.token, path, body, key, 10))
    created = [r for r in responses if r.status_code == 201]
    busy = [r for r in responses if r.status_code != 201]
    assert created, [r.text for r in responses]
    for response in busy:
        expect(response, 409, "idempotency_key_in_use")
        assert int(response.headers["Retry-After"]) >= 1
    bodies = {r.content for r in created}
    assert len(bodies) == 1, bodies
    assert sum(REPLAYED not in r.headers for r in created) == 1
    answer = created[0].json()
    after = state(mongo, source["id"], dest["id"])
    new_entries = {
        account_id: [i for i in after["accounts"][account_id][2]
                     if i not in before["accounts"][account_id][2]]
        for account_id in (source["id"], dest["id"])
    }  # fmt: skip
    assert len(new_entries[source["id"]]) == 1
    assert len(new_entries[dest["id"]]) == (1 if kind == "transfer" else 0)
    assert after["transfers"] == before["transfers"] + (1 if kind == "transfer" else 0)
    expected = {"deposit": "107.00", "withdraw": "93.00", "transfer": "93.00"}[kind]
    assert balance(api, source["id"]) == expected
    # A follow-up retry gets the stored answer.
    again = keyed(api, path, body, key)
    assert again.status_code == 201
    assert again.headers.get(REPLAYED) == "true"
    assert again.json() == answer
    assert state(mongo, source["id"], dest["id"]) == after
    record = mongo.idempotency_keys.find_one({"_id": record_id(owner["id"], key)})
    assert record["state"] == "done"
    assert record["body"] == answer


async def _distinct_keys(
    base_url: str, token: str, calls: list[tuple[str, dict[str, Any], str]]
) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        limits=httpx.Limits(max_connections=len(calls)),
    ) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(path, json=body, headers={"Idempotency-Key": key})
                    for path, body, key in calls
                )
            )
        )


def test_many_keys_at_once_each_move_money_once(
    server: ServerProcess, customer: Party, mine: OpenAccount, mongo: Any
) -> None:
    """Claims of different keys race with other requests' transactions; none may be lost."""
    _, api = customer
    source, dest = mine(deposit="100.00"), mine()
    calls = [(*movement(KINDS[i % 3], source, dest, "1.00"), new_key()) for i in range(12)]
    assert api.token is not None
    responses = asyncio.run(_distinct_keys(server.url, api.token, calls))
    for response in responses:
        expect(response, 201)
        assert REPLAYED not in response.headers
    # deposits +4, withdrawals -4, transfers -4
    assert balance(api, source["id"]) == "96.00"
    assert balance(api, dest["id"]) == "4.00"
    after = state(mongo, source["id"], dest["id"])
    retries = asyncio.run(_distinct_keys(server.url, api.token, calls))
    for first, retry in zip(responses, retries, strict=True):
        assert retry.status_code == 201
        assert retry.headers.get(REPLAYED) == "true"
        assert retry.json() == first.json()
    assert state(mongo, source["id"], dest["id"]) == after


def test_a_sign_up_refuses_a_malformed_key_and_creates_nobody(anon: Api, mongo: Any) -> None:
    # A sign-up uses no key (keys belong to a user), but a malformed one is still bad input.
    body = {"username": "keyedsignup", "password": "a-good-password", "full_name": "Keyed",
            "email": "keyed@example.com"}  # fmt: skip
    response = anon.post("/users", json=body, headers={"Idempotency-Key": "k" * 256})
    expect(response, 422, "invalid_idempotency_key")
    assert mongo.users.count_documents({"username": "keyedsignup"}) == 0
    expect(anon.post("/users", json=body, headers={"Idempotency-Key": "k" * 255}), 201)
