"""Shared fixtures: one wire database per session, one real server per test module."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests import user_state

# Before anything creates a QApplication or QSettings: the suite gets its own HOME, XDG dirs
# and QSettings location (subprocesses inherit the variables), and the session fails if the
# real user's desktop settings or bank data change while it runs.
REAL_USER_PATHS = user_state.user_paths()
REAL_USER_BEFORE = user_state.snapshot(REAL_USER_PATHS)
TEST_HOME = Path(tempfile.mkdtemp(prefix="bank-tests-home-"))
user_state.isolate(TEST_HOME)

from server.db import EmbeddedDatabase  # noqa: E402 - after the isolation above
from tests.support import (  # noqa: E402
    ADMIN_PASSWORD,
    ISSUED_SECRETS,
    LIVE_SERVERS,
    SUPERVISOR_PASSWORD,
    TEST_SECRET,
    Api,
    ServerProcess,
    expect,
    leaked_secrets,
    make_first_checker,
    open_till_session,
    ready_branch,
    remember_secrets,
)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_names = itertools.count(1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Add the end of every running server's log to a failed test's report (a hang or a 500
    in CI is then explained by what the server said, not only by the client's side)."""
    report = yield
    if report.failed and call.when == "call":
        for server in LIVE_SERVERS:
            report.sections.append((f"server log {server.url} (end)", server.full_log()[-4000:]))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when the real user's settings or data changed while the tests ran."""
    changed = user_state.changes(REAL_USER_BEFORE, user_state.snapshot(REAL_USER_PATHS))
    shutil.rmtree(TEST_HOME, ignore_errors=True)
    if not changed:
        return
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "the tests touched the real user's files: " + "; ".join(changed)
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message)


@pytest.fixture(scope="session")
def wire_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    """The embedded database (`bank-server db`, SQLite engine) as a real child process."""
    database = EmbeddedDatabase(tmp_path_factory.mktemp("wire-db"))
    database.start()
    try:
        yield database
    finally:
        database.stop()


def module_db_name(request: pytest.FixtureRequest) -> str:
    """Return a database name unique to the requesting test module."""
    name = re.sub(r"[^a-zA-Z0-9]", "_", request.module.__name__.rsplit(".", 1)[-1])
    return f"t_{name}_{next(_names)}"[:60]


@pytest.fixture(scope="module")
def server(
    wire_db: EmbeddedDatabase,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """A real uvicorn server with its own database, for one test module.

    When it stops, its whole log is searched for the secret key and every password and
    token the module's clients sent it (`remember_secrets`): none may have been logged.
    """
    env = getattr(request.module, "SERVER_ENV", {})
    process = ServerProcess(
        mongodb_url=wire_db.url,
        database_name=module_db_name(request),
        data_dir=tmp_path_factory.mktemp("server"),
        env=dict(env),
    ).start()
    try:
        yield process
    finally:
        process.stop()
        secrets = {TEST_SECRET, ADMIN_PASSWORD, *ISSUED_SECRETS.pop(process.url, set())}
        leaks = leaked_secrets(process.full_log(), secrets)
        assert not leaks, f"the server log of {request.module.__name__} holds secrets: {leaks}"


@pytest.fixture(scope="module")
def anon(server: ServerProcess) -> Iterator[Api]:
    """A client that has not signed in."""
    api = Api(server.url)
    yield api
    api.close()


@pytest.fixture(scope="module")
def supervisor(server: ServerProcess, anon: Api) -> Iterator[Api]:
    """A client signed in as a supervisor (the branch's first checker), made on the host."""
    api = make_first_checker(server, anon, "super", SUPERVISOR_PASSWORD, "supervisor")
    yield api
    api.close()


@pytest.fixture(scope="module")
def admin(anon: Api, supervisor: Api) -> Iterator[Api]:
    """The bootstrap admin: the vault stocked, thresholds lifted, an open session on a till.

    Role, unfreeze and limit changes need no approval either (version 1's rules). Tests of
    approvals set their policies back themselves.
    """
    api = anon.login("admin", ADMIN_PASSWORD)
    ready_branch(api, anon, supervisor)
    yield api
    api.close()


@pytest.fixture(scope="module")
def mongo(server: ServerProcess) -> Iterator[Any]:
    """The module's database through PyMongo, to check what the server stored."""
    client: MongoClient[Any] = MongoClient(server.mongodb_url, tz_aware=True)
    yield client[server.database_name]
    client.close()


_users = itertools.count(1)


@pytest.fixture(scope="module")
def make_user(admin: Api, anon: Api) -> Callable[..., tuple[dict[str, Any], Api]]:
    """Create a user with a role through the API and return it with a signed-in client."""

    def factory(role: str = "user", **fields: Any) -> tuple[dict[str, Any], Api]:
        n = next(_users)
        username = fields.pop("username", f"{role}{n}x{os.getpid() % 1000}")
        password = fields.pop("password", f"pw-{username}-secret")
        body = {
            "username": username,
            "password": password,
            "full_name": fields.pop("full_name", f"Test {role.title()} {n}"),
            "email": fields.pop("email", f"{username}@example.com"),
            "role": role,
            **fields,
        }
        remember_secrets(admin.base_url, password)
        user = expect(admin.post("/users", json=body), 201)
        return user, anon.login(username, password)

    return factory


@pytest.fixture(scope="module")
def teller(make_user: Callable[..., tuple[dict[str, Any], Api]], admin: Api) -> Api:
    """A client signed in as a teller, with an open session on a till of their own."""
    api = make_user("teller")[1]
    open_till_session(admin, api)
    return api


@pytest.fixture(scope="module")
def open_account(admin: Api) -> Callable[..., dict[str, Any]]:
    """Open an account for an owner (as admin), optionally with an opening deposit."""

    def factory(owner_id: int, deposit: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"account_type": "checking", "owner_id": owner_id, **fields}
        account = expect(admin.post("/accounts", json=body), 201)
        if deposit is not None:
            expect(admin.post(f"/accounts/{account['id']}/deposit", json={"amount": deposit}), 201)
            account = expect(admin.get(f"/accounts/{account['id']}"), 200)
        return account

    return factory
