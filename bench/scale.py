"""Five years of a small branch against one month of it: do the teller's reads stay fast?

Run: `.venv/bin/python -m bench.scale [--entries 250000] [--small 1000] [--repeat 25]`
(`make bench` runs it). Loopback only; about 5-10 minutes, most of it seeding.

Two banks, each on its own embedded database (`bank-server db`, SQLite engine) and its own
bank API (`bank-server serve`), set up the same way through the API: an admin, a teller
with an open till session, 200 customers with one EUR account each. Then the past is
written straight into the database file (bench/rawseed.py: mongoeco's own row builders,
while the database is stopped), exactly as postings would have written it: per cash
movement one journal entry, a customer leg and a till leg on their ledger pages, a
TransactionRef, the day's totals and a `money.deposit` / `money.withdrawal` audit event.

- The small bank: `--small` movements (1,000) in the last 30 days.
- The big bank: `--entries` movements (250,000) over five years (1,826 days).

In both, the measured account (the "hot" account) gets the same 50 movements a month, so a
history page, a deep page and a month's statement hold the same rows in both banks: what
differs is only everything else the bank has. After the database restarts (timed: mongoeco
rebuilds its single-field index entries on every start), each figure is measured on both
banks in turn (small, big, small, big ...), `--repeat` times after warm-up calls, and the
median is reported with the ratio big / small against issue 17's targets (each read
<= 1.5x, a deposit <= 1.2x). CPU ms of the database process per call come with each.

Writes bench/results/scale.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from bson import Decimal128
from pymongo import MongoClient

from bench import rawseed
from bench.procs import ROOT, AppProcess, bank_app, claims, ready_branch
from server.db import EmbeddedDatabase
from server.documents.ledger import PAGE_SIZE
from server.services.ledger import codes, store

DATABASE = "bench_scale"
CUSTOMERS = 200
HOT_PER_MONTH = 50
TELLER = ("scaleteller", "teller-pass-12345")
SUPERVISOR = ("scalesuper", "supervisor-pass-123")
CUSTOMER_PASSWORD = "customer-pass-1"
CURRENCY = "EUR"
TARGETS = {"read": 1.5, "deposit": 1.2}
RESULTS = ROOT / "bench" / "results"
SEEDED = {"ledger_pages", "journal", "transaction_refs", "daily_totals", "audit_events"}


@dataclass
class Bank:
    """One bank of the comparison: its processes, ids and tokens."""

    name: str
    movements: int
    days: int
    tmp: Path
    database: EmbeddedDatabase = field(init=False)
    app: AppProcess | None = None
    admin: str = ""
    teller: str = ""
    accounts: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    hot: dict[str, Any] = field(default_factory=dict)
    hot_entries: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.database = EmbeddedDatabase(self.tmp / self.name / "db")

    @property
    def url(self) -> str:
        assert self.app is not None
        return self.app.url


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.method} {answer.request.url.path}: "
                           f"{answer.status_code} {answer.text[:300]}")  # fmt: skip
    return answer.json()


def set_up(bank: Bank) -> None:
    """Start the bank, create its staff, till session and customers through the API."""
    url = bank.database.start()
    bank.app = bank_app(url, DATABASE, bank.tmp / bank.name / "app").start()
    branch = ready_branch(bank.url, url, DATABASE, teller=TELLER, supervisor=SUPERVISOR,
                          currency=CURRENCY)  # fmt: skip
    bank.admin, bank.teller = branch.admin, branch.teller
    bank.figures["past_till"] = branch.past_till
    with httpx.Client(base_url=bank.url, timeout=120) as http:
        http.headers["Authorization"] = f"Bearer {bank.admin}"
        surnames = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas"]
        for n in range(CUSTOMERS):
            customer = _ok(http.post("/users", json={
                "username": f"customer{n:03d}", "password": CUSTOMER_PASSWORD,
                "full_name": f"Customer{n:03d} {surnames[n % len(surnames)]}",
                "email": f"customer{n:03d}@example.com",
            }), 201)  # fmt: skip
            bank.customers.append(customer)
            bank.accounts.append(_ok(http.post("/accounts", json={
                "account_type": "checking", "owner_id": customer["id"], "currency": CURRENCY,
            }), 201))  # fmt: skip
    bank.hot = bank.accounts[0]
    bank.app.stop()
    bank.database.stop()


# ---------------------------------------------------------------------------------------
# The past, as postings would have written it


@dataclass
class Ledger:
    """What the seeded past adds up to (the documents' fixups after the restart)."""

    counters: dict[str, int]
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    till: dict[str, Any] = field(
        default_factory=lambda: {
            "balance": Decimal(0),
            "debits": Decimal(0),
            "credits": Decimal(0),
            "seq": 0,
        }
    )


def _timeline(bank: Bank, today: date) -> Iterator[tuple[datetime, int]]:
    """Yield (moment, account index) of every past movement, in time order."""
    rng = random.Random(f"{bank.name}-{bank.movements}")
    first = today - timedelta(days=bank.days)
    seconds = bank.days * 86400
    hot_count = HOT_PER_MONTH * bank.days // 30
    others = bank.movements - hot_count
    moments = sorted(
        [(rng.random(), 0) for _ in range(hot_count)]
        + [(rng.random(), 1 + rng.randrange(CUSTOMERS - 1)) for _ in range(others)]
    )
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    last_ms = -1
    for fraction, account in moments:
        ms = max(int(fraction * seconds * 1000), last_ms + 1)
        last_ms = ms
        yield start + timedelta(milliseconds=ms), account


def _past(bank: Bank, counters: dict[str, int]) -> tuple[dict[str, list[dict[str, Any]]], Ledger]:
    """Return the documents of the seeded past, by collection, and what they add up to."""
    today = datetime.now(UTC).date()
    ledger = Ledger(counters=dict(counters))
    rng = random.Random(f"amounts-{bank.name}")
    till_code = codes.till(int(bank.figures["past_till"]), CURRENCY)
    pages: dict[str, list[str]] = defaultdict(list)
    journals: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    totals: dict[str, dict[str, dict[str, int | Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: {"count": 0, "sum": Decimal(0)}))  # fmt: skip
    state = {a["id"]: {"balance": Decimal(0), "debits": Decimal(0), "credits": Decimal(0),
                       "seq": 0} for a in bank.accounts}  # fmt: skip
    teller_id = int(claims(bank.teller)["sub"])
    for moment, index in _timeline(bank, today):
        account = bank.accounts[index]
        mine = state[account["id"]]
        amount = Decimal(rng.randrange(1000, 80000)) / 100
        kind = "withdrawal" if mine["balance"] >= amount and rng.random() < 0.4 else "deposit"
        journal_id = ledger.counters["journal"] = ledger.counters["journal"] + 1
        txn_id = ledger.counters["transactions"] = ledger.counters["transactions"] + 1
        event_id = ledger.counters["audit_events"] = ledger.counters["audit_events"] + 1
        business_date = moment.date().isoformat()
        customer_side, till_side = ("credit", "debit") if kind == "deposit" else ("debit", "credit")
        mine["balance"] += amount if kind == "deposit" else -amount
        mine["credits" if kind == "deposit" else "debits"] += amount
        mine["seq"] += 1
        till = ledger.till
        till["balance"] += amount if kind == "deposit" else -amount
        till["debits" if kind == "deposit" else "credits"] += amount
        till["seq"] += 1
        common = {"journal_id": journal_id, "kind": kind, "amount": amount, "currency": CURRENCY,
                  "business_date": business_date, "created_at": moment, "description": None,
                  "session_id": None, "transaction_id": txn_id}  # fmt: skip
        customer_leg = {**common, "side": customer_side, "seq": mine["seq"],
                        "balance_after": mine["balance"], "type": kind,
                        "direction": customer_side, "transfer_id": None,
                        "counterparty_number": None, "performed_by": teller_id,
                        "approval_id": None, "reverses_id": None, "reversed_by": None,
                        "forced": False, "account_id": account["id"]}  # fmt: skip
        till_leg = {**common, "side": till_side, "seq": till["seq"],
                    "balance_after": till["balance"]}  # fmt: skip
        pages[account["number"]].append(store.encode(customer_leg))
        pages[till_code].append(store.encode(till_leg))
        refs.append({"_id": txn_id, "account_id": account["id"], "code": account["number"],
                     "seq": mine["seq"], "journal_id": journal_id})  # fmt: skip
        legs = [{"account": till_code, "side": till_side, "amount": Decimal128(amount),
                 "currency": CURRENCY},
                {"account": account["number"], "side": customer_side,
                 "amount": Decimal128(amount), "currency": CURRENCY}]  # fmt: skip
        journals.append({
            "_id": journal_id, "kind": kind, "business_date": business_date, "created_at": moment,
            "performed_by": teller_id, "approval_id": None, "session_id": None,
            "legs": legs if kind == "deposit" else legs[::-1], "reverses_id": None,
            "reversed_by": None, "description": None, "reference": None, "transfer_id": None,
            "lines": [{"id": txn_id, "account_id": account["id"], "seq": mine["seq"]}],
        })  # fmt: skip
        day = totals[business_date][kind]
        day["count"] = int(day["count"]) + 1
        day["sum"] = Decimal(day["sum"]) + amount
        events.append({
            "_id": event_id, "at": moment, "actor_id": teller_id,
            "action": "money.deposit" if kind == "deposit" else "money.withdrawal",
            "outcome": "ok", "code": None, "target_type": "account", "target_id": account["id"],
            "ip": "127.0.0.1", "request_id": uuid.uuid4().hex,
            "details": {"transaction_id": txn_id, "amount": f"{amount:.2f}", "currency": CURRENCY,
                        "journal_id": journal_id, "balance_after": f"{mine['balance']:.2f}",
                        "session_id": None},
            "business_date": business_date,
        })  # fmt: skip
    ledger.accounts = state
    leg_pages = [
        {"_id": store.page_id(code, n), "code": code, "page": n,
         "legs": legs[n * PAGE_SIZE : (n + 1) * PAGE_SIZE]}
        for code, legs in pages.items() for n in range((len(legs) + PAGE_SIZE - 1) // PAGE_SIZE)
    ]  # fmt: skip
    daily = [
        {"_id": day, "totals": {kind: {CURRENCY: {"count": f["count"],
                                                  "sum": Decimal128(Decimal(f["sum"]))}}
                                for kind, f in kinds.items()}}
        for day, kinds in totals.items()
    ]  # fmt: skip
    documents = {"ledger_pages": leg_pages, "journal": journals, "transaction_refs": refs,
                 "daily_totals": daily, "audit_events": events}  # fmt: skip
    bank.hot_entries = state[bank.hot["id"]]["seq"]
    return documents, ledger


def seed(bank: Bank) -> dict[str, Any]:
    """Write the bank's past into its stopped database, start it again, fix the totals up."""
    data = bank.database.data_dir / "bank.sqlite"
    url = bank.database.start()
    with MongoClient(url, tz_aware=True) as mongo:
        counters = {doc["_id"]: int(doc["seq"]) for doc in mongo[DATABASE].counters.find()}
        present = set(mongo[DATABASE].list_collection_names())
        for name in SEEDED - present:  # a collection no write has made yet
            mongo[DATABASE].create_collection(name)
    bank.database.stop()
    for name in ("journal", "transactions", "audit_events"):
        counters.setdefault(name, 0)
    began = time.perf_counter()
    documents, ledger = _past(bank, counters)
    built = time.perf_counter() - began
    began = time.perf_counter()
    written = asyncio.run(rawseed.write(data, DATABASE, documents))
    wrote = time.perf_counter() - began
    began = time.perf_counter()
    url = bank.database.start(timeout=3600)
    restart = time.perf_counter() - began
    with MongoClient(url, tz_aware=True) as mongo:
        db = mongo[DATABASE]
        for account_id, totals in ledger.accounts.items():
            db.accounts.update_one({"_id": account_id}, {"$set": {
                "balance": Decimal128(totals["balance"]), "debits": Decimal128(totals["debits"]),
                "credits": Decimal128(totals["credits"]), "entry_seq": totals["seq"]}})  # fmt: skip
        till = ledger.till
        past_till = int(bank.figures["past_till"])
        db.ledger_accounts.update_one({"_id": codes.till(past_till, CURRENCY)}, {
            "$set": {"balance": Decimal128(till["balance"]), "debits": Decimal128(till["debits"]),
                     "credits": Decimal128(till["credits"]), "seq": till["seq"]},
            "$setOnInsert": {"kind": codes.kind_of(codes.till(past_till, CURRENCY)).value,
                             "name": "Counter 0", "currency": CURRENCY,
                             "till_id": past_till, "created_at": datetime.now(UTC)},
        }, upsert=True)  # fmt: skip
        for name, value in ledger.counters.items():
            db.counters.update_one({"_id": name}, {"$set": {"seq": value}}, upsert=True)
        sizes = {name: db[name].estimated_document_count() for name in documents}
    bank.app = bank_app(url, DATABASE, bank.tmp / bank.name / "app").start(timeout=3600)
    return {"build_s": round(built, 1), "write_s": round(wrote, 1),
            "write_by_collection_s": written, "restart_s": round(restart, 1),
            "documents": sizes, "hot_account_entries": bank.hot_entries}  # fmt: skip


# ---------------------------------------------------------------------------------------
# The figures


@dataclass(frozen=True)
class Figure:
    """One request a teller or an admin makes, timed on both banks."""

    name: str
    kind: str  # "read" or "deposit": which target applies
    request: Callable[[Bank, httpx.Client, int], httpx.Response]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _month(bank: Bank) -> dict[str, str]:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"since": (end - timedelta(days=30)).isoformat(), "until": end.isoformat()}


FIGURES = [
    Figure(
        "history_first_page",
        "read",
        lambda b, h, _: h.get(
            f"/accounts/{b.hot['id']}/transactions", params={"limit": 50}, headers=_auth(b.teller)
        ),
    ),
    Figure(
        "history_deep_page",
        "read",
        lambda b, h, _: h.get(
            f"/accounts/{b.hot['id']}/transactions",
            params={"limit": 50, "skip": b.hot_entries // 2},
            headers=_auth(b.teller),
        ),
    ),
    Figure(
        "audit_first_page",
        "read",
        lambda b, h, _: h.get("/audit", params={"limit": 50}, headers=_auth(b.admin)),
    ),
    Figure(
        "audit_by_action_page",
        "read",
        lambda b, h, _: h.get(
            "/audit", params={"limit": 50, "action": "money.withdrawal"}, headers=_auth(b.admin)
        ),
    ),
    Figure(
        "audit_of_an_account_page",
        "read",
        lambda b, h, _: h.get(
            "/audit",
            params={"limit": 50, "target_type": "account", "target_id": b.hot["id"]},
            headers=_auth(b.admin),
        ),
    ),
    Figure("stats", "read", lambda b, h, _: h.get("/stats", headers=_auth(b.admin))),
    Figure(
        "stats_daily_30",
        "read",
        lambda b, h, _: h.get("/stats/daily", params={"days": 30}, headers=_auth(b.admin)),
    ),
    Figure(
        "statement_month_csv",
        "read",
        lambda b, h, _: h.get(
            f"/accounts/{b.hot['id']}/statement", params=_month(b), headers=_auth(b.teller)
        ),
    ),
    Figure(
        "customer_search",
        "read",
        lambda b, h, _: h.get(
            "/customers/search", params={"q": "smith", "limit": 20}, headers=_auth(b.teller)
        ),
    ),
    Figure(
        "deposit",
        "deposit",
        lambda b, h, n: h.post(
            f"/accounts/{b.hot['id']}/deposit",
            json={"amount": "10.00"},
            headers={**_auth(b.teller), "Idempotency-Key": f"scale-{b.name}-{n}-{uuid.uuid4()}"},
        ),
    ),
]


def measure(banks: list[Bank], repeat: int, warmup: int = 3) -> dict[str, dict[str, Any]]:
    """Time every figure on every bank, interleaved; return medians per figure and bank."""
    from bench.procs import cpu_seconds

    clients = {b.name: httpx.Client(base_url=b.url, timeout=300) for b in banks}
    results: dict[str, dict[str, Any]] = {}
    calls = 0
    try:
        for figure in FIGURES:
            walls: dict[str, list[float]] = defaultdict(list)
            cpus: dict[str, list[float]] = defaultdict(list)
            rows: dict[str, int] = {}
            for round_ in range(warmup + repeat):
                for bank in banks:
                    assert bank.database.process is not None
                    db_pid = bank.database.process.pid
                    calls += 1
                    cpu0 = cpu_seconds(db_pid)
                    began = time.perf_counter()
                    answer = figure.request(bank, clients[bank.name], calls)
                    wall = time.perf_counter() - began
                    cpu = cpu_seconds(db_pid) - cpu0
                    if answer.status_code not in (200, 201):
                        raise RuntimeError(f"{figure.name} on {bank.name}: {answer.status_code} "
                                           f"{answer.text[:300]}")  # fmt: skip
                    if round_ == 0:
                        rows[bank.name] = _rows(answer)
                    if round_ >= warmup:
                        walls[bank.name].append(wall * 1000)
                        cpus[bank.name].append(cpu * 1000)
            entry: dict[str, Any] = {"kind": figure.kind}
            for bank in banks:
                entry[bank.name] = {
                    "p50_ms": round(statistics.median(walls[bank.name]), 1),
                    "db_cpu_ms": round(statistics.mean(cpus[bank.name]), 1),
                    "rows": rows[bank.name],
                }
            small, big = banks[0].name, banks[1].name
            entry["ratio"] = round(entry[big]["p50_ms"] / max(entry[small]["p50_ms"], 0.01), 2)
            entry["target"] = TARGETS[figure.kind]
            results[figure.name] = entry
            print(
                f"  {figure.name:26} {entry[small]['p50_ms']:9.1f} ms {entry[big]['p50_ms']:9.1f}"
                f" ms  x{entry['ratio']:<6} (target <= {entry['target']})",
                flush=True,
            )
    finally:
        for client in clients.values():
            client.close()
    return results


def _rows(answer: httpx.Response) -> int:
    """How many rows an answer holds (a page's items, a CSV's lines)."""
    kind = answer.headers.get("content-type", "")
    if kind.startswith("text/csv"):
        return answer.text.count("\n")
    body = answer.json()
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return len(body["items"])
    if isinstance(body, dict) and isinstance(body.get("days"), list):
        return len(body["days"])
    return 1


def main(argv: list[str] | None = None) -> int:
    """Build both banks, measure, write bench/results/scale.json, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=250_000, help="the big bank's movements")
    parser.add_argument("--small", type=int, default=1_000, help="the small bank's movements")
    parser.add_argument("--years", type=float, default=5.0, help="the big bank's past")
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the data dirs")
    args = parser.parse_args(argv)
    rawseed.check_engine()
    load = [round(x, 2) for x in os.getloadavg()]
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    banks = [
        Bank("small", args.small, 30, tmp),
        Bank("big", args.entries, int(args.years * 365.25), tmp),
    ]
    document: dict[str, Any] = {"load_average_at_start": load, "cpus": os.cpu_count()}
    try:
        for bank in banks:
            print(
                f"{bank.name} bank: {bank.movements:,} movements over {bank.days} days ...",
                flush=True,
            )
            began = time.perf_counter()
            set_up(bank)
            setup_s = round(time.perf_counter() - began, 1)
            bank.figures["seed"] = {"setup_s": setup_s, **seed(bank)}
            print(f"  {json.dumps(bank.figures['seed'])}", flush=True)
        print(f"figures (median of {args.repeat}; small, big, ratio):", flush=True)
        document["figures"] = measure(banks, args.repeat)
        document["banks"] = {b.name: {"movements": b.movements, "days": b.days, **b.figures}
                             for b in banks}  # fmt: skip
        document["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        for bank in banks:
            if bank.app is not None:
                bank.app.stop()
            bank.database.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    missed = [name for name, f in document["figures"].items() if f["ratio"] > f["target"]]
    print(
        f"load average {load} -> {document['load_average_at_end']}; "
        f"{len(missed)} of {len(FIGURES)} over target: {', '.join(missed) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
