"""Customer identification over HTTP (API.md "Customer identification"): profiles, identity
documents, verification, KYC status and KYC_REQUIRED (on for this module's server).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.support import Api, expect, user_id

SERVER_ENV = {"KYC_REQUIRED": "true"}
MakeUser = Callable[..., tuple[dict[str, Any], Api]]

ADDRESS = {"line1": "1 Market Street", "line2": None, "city": "San Francisco",
           "postal_code": "94105", "country": "US"}  # fmt: skip
DOCUMENT_KEYS = {"id", "type", "number", "country", "expires_on", "verified_by", "verified_at"}
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


def document(number: str, **fields: Any) -> dict[str, Any]:
    """Return a passport body valid until next year."""
    return {"type": "passport", "number": number, "country": "GB", "expires_on": NEXT_YEAR,
            **fields}  # fmt: skip


def events(mongo: Any, action: str, target: int) -> list[dict[str, Any]]:
    """Return the audit events of one action on one user."""
    return list(mongo.audit_events.find({"action": action, "target_type": "user",
                                         "target_id": target}).sort("_id", 1))  # fmt: skip


# ---------------------------------------------------------------- the User view


def test_customers_carry_identification_and_staff_carry_null(
    make_user: MakeUser, admin: Api, teller: Api
) -> None:
    customer, api = make_user("user")
    shown = expect(api.get("/me"), 200)
    assert shown["profile"] == {"date_of_birth": None, "phone": None, "address": None}
    assert shown["documents"] == []
    assert shown["kyc_status"] == "pending"
    assert expect(teller.get(f"/users/{customer['id']}"), 200)["kyc_status"] == "pending"
    staff = expect(teller.get("/me"), 200)
    assert (staff["profile"], staff["documents"], staff["kyc_status"]) == (None, None, None)
    listed = expect(admin.get("/users", params={"role": "user", "limit": 200}), 200)["items"]
    assert all(item["kyc_status"] is not None for item in listed)


# ---------------------------------------------------------------- profile


def test_staff_set_a_whole_profile_and_it_is_audited(
    make_user: MakeUser, teller: Api, mongo: Any
) -> None:
    customer, api = make_user("user")
    body = {"date_of_birth": "1990-05-01", "phone": "+1 415-555-0100", "address": ADDRESS}
    shown = expect(teller.put(f"/users/{customer['id']}/profile", json=body), 200)
    assert shown["profile"] == body
    assert expect(api.get("/me"), 200)["profile"] == body
    [event] = events(mongo, "customer.profile_updated", customer["id"])
    assert event["details"]["fields"] == ["address", "date_of_birth", "phone"]
    assert event["actor_id"] == user_id(teller)
    # A partial update keeps the rest; null clears a field.
    shown = expect(teller.put(f"/users/{customer['id']}/profile", json={"phone": None}), 200)
    assert shown["profile"] == {**body, "phone": None}


def test_a_customer_sets_only_their_phone_and_address(
    make_user: MakeUser, teller: Api, mongo: Any
) -> None:
    customer, api = make_user("user")
    shown = expect(api.put(f"/users/{customer['id']}/profile",
                           json={"phone": "020 7946 0000", "address": ADDRESS}), 200)  # fmt: skip
    assert shown["profile"]["phone"] == "020 7946 0000"
    body = expect(api.put(f"/users/{customer['id']}/profile",
                          json={"date_of_birth": "1990-05-01"}), 403, "forbidden")  # fmt: skip
    assert "date_of_birth" in body["detail"]
    assert expect(api.get("/me"), 200)["profile"]["date_of_birth"] is None
    other, _ = make_user("user")
    expect(api.put(f"/users/{other['id']}/profile", json={"phone": "020 7946 0001"}), 404)
    assert len(events(mongo, "customer.profile_updated", customer["id"])) == 1
    expect(teller.put(f"/users/{customer['id']}/profile", json={"date_of_birth": "1990-05-01"}),
           200)  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "12345"},
        {"phone": "call me maybe"},
        {"phone": "+1 415 555 0100 0000 0000"},
        {"date_of_birth": (date.today() + timedelta(days=1)).isoformat()},
        {"date_of_birth": "1899-12-31"},
        {"date_of_birth": "01/05/1990"},
        {"address": {**ADDRESS, "country": "us"}},
        {"address": {**ADDRESS, "country": "USA"}},
        {"address": {**ADDRESS, "city": ""}},
        {"address": {k: v for k, v in ADDRESS.items() if k != "line1"}},
        {"address": {**ADDRESS, "floor": 3}},
        {"nickname": "x"},
    ],
)
def test_invalid_profiles_answer_422(
    make_user: MakeUser, teller: Api, body: dict[str, Any]
) -> None:
    customer, _api = make_user("user")
    expect(teller.put(f"/users/{customer['id']}/profile", json=body), 422, "validation_error")
    shown = expect(teller.get(f"/users/{customer['id']}"), 200)
    assert shown["profile"] == {"date_of_birth": None, "phone": None, "address": None}


def test_staff_users_have_no_profile(make_user: MakeUser, admin: Api, teller: Api) -> None:
    colleague, colleague_api = make_user("teller")
    expect(admin.put(f"/users/{colleague['id']}/profile", json={"phone": "020 7946 0002"}), 403,
           "forbidden")  # fmt: skip
    # Tellers do not see other staff at all; a teller's own user is staff too.
    expect(teller.put(f"/users/{colleague['id']}/profile", json={"phone": "020 7946 0002"}), 404)
    expect(colleague_api.put(f"/users/{colleague['id']}/profile",
                             json={"phone": "020 7946 0002"}), 403, "forbidden")  # fmt: skip


# ---------------------------------------------------------------- documents


def test_staff_file_a_document_and_it_is_audited(
    make_user: MakeUser, teller: Api, mongo: Any
) -> None:
    customer, api = make_user("user")
    filed = expect(teller.post(f"/users/{customer['id']}/documents",
                               json=document("GB1000001")), 201)  # fmt: skip
    assert set(filed) == DOCUMENT_KEYS
    assert (filed["type"], filed["number"], filed["country"], filed["expires_on"]) == (
        "passport", "GB1000001", "GB", NEXT_YEAR)  # fmt: skip
    assert (filed["verified_by"], filed["verified_at"]) == (None, None)
    shown = expect(api.get("/me"), 200)
    assert [d["id"] for d in shown["documents"]] == [filed["id"]]
    assert shown["kyc_status"] == "pending"
    [event] = events(mongo, "customer.document_added", customer["id"])
    assert event["details"]["document_id"] == filed["id"]
    expect(api.post(f"/users/{customer['id']}/documents", json=document("GB1000009")), 403,
           "forbidden")  # fmt: skip


def test_one_document_identifies_one_customer(make_user: MakeUser, teller: Api) -> None:
    first, _ = make_user("user")
    second, _ = make_user("user")
    expect(teller.post(f"/users/{first['id']}/documents", json=document("AB 123-456")), 201)
    # Spaces, dashes and case do not make another document.
    for number in ("ab123456", "AB-123456", "a b 1 2 3 4 5 6"):
        body = expect(teller.post(f"/users/{second['id']}/documents", json=document(number)), 409,
                      "document_in_use")  # fmt: skip
        assert body["context"] == {"type": "passport", "country": "GB"}
    expect(teller.post(f"/users/{first['id']}/documents", json=document("AB123456")), 409,
           "document_in_use")  # fmt: skip
    # Another country or type is another document.
    expect(teller.post(f"/users/{second['id']}/documents",
                       json=document("AB123456", country="IE")), 201)  # fmt: skip
    expect(teller.post(f"/users/{second['id']}/documents",
                       json=document("AB123456", type="national_id")), 201)  # fmt: skip
    assert len(expect(teller.get(f"/users/{second['id']}"), 200)["documents"]) == 2


def test_two_customers_filing_one_document_at_once_get_one_201(
    make_user: MakeUser, teller: Api, admin: Api
) -> None:
    customers = [make_user("user")[0] for _ in range(3)]
    answers: list[int] = []
    barrier = threading.Barrier(len(customers))

    def file(customer: dict[str, Any], api: Api) -> None:
        barrier.wait()
        answers.append(api.post(f"/users/{customer['id']}/documents",
                                json=document("RACE-0001")).status_code)  # fmt: skip

    clients = [teller, admin, Api(teller.base_url, teller.token)]
    threads = [threading.Thread(target=file, args=pair) for pair in zip(customers, clients,
                                                                         strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [201, 409, 409]
    holders = [c for c in customers
               if expect(admin.get(f"/users/{c['id']}"), 200)["documents"]]  # fmt: skip
    assert len(holders) == 1


@pytest.mark.parametrize(
    "body",
    [
        document(""),
        document("-AB123"),
        document("AB_123"),
        document("A" * 41),
        document("AB123", type="library_card"),
        document("AB123", country="gb"),
        document("AB123", expires_on="next year"),
        {k: v for k, v in document("AB123").items() if k != "expires_on"},
        document("AB123", verified_by=1),
    ],
)
def test_invalid_documents_answer_422(
    make_user: MakeUser, teller: Api, body: dict[str, Any]
) -> None:
    customer, _ = make_user("user")
    expect(teller.post(f"/users/{customer['id']}/documents", json=body), 422, "validation_error")
    assert expect(teller.get(f"/users/{customer['id']}"), 200)["documents"] == []


def test_documents_of_staff_and_unknown_users(make_user: MakeUser, admin: Api, teller: Api) -> None:
    colleague, _ = make_user("teller")
    expect(admin.post(f"/users/{colleague['id']}/documents", json=document("ST0001")), 403)
    expect(teller.post(f"/users/{colleague['id']}/documents", json=document("ST0001")), 404)
    expect(teller.post(f"/users/{10**9}/documents", json=document("ST0001")), 404)


# ---------------------------------------------------------------- verification


def test_verifying_a_valid_document_makes_the_customer_verified(
    make_user: MakeUser, teller: Api, supervisor: Api, mongo: Any
) -> None:
    customer, api = make_user("user")
    filed = expect(teller.post(f"/users/{customer['id']}/documents",
                               json=document("VV0001")), 201)  # fmt: skip
    path = f"/users/{customer['id']}/documents/{filed['id']}/verify"
    shown = expect(supervisor.post(path, json={}), 200)
    assert shown["kyc_status"] == "verified"
    [checked] = shown["documents"]
    assert checked["verified_by"] == user_id(supervisor)
    verified_at = datetime.fromisoformat(checked["verified_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - verified_at) < timedelta(minutes=5)
    assert expect(api.get("/me"), 200)["kyc_status"] == "verified"
    [event] = events(mongo, "customer.document_verified", customer["id"])
    assert event["details"]["document_id"] == filed["id"]
    # Verifying again changes nothing and writes nothing.
    again = expect(teller.post(path, json={}), 200)
    assert again["documents"][0]["verified_by"] == user_id(supervisor)
    assert len(events(mongo, "customer.document_verified", customer["id"])) == 1
    expect(teller.post(f"/users/{customer['id']}/documents/{10**9}/verify", json={}), 404)
    expect(api.post(path, json={}), 403, "forbidden")


def test_a_verified_document_past_its_expiry_leaves_the_customer_expired(
    make_user: MakeUser, teller: Api
) -> None:
    customer, _ = make_user("user")
    old = expect(teller.post(f"/users/{customer['id']}/documents",
                             json=document("EX0001", expires_on="2020-01-01")), 201)  # fmt: skip
    shown = expect(teller.post(f"/users/{customer['id']}/documents/{old['id']}/verify",
                               json={}), 200)  # fmt: skip
    assert shown["kyc_status"] == "expired"
    # An unverified valid document does not help; verifying it does.
    new = expect(teller.post(f"/users/{customer['id']}/documents",
                             json=document("EX0002")), 201)  # fmt: skip
    assert expect(teller.get(f"/users/{customer['id']}"), 200)["kyc_status"] == "expired"
    shown = expect(teller.post(f"/users/{customer['id']}/documents/{new['id']}/verify",
                               json={}), 200)  # fmt: skip
    assert shown["kyc_status"] == "verified"


def test_a_document_expiring_on_the_business_date_still_verifies(
    make_user: MakeUser, teller: Api, mongo: Any
) -> None:
    day = mongo.business_day.find_one({"_id": "current"})["date"]
    customer, _ = make_user("user")
    filed = expect(teller.post(f"/users/{customer['id']}/documents",
                               json=document("TD0001", expires_on=day)), 201)  # fmt: skip
    shown = expect(teller.post(f"/users/{customer['id']}/documents/{filed['id']}/verify",
                               json={}), 200)  # fmt: skip
    assert shown["kyc_status"] == "verified"


def test_staff_may_not_verify_their_own_user(teller: Api) -> None:
    me = user_id(teller)
    expect(teller.post(f"/users/{me}/documents/1/verify", json={}), 403, "forbidden")


def test_the_verify_body_is_empty(make_user: MakeUser, teller: Api) -> None:
    customer, _ = make_user("user")
    filed = expect(teller.post(f"/users/{customer['id']}/documents",
                               json=document("EB0001")), 201)  # fmt: skip
    path = f"/users/{customer['id']}/documents/{filed['id']}/verify"
    expect(teller.post(path, json={"verified_by": 1}), 422, "validation_error")
    assert expect(teller.get(f"/users/{customer['id']}"), 200)["kyc_status"] == "pending"


# ---------------------------------------------------------------- KYC_REQUIRED


def test_accounts_open_only_for_verified_customers(
    make_user: MakeUser, teller: Api, admin: Api
) -> None:
    customer, api = make_user("user")
    body = {"account_type": "checking", "owner_id": customer["id"]}
    for opener in (teller, admin):
        refused = expect(opener.post("/accounts", json=body), 409, "kyc_not_verified")
        assert refused["context"] == {"user_id": customer["id"], "kyc_status": "pending"}
    expect(api.post("/accounts", json={"account_type": "savings"}), 409, "kyc_not_verified")
    old = expect(teller.post(f"/users/{customer['id']}/documents",
                             json=document("KY0001", expires_on="2021-06-30")), 201)  # fmt: skip
    expect(teller.post(f"/users/{customer['id']}/documents/{old['id']}/verify", json={}), 200)
    refused = expect(teller.post("/accounts", json=body), 409, "kyc_not_verified")
    assert refused["context"]["kyc_status"] == "expired"
    assert expect(admin.get("/accounts", params={"owner_id": customer["id"]}), 200)["total"] == 0
    new = expect(teller.post(f"/users/{customer['id']}/documents", json=document("KY0002")), 201)
    expect(teller.post(f"/users/{customer['id']}/documents/{new['id']}/verify", json={}), 200)
    expect(teller.post("/accounts", json=body), 201)
    expect(api.post("/accounts", json={"account_type": "savings"}), 201)


def test_staff_accounts_need_no_kyc(make_user: MakeUser, admin: Api) -> None:
    colleague, _ = make_user("teller")
    expect(admin.post("/accounts", json={"account_type": "checking", "owner_id": colleague["id"]}),
           201)  # fmt: skip


def test_an_idempotency_key_files_one_document(
    make_user: MakeUser, teller: Api, mongo: Any
) -> None:
    customer, _ = make_user("user")
    headers = {"Idempotency-Key": f"doc-{customer['id']}"}
    first = teller.post(f"/users/{customer['id']}/documents", json=document("ID0001"),
                        headers=headers)  # fmt: skip
    again = teller.post(f"/users/{customer['id']}/documents", json=document("ID0001"),
                        headers=headers)  # fmt: skip
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    stored = mongo.users.find_one({"_id": customer["id"]})
    assert len(stored["documents"]) == 1


def test_no_route_answers_500_to_junk(make_user: MakeUser, teller: Api) -> None:
    customer, _ = make_user("user")
    for path in (f"/users/{customer['id']}/profile", f"/users/{customer['id']}/documents",
                 f"/users/{customer['id']}/documents/1/verify"):  # fmt: skip
        for content in (b"[]", b"null", b"{", b'"x"', b'{"number": {"$ne": 1}}'):
            method = "PUT" if path.endswith("profile") else "POST"
            answer = teller.request(method, path, content=content,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
            # The verify route takes no body or `{}`: `null` is no body (and no document 1).
            assert answer.status_code in (404, 422), (path, content, answer.text)
