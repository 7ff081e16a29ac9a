"""The bank workload against two server processes sharing one `bank-server db`, with crashes.

Short form of `make soak`: 16 clients for 20 seconds per test, and beside them tellers
working their tills in sessions (counts, cash to and from the vault, closes with and
without differences) with a supervisor client deciding their approvals. After each run the
ledger invariants of DESIGN.md must hold, every till must hold what its legs say and what
its teller was told, and no Idempotency-Key may have moved money twice.

Half the accounts are in USD, whose deposit, withdrawal and transfer thresholds are 0.01:
every USD movement waits for approval, and two supervisors, one on each server, approve
them as they come, racing for each. No approval may execute twice. The tellers work in EUR
(their movements go straight through; their tills' approvals are their supervisor's).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from server.db import EmbeddedDatabase
from shared.money import SUPPORTED_CURRENCIES
from tests.ledger_checks import check_ledger
from tests.support import (
    ADMIN_PASSWORD,
    NO_THRESHOLD,
    SUPERVISOR_PASSWORD,
    Api,
    ServerProcess,
    expect,
    iso_ms,
    lift_thresholds,
    make_first_checker,
    open_till_session,
    relax_settings_policies,
    set_policy,
    stock_vault,
    stocked_till,
)
from tests.workload import (
    WorkloadResult,
    check_holds,
    check_invariants,
    open_workload_accounts,
    run_workload,
)
from tests.workload_branch import Branch, Teller, check_branch
from tests.workload_day import DayRun, check_day

# Timing and load: run after the parallel part, alone (Makefile `test`).
pytestmark = pytest.mark.serial

CLIENTS = int(os.environ.get("WORKLOAD_CLIENTS", "16"))
SECONDS = float(os.environ.get("WORKLOAD_SECONDS", "20"))
ACCOUNTS = 8
TELLERS = int(os.environ.get("WORKLOAD_TELLERS", "3"))
TILL_CASH = Decimal("1000.00")
CURRENCIES = ("USD", "EUR")


@dataclass
class Cluster:
    """One embedded database, two servers, an admin token and the workload's accounts."""

    database: EmbeddedDatabase
    servers: list[ServerProcess]
    token: str
    accounts: list[int]
    mongo: Any
    branch: Branch
    checkers: list[str]
    currencies: dict[int, str]

    def total(self) -> Decimal:
        return sum(
            (doc["balance"].to_decimal() for doc in self.mongo.accounts.find()),
            Decimal("0.00"),
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("workload")
    database = EmbeddedDatabase(root / "db", txn_lifetime=5)
    url = database.start()
    servers = [
        ServerProcess(
            mongodb_url=url,
            database_name="workload",
            data_dir=root / f"s{n}",
            env={"DB_TIMEOUT_MS": "3000"},
        )
        for n in range(2)
    ]
    client: MongoClient[Any] = MongoClient(url, tz_aware=True)
    try:
        for server in servers:
            server.start()
        admin = Api(servers[0].url).login("admin", ADMIN_PASSWORD)
        checkers = [make_first_checker(server, Api(server.url), f"super{n}",
                                       f"workload-super-{n}-pass", "supervisor")
                    for n, server in enumerate(servers)]  # fmt: skip
        stock_vault(admin, checkers[0])
        lift_thresholds(admin, checkers[0])
        relax_settings_policies(admin, checkers[0])  # staff are then made without approval
        supervisor = staff(admin, "wlsuper", "supervisor", SUPERVISOR_PASSWORD)
        open_till_session(admin, admin)  # the 16 clients' cash goes through the admin's till
        accounts = open_workload_accounts(admin, ACCOUNTS, currencies=CURRENCIES)
        currencies = {account: CURRENCIES[n % len(CURRENCIES)] for n, account in
                      enumerate(accounts)}  # fmt: skip
        tellers = []
        for n in range(TELLERS):
            teller = staff(admin, f"wlteller{n}", "teller", f"teller-pass-{n}")
            till = stocked_till(supervisor, f"Workload till {n}", {"EUR": str(TILL_CASH)})
            assert teller.token is not None
            tellers.append(Teller(token=teller.token, till_id=int(till["id"]), cash=TILL_CASH))
        # Every USD movement now waits for approval; EUR ones go straight through.
        for action in ("deposit", "withdrawal", "transfer"):
            set_policy(admin, checkers[0], action,
                       threshold={**dict.fromkeys(SUPPORTED_CURRENCIES, NO_THRESHOLD),
                                  "USD": "0.01"})  # fmt: skip
        tokens = [checker.token for checker in checkers]
        assert admin.token is not None
        assert supervisor.token is not None
        assert None not in tokens
        branch = Branch(supervisor_token=supervisor.token, tellers=tellers, currency="EUR",
                        accounts=[a for a in accounts if currencies[a] == "EUR"])  # fmt: skip
        yield Cluster(database, servers, admin.token, accounts, client["workload"], branch,
                      [str(token) for token in tokens], currencies)  # fmt: skip
    finally:
        client.close()
        for server in servers:
            server.stop()
        database.stop()


def staff(admin: Api, username: str, role: str, password: str) -> Api:
    """Create a staff user (as admin) and return a client signed in as them."""
    body = {"username": username, "password": password, "full_name": f"Work {role.title()}",
            "email": f"{username}@example.com", "role": role}  # fmt: skip
    expect(admin.post("/users", json=body), 201)
    return admin.login(username, password)


def check_all(cluster: Cluster, result: WorkloadResult, opening: Decimal) -> dict[str, Any]:
    """Check the workload's invariants, the ledger's, the branch's tills and sessions, and
    that no approval executed twice."""
    counts = check_invariants(cluster.mongo, result, opening)
    check_ledger(cluster.mongo)
    events = Counter(
        event["details"]["approval_id"]
        for event in cluster.mongo.audit_events.find(
            {"action": {"$in": ["money.deposit", "money.withdrawal", "money.transfer"]},
             "outcome": "ok", "details.approval_id": {"$exists": True}})
    )  # fmt: skip
    money = {"action": {"$in": ["deposit", "withdrawal", "transfer"]}}
    for approval in cluster.mongo.approvals.find(money):
        executed = approval["status"] == "executed"
        assert events.get(approval["_id"], 0) == (1 if executed else 0), approval
        assert approval["status"] != "pending", approval
    branch = check_branch(cluster.mongo, cluster.branch)
    assert branch["sessions"] > 0, branch
    # What every till holds, as a supervisor sees it, is what its legs and its teller say.
    supervisor = Api(cluster.servers[0].url, cluster.branch.supervisor_token)
    for teller in cluster.branch.tellers:
        till = expect(supervisor.get(f"/tills/{teller.till_id}"), 200)
        assert till["session_id"] is None
        cash = (till["cash"] or {}).get(cluster.branch.currency, "0.00")
        assert Decimal(cash) == teller.cash, (till, teller)
    supervisor.close()
    print("branch:", branch, dict(cluster.branch.decisions))
    return {**counts, **branch}


def workload(
    cluster: Cluster, chaos: Callable[[], None] | None = None, *, holds: bool = False
) -> WorkloadResult:
    """Run the workload on both servers while `chaos` runs in a thread."""
    thread = threading.Thread(target=chaos, daemon=True) if chaos else None
    if thread:
        thread.start()
    result = asyncio.run(
        run_workload(
            [s.url for s in cluster.servers],
            cluster.token,
            cluster.accounts,
            clients=CLIENTS,
            seconds=SECONDS,
            seed=int(time.time()),
            branch=cluster.branch,
            approvers=cluster.checkers,
            currencies=cluster.currencies,
            holds=holds,
        )
    )
    if thread:
        thread.join(60)
        assert not thread.is_alive()
    print("workload:", result.summary())
    return result


def test_concurrent_clients_on_two_servers_keep_every_invariant(cluster: Cluster) -> None:
    opening = cluster.total()
    # Holds are placed and released on the two servers while debits run: a debit that
    # read an account before a hold landed on the other server must start over.
    result = workload(cluster, holds=True)
    assert len(result.committed) + len(result.approved) > 30, result.summary()
    assert {o.kind for o in result.committed} == {"deposit", "withdraw", "transfer"}
    # Part of the movements waited and then happened; the checkers raced for them.
    assert {o.kind for o in result.approved} == {"deposit", "withdraw", "transfer"}
    assert result.decisions[200] >= len(result.approved), result.summary()
    assert not result.server_errors, result.summary()
    assert not result.transport_errors, result.summary()
    counts = check_all(cluster, result, opening)
    # The tellers counted differences that were posted, and moved cash to and from the vault.
    assert counts["differences"] > 0, counts
    assert cluster.branch.decisions["till.variance:executed"] > 0, cluster.branch.decisions
    holds = check_holds(cluster.mongo, result)
    assert holds["placed"] > 5, holds


def test_killing_a_server_mid_workload_loses_nothing_and_moves_nothing_twice(
    cluster: Cluster,
) -> None:
    opening = cluster.total()
    victim = cluster.servers[1]

    def chaos() -> None:
        time.sleep(SECONDS / 4)
        victim.kill()
        time.sleep(2)
        victim.start()

    result = workload(cluster, chaos)
    assert sum(result.transport_errors.values()) > 0, "the kill should have cut connections"
    assert len(result.committed) + len(result.approved) > 15, result.summary()
    check_all(cluster, result, opening)


def test_killing_the_database_loses_no_committed_movement(cluster: Cluster, tmp_path: Path) -> None:
    opening = cluster.total()
    before: dict[str, int] = {}

    restarted: list[str] = []

    def chaos() -> None:
        time.sleep(SECONDS / 4)
        cluster.database.kill()
        # What the database had committed when it died, read from its file afterwards.
        before["entries"] = _count_entries(cluster.database.data_dir / "bank.sqlite")
        time.sleep(2)
        cluster.database.start()
        restarted.append(iso_ms(datetime.now(UTC)))

    result = workload(cluster, chaos)
    # The kill may show as 503s or cut connections, or be absorbed entirely by the servers'
    # transaction retries (a 2 s outage is within their window); either way the bank kept
    # confirming movements after the restart, and the invariants hold over both sides.
    assert restarted, "the database was not restarted"
    after_restart = [
        o for o in result.committed if str(o.body.get("created_at", "")) > restarted[0]
    ]
    assert after_restart, result.summary()
    counts = check_all(cluster, result, opening)
    assert counts["entries"] >= before["entries"] > 0
    for server in cluster.servers:
        expect(Api(server.url).get("/health"), 200)


def _count_entries(path: Path) -> int:
    """Count customer Transactions in the SQLite file with sqlite3, outside mongoeco."""
    import sqlite3

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        row = connection.execute(
            "SELECT COUNT(*) FROM documents WHERE db_name = ? AND coll_name = ?",
            ("workload", "transaction_refs"),  # one per customer Transaction
        ).fetchone()
    finally:
        connection.close()
    return int(row[0])


def test_reversals_and_a_close_during_the_workload_keep_every_invariant(cluster: Cluster) -> None:
    # The branch a day needs: a checker, cash in the vault and a till session for the
    # workload's cash (idempotent where the cluster already has them).
    # No approval here: USD movements go straight through again, as EUR ones do.
    admin = Api(cluster.servers[0].url, cluster.token)
    supervisor = Api(cluster.servers[0].url, cluster.branch.supervisor_token)
    stock_vault(admin, supervisor)
    lift_thresholds(admin, supervisor)
    open_till_session(admin, admin)  # staff cash goes through a till
    assert supervisor.token is not None
    day = DayRun(supervisor_token=supervisor.token, staff_token=cluster.token)

    result = asyncio.run(run_workload(
        [s.url for s in cluster.servers], cluster.token, cluster.accounts, clients=CLIENTS,
        seconds=SECONDS, seed=int(time.time()), day=day, currencies=cluster.currencies,
    ))  # fmt: skip

    print("workload:", result.summary(), "reversals:", len(day.reversals))
    assert not result.unresolved, result.summary()
    assert len(result.committed) > 20, result.summary()  # enough to race the close
    for outcome in result.outcomes:
        assert outcome.status == 201 or outcome.code in ("insufficient_funds", "limit_exceeded"), (
            outcome
        )
    check_ledger(cluster.mongo)
    verified = expect(supervisor.get("/business-days/verify"), 200)
    counts = check_day(cluster.mongo, day, verified)
    assert counts["reversals"] > 0, counts
    report = day.reports[0]
    dated = cluster.mongo.journal.count_documents({"business_date": report["date"]})
    assert sum(f["count"] for by in report["movements"].values() for f in by.values()) == dated
