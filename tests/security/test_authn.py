"""API2 Broken Authentication: forged, expired, misused and revoked tokens on every route.

Every bad access token below is sent to every operation whose schema names the bearer
scheme (the route table comes from OpenAPI), with a probe request that would not change
anything even if it got through; each must answer 401 `invalid_token` with
`WWW-Authenticate: Bearer`. A control shows the same probes with a good token are not 401.
Bad refresh tokens are refused by `/login/refresh` the same way, and a missing or non-bearer
credential answers 401 `not_authenticated` wherever a route needs a user.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.security.conftest import MakeUser
from tests.security.routes import ROUTE_ROLES, Operation, probe
from tests.support import Api, expect
from tests.tokens import b64url, sign, unverified_claims, unverified_header

OTHER_KEY = "another-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def unsigned(claims: dict[str, Any], alg: str) -> str:
    """Build a token whose header claims `alg` and which carries no signature."""
    return f"{b64url({'alg': alg, 'typ': 'JWT'})}.{b64url(claims)}."


def without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    """Drop one claim."""
    return {key: value for key, value in claims.items() if key != name}


def claims_of(token: str) -> dict[str, Any]:
    """Read a token's claims without checking it."""
    return unverified_claims(token)


def bearer(token: str) -> dict[str, str]:
    """Return an Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def signup(
    make_user: MakeUser, anon: Api, role: str = "user"
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Create a user, sign in, and return the user, its password and the token pair."""
    password = f"Pw-{uuid.uuid4().hex[:16]}"
    user, api = make_user(role, password=password)
    api.close()
    return user, password, anon.tokens(user["username"], password)


@pytest.fixture(scope="module")
def bad_tokens(anon: Api, admin: Api, make_user: MakeUser, mongo: Any) -> dict[str, str]:
    """Access tokens that must all be refused, each with its reason as the key."""
    victim, _password, pair = signup(make_user, anon)
    real = claims_of(pair["access_token"])
    fresh = {**real, "jti": uuid.uuid4().hex}
    admin_id = expect(admin.get("/me"), 200)["id"]
    now = int(time.time())
    header, payload, signature = sign(fresh).split(".")
    tokens = {
        "alg_none": unsigned(fresh, "none"),
        "alg_None": unsigned(fresh, "None"),
        "alg_NONE": unsigned(fresh, "NONE"),
        "alg_none_with_signature": f"{b64url({'alg': 'none'})}.{payload}.{signature}",
        "no_alg": f"{b64url({'typ': 'JWT'})}.{payload}.{signature}",
        "wrong_key": sign(fresh, key=OTHER_KEY),
        "hs384_right_key": sign(fresh, algorithm="HS384"),
        "hs512_right_key": sign(fresh, algorithm="HS512"),
        "rs256_header_hmac_signature": f"{b64url({'alg': 'RS256'})}.{payload}.{signature}",
        "attacker_kid_and_jwk": sign(
            fresh, key=OTHER_KEY, kid="attacker", jku="https://evil.example/jwks"
        ),
        "expired": sign({**fresh, "exp": now - 60}),
        "expired_long_ago": sign({**fresh, "exp": 1_000_000_000, "iat": 999_999_000}),
        "not_yet_valid": sign({**fresh, "nbf": now + 3600}),
        "refresh_token_as_access": pair["refresh_token"],
        "type_refresh": sign({**fresh, "type": "refresh"}),
        "type_admin": sign({**fresh, "type": "admin"}),
        "no_type": sign(without(fresh, "type")),
        "no_sid": sign(without(fresh, "sid")),
        "unknown_sid": sign({**fresh, "sid": uuid.uuid4().hex}),
        "no_sub": sign(without(fresh, "sub")),
        "no_exp": sign(without(fresh, "exp")),
        "no_jti": sign(without(fresh, "jti")),
        "sub_not_a_number": sign({**fresh, "sub": "admin"}),
        "sub_of_admin_with_victims_sid": sign({**fresh, "sub": str(admin_id)}),
        "sub_as_integer": sign({**fresh, "sub": victim["id"] + 10**6}),
        "tampered_payload": f"{header}.{b64url({**fresh, 'sub': str(admin_id)})}.{signature}",
        "truncated_signature": f"{header}.{payload}.{signature[:-4]}",
        "empty_signature": f"{header}.{payload}.",
        "two_segments": f"{header}.{payload}",
        "garbage": "not-a-jwt",
        "huge_garbage": "x" * 6000,
        "json_instead_of_jwt": json.dumps(fresh),
        # Bound to the deployment: another bank (or database) signing with the same key.
        "no_iss": sign(without(fresh, "iss")),
        "other_issuer": sign({**fresh, "iss": "another-bank"}),
        "no_aud": sign(without(fresh, "aud")),
        "other_audience": sign({**fresh, "aud": f"{fresh['iss']}:another_database"}),
        "audience_list": sign({**fresh, "aud": [fresh["aud"], "another"]}),
        "no_iat": sign(without(fresh, "iat")),
    }
    tokens.update(revoked_tokens(anon, admin, make_user, mongo))
    return tokens


def without_ttl_sweep(mongo: Any) -> None:
    """Drop the sessions' TTL index, as if MongoDB's TTL monitor (once a minute) had not run.

    The embedded database removes an expired document as soon as it is read, which would
    hide whether the server itself refuses a session past its `expires_at`.
    """
    for index in mongo.login_sessions.list_indexes():
        if "expireAfterSeconds" in index:
            mongo.login_sessions.drop_index(index["name"])


def revoked_tokens(anon: Api, admin: Api, make_user: MakeUser, mongo: Any) -> dict[str, str]:
    """Real access tokens whose session or user was ended in each way API.md lists."""
    tokens: dict[str, str] = {}
    _user, _password, pair = signup(make_user, anon)
    expect(anon.client.post("/logout", headers=bearer(pair["access_token"])), 204)
    tokens["after_logout"] = pair["access_token"]

    user, password, pair = signup(make_user, anon)
    change = {"password": "a-brand-new-pass", "current_password": password}
    expect(
        anon.client.put(f"/users/{user['id']}", json=change, headers=bearer(pair["access_token"])),
        200,
    )
    tokens["after_own_password_change"] = pair["access_token"]

    user, _password, pair = signup(make_user, anon)
    expect(admin.put(f"/users/{user['id']}", json={"password": "reset-by-admin-1"}), 200)
    tokens["after_password_reset_by_admin"] = pair["access_token"]

    user, _password, pair = signup(make_user, anon, "teller")
    expect(admin.put(f"/users/{user['id']}", json={"role": "user"}), 200)
    tokens["after_role_change"] = pair["access_token"]

    user, _password, pair = signup(make_user, anon)
    expect(admin.put(f"/users/{user['id']}", json={"is_active": False}), 200)
    tokens["after_deactivation"] = pair["access_token"]

    user, _password, pair = signup(make_user, anon)
    expect(admin.delete(f"/users/{user['id']}"), 204)
    tokens["after_deletion"] = pair["access_token"]

    # Defence in depth: even if the deleted (or deactivated) user's session were still open,
    # the user is read on every request and the token is refused.
    for name in ("after_deletion", "after_deactivation"):
        sid = claims_of(tokens[name])["sid"]
        assert (
            mongo.login_sessions.update_one(
                {"_id": sid}, {"$set": {"revoked_at": None}}
            ).matched_count
            == 1
        )
        tokens[f"{name}_with_session_reopened"] = sign(
            {**claims_of(tokens[name]), "jti": uuid.uuid4().hex}
        )

    _user, _password, pair = signup(make_user, anon)
    expect(anon.client.post("/login/refresh", json={"refresh_token": pair["refresh_token"]}), 200)
    reuse = anon.client.post("/login/refresh", json={"refresh_token": pair["refresh_token"]})
    expect(reuse, 401, "invalid_token")
    tokens["after_refresh_token_reuse"] = pair["access_token"]

    # A session whose end has passed, still in the database (the TTL monitor has not run).
    without_ttl_sweep(mongo)
    _user, _password, pair = signup(make_user, anon)
    sid = claims_of(pair["access_token"])["sid"]
    past = datetime.now(UTC) - timedelta(seconds=5)
    assert (
        mongo.login_sessions.update_one({"_id": sid}, {"$set": {"expires_at": past}}).matched_count
        == 1
    )
    tokens["session_past_its_end"] = pair["access_token"]
    return tokens


TOKEN_KINDS = [
    "alg_none", "alg_None", "alg_NONE", "alg_none_with_signature", "no_alg", "wrong_key",
    "hs384_right_key", "hs512_right_key", "rs256_header_hmac_signature", "attacker_kid_and_jwk",
    "expired", "expired_long_ago", "not_yet_valid", "refresh_token_as_access", "type_refresh",
    "type_admin", "no_type", "no_sid", "unknown_sid", "no_sub", "no_exp", "no_jti",
    "sub_not_a_number", "sub_of_admin_with_victims_sid", "sub_as_integer", "tampered_payload",
    "truncated_signature", "empty_signature", "two_segments", "garbage", "huge_garbage",
    "json_instead_of_jwt", "after_logout", "after_own_password_change",
    "after_password_reset_by_admin", "after_role_change", "after_deactivation", "after_deletion",
    "after_deletion_with_session_reopened", "after_deactivation_with_session_reopened",
    "after_refresh_token_reuse", "no_iss", "other_issuer", "no_aud", "other_audience",
    "audience_list", "no_iat", "session_past_its_end",
]  # fmt: skip


def secured(ops: list[Operation]) -> list[Operation]:
    """The operations that read a bearer token (their schema names the scheme)."""
    found = [op for op in ops if op.secured]
    assert len(found) >= 20, [op.label for op in found]
    return found


def test_token_kinds_are_all_built(bad_tokens: dict[str, str]) -> None:
    assert sorted(bad_tokens) == sorted(TOKEN_KINDS)


def test_a_correctly_built_token_is_accepted(anon: Api, make_user: MakeUser) -> None:
    # The control of the forgeries: the same recipe with nothing wrong is accepted.
    user, _password, pair = signup(make_user, anon)
    resigned = sign({**claims_of(pair["access_token"]), "jti": uuid.uuid4().hex})
    assert expect(anon.client.get("/me", headers=bearer(resigned)), 200)["id"] == user["id"]


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_bad_token_is_refused_on_every_route(
    anon: Api, ops: list[Operation], bad_tokens: dict[str, str], kind: str
) -> None:
    token = bad_tokens[kind]
    for op in secured(ops):
        url, kwargs, _invalid = probe(op)
        response = anon.client.request(op.method, url, headers=bearer(token), **kwargs)
        assert response.status_code == 401, f"{op.label}: {response.status_code} {response.text}"
        assert response.json() == {"detail": response.json()["detail"], "code": "invalid_token"}
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), op.label


def test_probes_with_a_good_token_are_not_refused(
    anon: Api, make_user: MakeUser, ops: list[Operation]
) -> None:
    user, password, pair = signup(make_user, anon)
    for op in secured(ops):
        token = pair["access_token"]
        if op.path == "/logout":
            token = anon.tokens(user["username"], password)["access_token"]
        url, kwargs, _invalid = probe(op)
        response = anon.client.request(op.method, url, headers=bearer(token), **kwargs)
        assert response.status_code != 401, f"{op.label}: {response.text}"
        assert response.status_code < 500, f"{op.label}: {response.text}"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic YWRtaW46YWRtaW4tcGFzcy0xMjM="},
        {"Authorization": "Bearer"},
        {"Authorization": "Token abc"},
        {"Cookie": "access_token=abc; session=abc"},
        {"X-Access-Token": "abc", "X-Api-Key": "abc"},
    ],
    ids=["none", "basic", "bearer_alone", "other_scheme", "cookie", "api_key"],
)
def test_missing_or_non_bearer_credentials_are_not_authenticated(
    anon: Api, ops: list[Operation], headers: dict[str, str]
) -> None:
    needing = [op for op in ops if "anon" not in ROUTE_ROLES[op.key]]
    assert len(needing) >= 20
    for op in needing:
        url, kwargs, _invalid = probe(op)
        response = anon.client.request(op.method, url, headers=headers, **kwargs)
        expect(response, 401, "not_authenticated")


def test_a_token_in_the_query_string_is_not_read(anon: Api, make_user: MakeUser) -> None:
    _user, _password, pair = signup(make_user, anon)
    for name in ("access_token", "token", "jwt"):
        response = anon.client.get("/me", params={name: pair["access_token"]})
        expect(response, 401, "not_authenticated")


def refresh(anon: Api, token: str) -> httpx.Response:
    """POST /login/refresh."""
    return anon.client.post("/login/refresh", json={"refresh_token": token})


def test_bad_refresh_tokens_are_refused(anon: Api, admin: Api, make_user: MakeUser) -> None:
    user, password, pair = signup(make_user, anon)
    real = claims_of(pair["refresh_token"])
    bad = {
        "alg_none": unsigned(real, "none"),
        "wrong_key": sign(real, key=OTHER_KEY),
        "hs512": sign(real, algorithm="HS512"),
        "expired": sign({**real, "exp": int(time.time()) - 60}),
        "access_as_refresh": pair["access_token"],
        "unknown_sid": sign({**real, "sid": uuid.uuid4().hex}),
        "other_sub": sign({**real, "sub": str(expect(admin.get("/me"), 200)["id"])}),
        "other_audience": sign({**real, "aud": f"{real['iss']}:another_database"}),
        "no_iss": sign(without(real, "iss")),
    }
    for kind, token in bad.items():
        response = refresh(anon, token)
        assert response.status_code == 401, kind
        assert response.json()["code"] == "invalid_token", kind
    # None of those harmed the real session: its refresh token still rotates once.
    rotated = expect(refresh(anon, pair["refresh_token"]), 200)
    expect(refresh(anon, pair["refresh_token"]), 401, "invalid_token")  # reuse ends the session
    expect(refresh(anon, rotated["refresh_token"]), 401, "invalid_token")
    expect(anon.client.get("/me", headers=bearer(rotated["access_token"])), 401, "invalid_token")
    # A new sign-in is a new session and works.
    assert expect(
        anon.client.get(
            "/me", headers=bearer(anon.tokens(user["username"], password)["access_token"])
        ),
        200,
    )


def test_refresh_of_a_session_past_its_end_is_refused(
    anon: Api, make_user: MakeUser, mongo: Any
) -> None:
    without_ttl_sweep(mongo)
    _user, _password, pair = signup(make_user, anon)
    sid = claims_of(pair["refresh_token"])["sid"]
    expect(refresh(anon, pair["refresh_token"]), 200)  # rotates: the old one is now used
    rotated = claims_of(pair["refresh_token"])
    mongo.login_sessions.update_one(
        {"_id": sid}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    current = mongo.login_sessions.find_one({"_id": sid})
    fresh = sign({**rotated, "jti": current["refresh_jti"]})  # its current refresh token
    expect(refresh(anon, fresh), 401, "invalid_token")


@pytest.mark.parametrize(
    "ending", ["logout", "password_reset", "role_change", "deactivation", "deletion"]
)
def test_refresh_token_dies_with_its_session(
    anon: Api, admin: Api, make_user: MakeUser, ending: str
) -> None:
    user, _password, pair = signup(make_user, anon, "teller" if ending == "role_change" else "user")
    change = {
        "logout": lambda: anon.client.post("/logout", headers=bearer(pair["access_token"])),
        "password_reset": lambda: admin.put(
            f"/users/{user['id']}", json={"password": "reset-it-now"}
        ),
        "role_change": lambda: admin.put(f"/users/{user['id']}", json={"role": "user"}),
        "deactivation": lambda: admin.put(f"/users/{user['id']}", json={"is_active": False}),
        "deletion": lambda: admin.delete(f"/users/{user['id']}"),
    }[ending]()
    assert change.status_code in (200, 204), change.text
    expect(refresh(anon, pair["refresh_token"]), 401, "invalid_token")


def test_tokens_carry_no_secret_or_privilege_claims(anon: Api, make_user: MakeUser) -> None:
    _user, password, pair = signup(make_user, anon)
    for token in (pair["access_token"], pair["refresh_token"]):
        assert unverified_header(token)["alg"] == "HS256"
        claims = claims_of(token)
        assert set(claims) == {"sub", "sid", "jti", "type", "exp", "iat", "iss", "aud"}
        assert password not in json.dumps(claims)
