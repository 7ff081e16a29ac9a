"""Authentication end to end: login, refresh rotation, logout, /me, forged tokens, revocation."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_PASSWORD, TEST_SECRET, Api, expect
from tests.tokens import b64url, unverified_claims, unverified_header
from tests.tokens import sign as _sign

# Non-default lifetimes, so the tests see that the settings reach the tokens.
ACCESS_SECONDS = 900
REFRESH_SECONDS = 3600
SERVER_ENV = {
    "ACCESS_TOKEN_SECONDS": str(ACCESS_SECONDS),
    "REFRESH_TOKEN_SECONDS": str(REFRESH_SECONDS),
}

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
# Version 2 adds the customer identification (null for staff).
USER_KEYS = {"id", "username", "full_name", "email", "role", "is_active", "created_at",
             "updated_at", "profile", "documents", "kyc_status"}  # fmt: skip
TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_token"}


# --- helpers -----------------------------------------------------------------------------


def new_rid() -> str:
    """Return a fresh request id, to find the audit events of one request."""
    return f"auth-{uuid.uuid4().hex}"


def signup(make_user: MakeUser, role: str = "user") -> tuple[dict[str, Any], str]:
    """Create a user (through the admin) and return it with its password."""
    password = f"Pw-{uuid.uuid4().hex[:16]}"
    user, api = make_user(role, password=password)
    api.close()
    return user, password


def login(anon: Api, username: str, password: str, rid: str | None = None) -> httpx.Response:
    """POST /login as a form."""
    headers = {"X-Request-ID": rid} if rid else {}
    return anon.client.post(
        "/login", data={"username": username, "password": password}, headers=headers
    )


def tokens(anon: Api, username: str, password: str) -> dict[str, Any]:
    """Sign in and return the token answer."""
    body: dict[str, Any] = expect(login(anon, username, password), 200)
    return body


def bearer(token: str) -> dict[str, str]:
    """Return an Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def me(anon: Api, token: str) -> httpx.Response:
    """GET /me with a token."""
    return anon.client.get("/me", headers=bearer(token))


def refresh(anon: Api, token: str) -> httpx.Response:
    """POST /login/refresh with a refresh token."""
    return anon.client.post("/login/refresh", json={"refresh_token": token})


def claims(token: str) -> dict[str, Any]:
    """Return a token's claims without checking it."""
    return unverified_claims(token)


def sign(payload: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    """Sign a payload (with the server's test secret unless told otherwise)."""
    return _sign(payload, key, algorithm)


def expect_invalid_token(response: httpx.Response) -> None:
    """Assert the 401 invalid_token answer, with its WWW-Authenticate header."""
    expect(response, 401, "invalid_token")
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def assert_user(body: dict[str, Any]) -> None:
    """Assert the User shape: exactly the public fields, never a password or hash."""
    assert set(body) == USER_KEYS, body
    text = json.dumps(body).lower()
    assert "password" not in text
    assert "$argon2" not in text


def events(mongo: Any, rid: str) -> list[dict[str, Any]]:
    """Return the audit events a request wrote, oldest first."""
    return list(mongo.audit_events.find({"request_id": rid}).sort("_id", 1))


# --- login -------------------------------------------------------------------------------


def test_login_answers_a_token_pair_bound_to_a_new_session(
    anon: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user)
    before = int(time.time())
    body = tokens(anon, user["username"], password)
    after = int(time.time())
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == ACCESS_SECONDS
    assert body["access_token"] != body["refresh_token"]

    assert unverified_header(body["access_token"])["alg"] == "HS256"
    access, refresh_claims = claims(body["access_token"]), claims(body["refresh_token"])
    assert access["sub"] == str(user["id"]) == refresh_claims["sub"]
    assert access["type"] == "access"
    assert refresh_claims["type"] == "refresh"
    assert access["sid"] == refresh_claims["sid"]
    assert access["jti"] != refresh_claims["jti"]
    assert before + ACCESS_SECONDS - 2 <= access["exp"] <= after + ACCESS_SECONDS + 2
    assert before + REFRESH_SECONDS - 2 <= refresh_claims["exp"] <= after + REFRESH_SECONDS + 2

    session = mongo.login_sessions.find_one({"_id": access["sid"]})
    assert session is not None
    assert session["user_id"] == user["id"]
    assert session["revoked_at"] is None
    assert session["refresh_jti"] == refresh_claims["jti"]
    assert session["ip"] == "127.0.0.1"

    assert expect(me(anon, body["access_token"]), 200)["id"] == user["id"]


def test_tokens_name_this_deployment(anon: Api, make_user: MakeUser, server: Any) -> None:
    # iss and aud default to BANK_NAME's slug and that plus the database: a token of
    # another bank, or of another database signed with the same key, is refused.
    user, password = signup(make_user)
    body = tokens(anon, user["username"], password)
    for token in (body["access_token"], body["refresh_token"]):
        assert claims(token)["iss"] == "bank-system"
        assert claims(token)["aud"] == f"bank-system:{server.database_name}"


def test_each_login_opens_its_own_session(anon: Api, make_user: MakeUser) -> None:
    user, password = signup(make_user)
    first = tokens(anon, user["username"], password)
    second = tokens(anon, user["username"], password)
    assert claims(first["access_token"])["sid"] != claims(second["access_token"])["sid"]
    assert expect(me(anon, first["access_token"]), 200)["id"] == user["id"]
    assert expect(me(anon, second["access_token"]), 200)["id"] == user["id"]


def test_username_is_case_insensitive_at_login(anon: Api, make_user: MakeUser) -> None:
    user, password = signup(make_user)
    shouted = tokens(anon, user["username"].upper(), password)
    assert expect(me(anon, shouted["access_token"]), 200)["username"] == user["username"]
    admin_tokens = tokens(anon, "AdMiN", ADMIN_PASSWORD)
    assert expect(me(anon, admin_tokens["access_token"]), 200)["username"] == "admin"


def test_password_is_case_sensitive(anon: Api, make_user: MakeUser) -> None:
    user, password = signup(make_user)
    expect(login(anon, user["username"], password.swapcase()), 401, "invalid_credentials")
    expect(login(anon, user["username"], password + " "), 401, "invalid_credentials")


def test_wrong_password_and_unknown_user_answer_alike(anon: Api, make_user: MakeUser) -> None:
    user, _password = signup(make_user)
    wrong = login(anon, user["username"], "not-the-password")
    unknown = login(anon, f"nobody-{uuid.uuid4().hex[:8]}", "not-the-password")
    for response in (wrong, unknown):
        expect(response, 401, "invalid_credentials")
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
        assert "access_token" not in response.text
    assert wrong.json() == unknown.json()


def test_login_needs_a_form(anon: Api) -> None:
    as_json = anon.client.post("/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    expect(as_json, 422, "validation_error")
    expect(anon.client.post("/login", data={"username": "admin"}), 422, "validation_error")
    expect(anon.client.post("/login", data={"password": "x" * 10}), 422, "validation_error")
    expect(anon.client.get("/login"), 405, "method_not_allowed")


def test_inactive_and_deleted_users_cannot_sign_in(
    anon: Api, admin: Api, make_user: MakeUser
) -> None:
    user, password = signup(make_user)
    refused = login(anon, user["username"], "wrong-password-here")
    expect(refused, 401, "invalid_credentials")

    expect(admin.put(f"/users/{user['id']}", json={"is_active": False}), 200)
    inactive = login(anon, user["username"], password)
    expect(inactive, 401, "invalid_credentials")
    assert inactive.json() == refused.json()

    expect(admin.put(f"/users/{user['id']}", json={"is_active": True}), 200)
    tokens(anon, user["username"], password)

    expect(admin.delete(f"/users/{user['id']}"), 204)
    deleted = login(anon, user["username"], password)
    expect(deleted, 401, "invalid_credentials")
    assert deleted.json() == refused.json()


def login_metric(admin: Api, outcome: str) -> float:
    """Return `bank_login_attempts_total` of sign-ins with an outcome (admins read /metrics)."""
    response = admin.get("/metrics")
    expect(response, 200)
    pattern = rf'bank_login_attempts_total{{kind="login",outcome="{outcome}"}} ([0-9.e+]+)'
    found = re.search(pattern, response.text)
    return float(found.group(1)) if found else 0.0


def test_login_writes_audit_events(anon: Api, admin: Api, make_user: MakeUser, mongo: Any) -> None:
    user, password = signup(make_user)
    sessions_before = mongo.login_sessions.count_documents({"user_id": user["id"]})

    ok_rid = new_rid()
    body = expect(login(anon, user["username"].upper(), password, ok_rid), 200)
    [ok] = events(mongo, ok_rid)
    assert ok["action"] == "login.succeeded"
    assert ok["outcome"] == "ok"
    assert ok["actor_id"] == user["id"]
    assert ok["target_type"] == "user"
    assert ok["target_id"] == user["id"]
    assert ok["ip"] == "127.0.0.1"
    assert ok["request_id"] == ok_rid
    assert ok["details"]["sid"] == claims(body["access_token"])["sid"]
    assert password not in json.dumps(ok, default=str)

    # A refused sign-in writes no audit event (only the start of a lockout does, see
    # test_rate_limits.py): it is counted in the metrics instead.
    before = login_metric(admin, "invalid_credentials")
    bad_rid = new_rid()
    expect(login(anon, user["username"], "wrong-password-1", bad_rid), 401, "invalid_credentials")
    assert events(mongo, bad_rid) == []
    ghost_rid = new_rid()
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    expect(login(anon, ghost, "whatever-pw", ghost_rid), 401, "invalid_credentials")
    assert events(mongo, ghost_rid) == []
    assert login_metric(admin, "invalid_credentials") == before + 2

    # Only the successful login opened a session.
    assert mongo.login_sessions.count_documents({"user_id": user["id"]}) == sessions_before + 1


def test_a_user_keeps_at_most_max_sessions_and_the_oldest_makes_room(
    anon: Api, make_user: MakeUser, mongo: Any
) -> None:
    # MAX_SESSIONS_PER_USER (10): the eleventh sign-in revokes the oldest session, so a
    # password cannot fill the database with sessions; the newest ten keep working.
    user, password = signup(make_user)
    mongo.login_sessions.update_many(  # make_user's own sign-in
        {"user_id": user["id"]}, {"$set": {"revoked_at": datetime.now(UTC)}}
    )
    pairs = [tokens(anon, user["username"], password) for _ in range(11)]
    expect_invalid_token(me(anon, pairs[0]["access_token"]))
    expect_invalid_token(refresh(anon, pairs[0]["refresh_token"]))
    for pair in pairs[1:]:
        assert expect(me(anon, pair["access_token"]), 200)["id"] == user["id"]
    first = mongo.login_sessions.find_one({"_id": claims(pairs[0]["access_token"])["sid"]})
    assert first["revoked_reason"] == "session limit"
    open_now = {"user_id": user["id"], "revoked_at": None}
    assert mongo.login_sessions.count_documents(open_now) == 10


# --- /me and missing or malformed tokens --------------------------------------------------


@pytest.mark.parametrize("role", ["user", "teller", "admin"])
def test_me_returns_the_signed_in_user(anon: Api, make_user: MakeUser, role: str) -> None:
    user, password = signup(make_user, role)
    body = expect(me(anon, tokens(anon, user["username"], password)["access_token"]), 200)
    assert_user(body)
    assert body == user
    assert body["role"] == role


def test_me_of_the_bootstrap_admin(admin: Api) -> None:
    body = expect(admin.get("/me"), 200)
    assert_user(body)
    assert body["username"] == "admin"
    assert body["role"] == "admin"
    assert body["is_active"] is True


@pytest.mark.parametrize(("method", "path"), [("GET", "/me"), ("POST", "/logout")])
def test_no_token_is_not_authenticated(anon: Api, method: str, path: str) -> None:
    response = anon.client.request(method, path)
    expect(response, 401, "not_authenticated")
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    # Another scheme is no bearer token either.
    basic = anon.client.request(method, path, headers={"Authorization": "Basic YWRtaW46eA=="})
    expect(basic, 401, "not_authenticated")


@pytest.mark.parametrize(
    "token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "Bearer", "x" * 2000]
)
def test_malformed_tokens_are_invalid(anon: Api, token: str) -> None:
    expect_invalid_token(me(anon, token))


# --- refresh ------------------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(anon: Api, make_user: MakeUser, mongo: Any) -> None:
    user, password = signup(make_user)
    first = tokens(anon, user["username"], password)
    second = expect(refresh(anon, first["refresh_token"]), 200)
    assert set(second) == TOKEN_KEYS
    assert second["token_type"] == "bearer"
    assert second["expires_in"] == ACCESS_SECONDS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    sid = claims(first["access_token"])["sid"]
    assert claims(second["access_token"])["sid"] == sid
    assert claims(second["refresh_token"])["sid"] == sid
    assert claims(second["access_token"])["type"] == "access"
    assert claims(second["refresh_token"])["type"] == "refresh"
    stored = mongo.login_sessions.find_one({"_id": sid})
    assert stored["refresh_jti"] == claims(second["refresh_token"])["jti"]

    assert expect(me(anon, second["access_token"]), 200)["id"] == user["id"]
    # The newest refresh token keeps working, once each.
    third = expect(refresh(anon, second["refresh_token"]), 200)
    assert expect(me(anon, third["access_token"]), 200)["id"] == user["id"]


def test_reused_refresh_token_ends_the_whole_session(
    anon: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user)
    bystander = tokens(anon, user["username"], password)
    first = tokens(anon, user["username"], password)
    second = expect(refresh(anon, first["refresh_token"]), 200)

    expect_invalid_token(refresh(anon, first["refresh_token"]))

    # Everything of that login session stops working, including the newest tokens.
    expect_invalid_token(me(anon, second["access_token"]))
    expect_invalid_token(me(anon, first["access_token"]))
    expect_invalid_token(refresh(anon, second["refresh_token"]))
    stored = mongo.login_sessions.find_one({"_id": claims(first["access_token"])["sid"]})
    assert stored["revoked_at"] is not None

    # Another login session of the same user is not touched.
    assert expect(me(anon, bystander["access_token"]), 200)["id"] == user["id"]
    expect(refresh(anon, bystander["refresh_token"]), 200)


def test_token_types_are_not_interchangeable(anon: Api, make_user: MakeUser) -> None:
    user, password = signup(make_user)
    pair = tokens(anon, user["username"], password)
    expect_invalid_token(me(anon, pair["refresh_token"]))
    expect_invalid_token(refresh(anon, pair["access_token"]))
    # Those refusals did not spend or revoke anything.
    rotated = expect(refresh(anon, pair["refresh_token"]), 200)
    expect(me(anon, rotated["access_token"]), 200)


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": None}, {"refresh_token": 12345},
     {"refresh_token": "x", "extra": 1}, {"refresh_token": "x" * 5000}],
)  # fmt: skip
def test_refresh_body_is_validated(anon: Api, body: dict[str, Any]) -> None:
    expect(anon.client.post("/login/refresh", json=body), 422, "validation_error")


def test_refresh_with_garbage_is_invalid_token(anon: Api) -> None:
    expect_invalid_token(refresh(anon, "not-a-jwt"))


def test_refresh_after_logout_is_refused(anon: Api, make_user: MakeUser) -> None:
    user, password = signup(make_user)
    pair = tokens(anon, user["username"], password)
    expect(anon.client.post("/logout", headers=bearer(pair["access_token"])), 204)
    expect_invalid_token(refresh(anon, pair["refresh_token"]))


# --- forged and expired tokens ------------------------------------------------------------


def forgeries(real: dict[str, Any], other_user_id: int) -> dict[str, str]:
    """Build tokens that must all be refused, from a real access token's claims."""
    fresh = {**real, "jti": uuid.uuid4().hex}
    signature = sign(fresh).rsplit(".", 1)[1]
    tampered = f"{b64url({'alg': 'HS256', 'typ': 'JWT'})}.{b64url({**fresh, 'sub': '1'})}"
    no_sid = {key: value for key, value in fresh.items() if key != "sid"}
    no_exp = {key: value for key, value in fresh.items() if key != "exp"}
    return {
        "alg_none": f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(fresh)}.",
        "alg_none_upper": f"{b64url({'alg': 'None', 'typ': 'JWT'})}.{b64url(fresh)}.",
        "wrong_key": sign(fresh, key="another-secret-key-0123456789-abcdefghijklmnop"),
        "hs512_with_right_key": sign(fresh, algorithm="HS512"),
        "tampered_sub": f"{tampered}.{signature}",
        "expired": sign({**fresh, "exp": int(time.time()) - 60}),
        "no_sid": sign(no_sid),
        "no_exp": sign(no_exp),
        "unknown_sid": sign({**fresh, "sid": uuid.uuid4().hex}),
        "sid_of_another_user": sign({**fresh, "sub": str(other_user_id)}),
        "type_admin": sign({**fresh, "type": "admin"}),
        "non_numeric_sub": sign({**fresh, "sub": "admin"}),
    }


FORGERY_KINDS = list(forgeries({"sub": "1", "sid": "s", "jti": "j", "type": "access",
                                "exp": 0}, 2))  # fmt: skip


@pytest.fixture(scope="module")
def victim(anon: Api, make_user: MakeUser) -> dict[str, Any]:
    """A signed-in user whose real token claims the forgeries start from."""
    user, password = signup(make_user)
    pair = tokens(anon, user["username"], password)
    return {"user": user, "pair": pair, "claims": claims(pair["access_token"])}


def test_a_token_signed_with_the_server_key_is_accepted(anon: Api, victim: dict[str, Any]) -> None:
    # The control for the forgeries: the same recipe with nothing wrong is accepted.
    resigned = sign({**victim["claims"], "jti": uuid.uuid4().hex})
    assert expect(me(anon, resigned), 200)["id"] == victim["user"]["id"]


@pytest.mark.parametrize("kind", FORGERY_KINDS)
def test_forged_access_tokens_are_refused(
    anon: Api, admin: Api, victim: dict[str, Any], kind: str
) -> None:
    admin_id = expect(admin.get("/me"), 200)["id"]
    token = forgeries(victim["claims"], admin_id)[kind]
    expect_invalid_token(me(anon, token))
    # A forged token on another protected route is refused the same way.
    expect_invalid_token(anon.client.get(f"/users/{admin_id}", headers=bearer(token)))


def test_forged_refresh_tokens_are_refused_without_harm(
    anon: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user)
    pair = tokens(anon, user["username"], password)
    real = claims(pair["refresh_token"])
    for token in (
        f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(real)}.",
        sign(real, key="another-secret-key-0123456789-abcdefghijklmnop"),
        sign({**real, "exp": int(time.time()) - 60}),
        sign({**real, "type": "access"}),
    ):
        expect_invalid_token(refresh(anon, token))
    # None of those touched the session: the real refresh token still rotates.
    assert mongo.login_sessions.find_one({"_id": real["sid"]})["revoked_at"] is None
    expect(refresh(anon, pair["refresh_token"]), 200)


def test_refresh_token_with_a_stale_jti_counts_as_reuse(anon: Api, make_user: MakeUser) -> None:
    # A correctly signed refresh token whose jti is not the session's current one is a copy.
    user, password = signup(make_user)
    pair = tokens(anon, user["username"], password)
    copy = sign({**claims(pair["refresh_token"]), "jti": uuid.uuid4().hex})
    expect_invalid_token(refresh(anon, copy))
    expect_invalid_token(me(anon, pair["access_token"]))
    expect_invalid_token(refresh(anon, pair["refresh_token"]))


# --- logout ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["user", "teller", "admin"])
def test_logout_ends_only_its_own_session(
    anon: Api, make_user: MakeUser, mongo: Any, role: str
) -> None:
    user, password = signup(make_user, role)
    other = tokens(anon, user["username"], password)
    pair = tokens(anon, user["username"], password)
    sid = claims(pair["access_token"])["sid"]

    rid = new_rid()
    response = anon.client.post(
        "/logout", headers={**bearer(pair["access_token"]), "X-Request-ID": rid}
    )
    expect(response, 204)
    assert response.content == b""

    expect_invalid_token(me(anon, pair["access_token"]))
    expect_invalid_token(refresh(anon, pair["refresh_token"]))
    expect_invalid_token(anon.client.post("/logout", headers=bearer(pair["access_token"])))
    stored = mongo.login_sessions.find_one({"_id": sid})
    assert stored["revoked_at"] is not None
    assert stored["revoked_reason"] == "logout"

    [event] = events(mongo, rid)
    assert event["action"] == "logout"
    assert event["outcome"] == "ok"
    assert event["actor_id"] == user["id"]
    assert event["target_id"] == user["id"]
    assert event["ip"] == "127.0.0.1"

    # The user's other login session goes on.
    assert expect(me(anon, other["access_token"]), 200)["id"] == user["id"]
    assert (
        mongo.login_sessions.find_one({"_id": claims(other["access_token"])["sid"]})["revoked_at"]
        is None
    )


# --- account changes that end every session ----------------------------------------------


def two_sessions(anon: Api, username: str, password: str) -> list[dict[str, Any]]:
    """Sign in twice."""
    return [tokens(anon, username, password) for _ in range(2)]


def assert_all_revoked(anon: Api, mongo: Any, user_id: int, pairs: list[dict[str, Any]]) -> None:
    """Assert no token of these sessions works and the user has no open session left."""
    for pair in pairs:
        expect_invalid_token(me(anon, pair["access_token"]))
        expect_invalid_token(refresh(anon, pair["refresh_token"]))
    assert mongo.login_sessions.count_documents({"user_id": user_id, "revoked_at": None}) == 0


def test_own_password_change_ends_every_session(anon: Api, make_user: MakeUser, mongo: Any) -> None:
    user, password = signup(make_user)
    pairs = two_sessions(anon, user["username"], password)
    new_password = f"New-{uuid.uuid4().hex[:12]}"
    change = {"password": new_password, "current_password": password}
    response = anon.client.put(
        f"/users/{user['id']}", json=change, headers=bearer(pairs[0]["access_token"])
    )
    expect(response, 200)
    assert_all_revoked(anon, mongo, user["id"], pairs)
    expect(login(anon, user["username"], password), 401, "invalid_credentials")
    tokens(anon, user["username"], new_password)


def test_password_reset_by_admin_ends_every_session(
    anon: Api, admin: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user, "teller")
    pairs = two_sessions(anon, user["username"], password)
    new_password = f"Reset-{uuid.uuid4().hex[:12]}"
    expect(admin.put(f"/users/{user['id']}", json={"password": new_password}), 200)
    assert_all_revoked(anon, mongo, user["id"], pairs)
    tokens(anon, user["username"], new_password)


def test_role_change_ends_every_session(
    anon: Api, admin: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user)
    pairs = two_sessions(anon, user["username"], password)
    expect(admin.put(f"/users/{user['id']}", json={"role": "teller"}), 200)
    assert_all_revoked(anon, mongo, user["id"], pairs)
    fresh = tokens(anon, user["username"], password)
    assert expect(me(anon, fresh["access_token"]), 200)["role"] == "teller"


def test_deactivation_ends_every_session(
    anon: Api, teller: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user)
    pairs = two_sessions(anon, user["username"], password)
    expect(teller.put(f"/users/{user['id']}", json={"is_active": False}), 200)
    assert_all_revoked(anon, mongo, user["id"], pairs)
    # Reactivation does not bring the old sessions back.
    expect(teller.put(f"/users/{user['id']}", json={"is_active": True}), 200)
    for pair in pairs:
        expect_invalid_token(me(anon, pair["access_token"]))
    tokens(anon, user["username"], password)


def test_deletion_ends_every_session(
    anon: Api, admin: Api, make_user: MakeUser, mongo: Any
) -> None:
    user, password = signup(make_user)
    pairs = two_sessions(anon, user["username"], password)
    expect(admin.delete(f"/users/{user['id']}"), 204)
    assert_all_revoked(anon, mongo, user["id"], pairs)


def test_other_changes_keep_sessions(anon: Api, admin: Api, make_user: MakeUser) -> None:
    user, password = signup(make_user)
    pair = tokens(anon, user["username"], password)
    renamed = {"full_name": "Renamed Person", "email": f"new-{uuid.uuid4().hex[:6]}@example.com"}
    response = anon.client.put(
        f"/users/{user['id']}", json=renamed, headers=bearer(pair["access_token"])
    )
    expect(response, 200)
    expect(admin.put(f"/users/{user['id']}", json={"full_name": "Renamed Again"}), 200)
    body = expect(me(anon, pair["access_token"]), 200)
    assert body["full_name"] == "Renamed Again"
    expect(refresh(anon, pair["refresh_token"]), 200)


def test_role_is_read_fresh_on_every_request(anon: Api, admin: Api, make_user: MakeUser) -> None:
    # A token carries no role: a promoted user's new login acts with the new role at once,
    # and a demoted one loses it at once.
    user, password = signup(make_user, "teller")
    pair = tokens(anon, user["username"], password)
    expect(anon.client.get("/users", headers=bearer(pair["access_token"])), 200)
    assert "role" not in claims(pair["access_token"])
    expect(admin.put(f"/users/{user['id']}", json={"role": "user"}), 200)
    fresh = tokens(anon, user["username"], password)
    expect(anon.client.get("/users", headers=bearer(fresh["access_token"])), 403, "forbidden")
