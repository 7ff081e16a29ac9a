"""One customer search over HTTP (API.md `GET /customers/search`): names without regard to
accents or case, documents, phones and accounts exactly (spaces and dashes ignored),
emails, usernames and dates of birth; what matched; who finds whom; and that every query
shape is index-backed on MongoDB.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from bench.scans import check, search_queries
from tests.support import Api, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()
_n = itertools.count(1)


def search(api: Api, q: str, **params: Any) -> dict[str, Any]:
    """Search and return the page."""
    return dict(expect(api.get("/customers/search", params={"q": q, **params}), 200))


def found(api: Api, q: str) -> dict[int, str]:
    """Return {user id: matched} of a search."""
    return {item["user"]["id"]: item["matched"] for item in search(api, q, limit=200)["items"]}


@pytest.fixture(scope="module")
def zoe(make_user: MakeUser, open_account: OpenAccount, teller: Api) -> dict[str, Any]:
    """A customer with every kind of key: name with an accent, profile, document, account."""
    user, _ = make_user("user", username="zsmith", full_name="Zoë Smith-Ångström",
                        email="Zoe.Smith@Example.com")  # fmt: skip
    profile = {"date_of_birth": "1990-05-01", "phone": "+1 (415) 555-0100"}
    expect(teller.put(f"/users/{user['id']}/profile", json=profile), 200)
    expect(teller.post(f"/users/{user['id']}/documents",
                       json={"type": "passport", "number": "P 123-456", "country": "GB",
                             "expires_on": NEXT_YEAR}), 201)  # fmt: skip
    account = open_account(user["id"], deposit="25.00")
    return {**user, "account": account}


@pytest.mark.parametrize(
    ("q", "matched"),
    [
        ("zoe", "name"),
        ("ZOE", "name"),
        ("Zoë", "name"),
        ("zoë smith", "name"),
        ("smith zoe", "name"),
        ("smi", "name"),
        ("angstrom", "name"),
        ("Ångström", "name"),
        ("p123456", "document"),
        ("P-123 456", "document"),
        ("p 1 2 3 4 5 6", "document"),
        ("14155550100", "phone"),
        ("+1 415-555-0100", "phone"),
        ("1 (415) 555 0100", "phone"),
        ("zoe.smith@example.com", "email"),
        ("ZOE.SMITH@EXAMPLE.COM", "email"),
        ("zsmith", "username"),
        ("ZSmith", "username"),
        ("1990-05-01", "date_of_birth"),
    ],
)
def test_each_key_finds_the_customer(
    zoe: dict[str, Any], teller: Api, q: str, matched: str
) -> None:
    assert found(teller, q).get(zoe["id"]) == matched


def test_the_account_number_finds_its_owner(zoe: dict[str, Any], teller: Api) -> None:
    number = zoe["account"]["number"]
    assert found(teller, number)[zoe["id"]] == "account"
    assert found(teller, f"{number[:4]}-{number[4:8]} {number[8:]}")[zoe["id"]] == "account"
    page = search(teller, number)
    [item] = [i for i in page["items"] if i["user"]["id"] == zoe["id"]]
    [account] = item["accounts"]
    assert account["id"] == zoe["account"]["id"]
    assert (account["balance"], account["held"], account["available"]) == (
        "25.00", "0.00", "25.00")  # fmt: skip
    assert item["user"]["kyc_status"] == "pending"
    assert item["user"]["profile"]["phone"] == "+1 (415) 555-0100"


@pytest.mark.parametrize(
    "q",
    ["zoex", "smithy", "oe", "p12345", "123456", "4155550100 1", "555-0100", "1990-05-02",
     "zoe.smith@example.org", "zsmit", "0000000000"],
)  # fmt: skip
def test_near_misses_find_nothing(zoe: dict[str, Any], teller: Api, q: str) -> None:
    assert zoe["id"] not in found(teller, q)


def test_every_word_of_a_name_must_match(make_user: MakeUser, teller: Api) -> None:
    tag = f"qx{next(_n)}"
    both, _ = make_user("user", full_name=f"Mária {tag}ova")
    first_only, _ = make_user("user", full_name="Mária Other")
    results = found(teller, f"maria {tag}")
    assert both["id"] in results
    assert first_only["id"] not in results
    assert {both["id"], first_only["id"]} <= set(found(teller, "MARIA"))


def test_results_page_in_id_order(make_user: MakeUser, teller: Api) -> None:
    tag = f"pagetest{next(_n)}"
    made = [make_user("user", full_name=f"Pat {tag}")[0]["id"] for _ in range(3)]
    page = search(teller, tag, limit=2)
    assert page["total"] == 3
    assert [i["user"]["id"] for i in page["items"]] == made[:2]
    rest = search(teller, tag, limit=2, skip=2)
    assert [i["user"]["id"] for i in rest["items"]] == made[2:]


def test_staff_stay_hidden_from_tellers_and_supervisors(
    make_user: MakeUser, teller: Api, supervisor: Api, admin: Api
) -> None:
    tag = f"staffer{next(_n)}"
    colleague, _ = make_user("teller", full_name=f"Sam {tag}")
    customer, _ = make_user("user", full_name=f"Sam {tag}")
    for api in (teller, supervisor):
        assert set(found(api, tag)) == {customer["id"]}
        assert colleague["id"] not in found(api, colleague["username"])
    assert set(found(admin, tag)) == {colleague["id"], customer["id"]}
    [staff] = [i for i in search(admin, tag)["items"] if i["user"]["id"] == colleague["id"]]
    assert staff["user"]["kyc_status"] is None


def test_deleted_users_are_not_found(make_user: MakeUser, admin: Api, teller: Api) -> None:
    tag = f"gone{next(_n)}"
    user, _ = make_user("user", full_name=f"Gil {tag}")
    assert user["id"] in found(teller, tag)
    expect(admin.delete(f"/users/{user['id']}"), 204)
    assert user["id"] not in found(teller, tag)


def test_a_renamed_customer_is_found_by_the_new_name_only(make_user: MakeUser, teller: Api) -> None:
    tag = f"rename{next(_n)}"
    user, _ = make_user("user", full_name=f"Old {tag}")
    expect(teller.put(f"/users/{user['id']}", json={"full_name": "Newname Person"}), 200)
    assert user["id"] not in found(teller, f"old {tag}")
    assert user["id"] in found(teller, "newname person")


def test_who_may_search_and_what_q_must_be(make_user: MakeUser, anon: Api, teller: Api) -> None:
    _customer, api = make_user("user")
    expect(api.get("/customers/search", params={"q": "smith"}), 403, "forbidden")
    expect(anon.get("/customers/search", params={"q": "smith"}), 401)
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "smith", "limit": 0},
                   {"q": "smith", "sort": "balance"}):  # fmt: skip
        expect(teller.get("/customers/search", params=params), 422, "validation_error")
    # Punctuation only matches nothing and is no error.
    assert search(teller, "!!!")["total"] == 0
    assert search(teller, ".*")["total"] == 0


def test_every_search_query_shape_is_index_backed_on_mongodb(
    zoe: dict[str, Any], mongo: Any
) -> None:
    report = check(mongo, search_queries(username=zoe["username"]))
    assert report["collection_scans"] == 0, report["queries"]
    rows = {row["query"]: row for row in report["queries"]}
    assert rows["customer search: exact keys"]["mongodb"] == "IXSCAN search_keys_1__id_1"
    assert not rows["customer search: exact keys"]["in_memory_sort"]
    assert rows["customers: a document on file (its normalised key)"]["mongodb"] == "IXSCAN _id_"
    stored = mongo.users.find_one({"_id": zoe["id"]})
    assert {"name:zoe", "name:smith", "name:angstrom", "doc:p123456", "phone:14155550100",
            "dob:1990-05-01", "user:zsmith", "email:zoe.smith@example.com",
            f"acct:{zoe['account']['number']}"} <= set(stored["search_keys"])  # fmt: skip
