"""`make bench`: every figure of issue 7 from one run on this machine, against its target.

1. Starts `bank-server db` (SQLite engine, fresh data dir) and the bank API (uvicorn, one
   worker) on a fresh database; signs in and opens 16 accounts through the API.
2. Deposits: wrk (C, its own process) sends `POST /accounts/{id}/deposit` with a unique
   Idempotency-Key per request from 16 connections for `--seconds`; the ledger is counted
   before and after to check every 201 committed.
3. The same deposits as raw PyMongo commands (bench/raw_deposits.py, its own process, 16
   clients) on a second fresh database set up the same way: `api_vs_raw_ratio`.
4. Reads: wrk `GET /accounts/{id}` with a bearer token, then the bare FastAPI app
   (bench/bare_app.py, same uvicorn command) `GET /const`, same wrk settings:
   `read_vs_bare_fastapi_ratio`.
5. `collection_scans` (bench/scans.py) on the API's database.
6. The desktop figures (bench/desktop_figures.py, its own Qt process).

With `--profile`, py-spy samples the API process and the database process during the
deposit run; the top frames are printed and kept in the results (`details.profiles`).
Writes bench/results/latest.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench.procs import (
    ROOT,
    AppProcess,
    CpuMeter,
    Profiler,
    bank_app,
    bare_app,
    claims,
    deposit_script,
    get_script,
    ready_branch,
    run_wrk,
    top_frames,
)
from bench.scans import check, hot_queries
from server.db import EmbeddedDatabase

CLIENTS = 16
ACCOUNTS = 16
TELLER = ("benchteller", "teller-pass-12345")
SUPERVISOR = ("benchsupervisor", "supervisor-pass-123")
RESULTS = ROOT / "bench" / "results"

# figure -> (comparison, target); None: reported without a target.
TARGETS: dict[str, tuple[str, float] | None] = {
    "api_vs_raw_ratio": (">=", 0.6),
    "read_vs_bare_fastapi_ratio": (">=", 0.25),
    "deposit_p50_ms": None,
    "deposit_p99_ms": None,
    "ops_per_s": None,
    "collection_scans": ("<=", 0),
    "desktop_table_10k_ms": ("<=", 500),
    "gui_max_stall_ms": ("<=", 50),
}


def prepare(url: str, mongodb_url: str, database: str) -> dict[str, Any]:
    """Ready the branch, create a customer with 16 accounts; return the teller's ids.

    The deposits are a teller's at the window: through the teller's open till session.
    """
    branch = ready_branch(url, mongodb_url, database, teller=TELLER, supervisor=SUPERVISOR,
                          currency="USD")  # fmt: skip
    with httpx.Client(base_url=url, timeout=60) as http:
        http.headers["Authorization"] = f"Bearer {branch.admin}"
        customer = http.post("/users", json={"username": "benchcustomer",
                                             "full_name": "Bench Customer",
                                             "password": "customer-pass-1",
                                             "email": "customer@example.com"})  # fmt: skip
        customer.raise_for_status()
        owner = customer.json()["id"]
        accounts = []
        for _ in range(ACCOUNTS):
            opened = http.post("/accounts", json={"account_type": "checking", "owner_id": owner,
                                                  "currency": "USD"})  # fmt: skip
            opened.raise_for_status()
            accounts.append(opened.json()["id"])
        http.headers["Authorization"] = f"Bearer {branch.teller}"
        for account in accounts:
            http.post(f"/accounts/{account}/deposit",
                      json={"amount": "100.00"}).raise_for_status()  # fmt: skip
    payload = claims(branch.teller)
    return {"token": branch.teller, "sid": payload["sid"], "user_id": int(payload["sub"]),
            "owner_id": owner, "accounts": accounts}  # fmt: skip


def machine() -> dict[str, Any]:
    """Describe the machine and how busy it is."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "mongoeco": version("mongoeco"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str:
    """Return the commit, marked `+dirty` when the tree has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def ledger_size(mongo: MongoClient[Any], database: str) -> int:
    """Return the number of ledger entries."""
    return int(mongo[database].transactions.count_documents({}))


def deposits_over_api(
    app: AppProcess, ids: dict[str, Any], mongo: MongoClient[Any], database: str,
    *, seconds: float, profile_dir: Path | None, db_pid: int,
) -> dict[str, Any]:  # fmt: skip
    """Run wrk deposits; check the ledger; optionally profile the API and the database."""
    warm = deposit_script(ids["token"], ids["accounts"], "warm")
    run_wrk(app.url, warm, threads=1, connections=CLIENTS, seconds=1)
    before = ledger_size(mongo, database)
    script = deposit_script(ids["token"], ids["accounts"], f"run{time.time_ns()}")
    meter = CpuMeter(api=app.pid, db=db_pid)
    if profile_dir is not None:
        with Profiler(app.pid, profile_dir / "api-deposits.txt"), \
                Profiler(db_pid, profile_dir / "db-deposits.txt"), meter:  # fmt: skip
            result = run_wrk(app.url, script, threads=1, connections=CLIENTS, seconds=seconds)
    else:
        with meter:
            result = run_wrk(app.url, script, threads=1, connections=CLIENTS, seconds=seconds)
    result.update(meter.per_op(result["ok"]))
    time.sleep(1)  # requests still in flight when wrk stopped
    committed = ledger_size(mongo, database) - before
    if committed < result["ok"]:
        raise RuntimeError(f"{result['ok']} deposits answered 201 but {committed} committed")
    result["ledger_before"] = before
    result["committed"] = committed
    return result


def raw_deposits(
    url: str, database: str, ids: dict[str, Any], *, seconds: float, db_pid: int
) -> dict[str, Any]:
    """Run bench/raw_deposits.py as its own process."""
    command = [
        sys.executable, "-m", "bench.raw_deposits", "--url", url, "--database", database,
        "--sid", ids["sid"], "--user-id", str(ids["user_id"]), "--db-pid", str(db_pid),
        "--accounts", ",".join(str(a) for a in ids["accounts"]),
        "--clients", str(CLIENTS), "--seconds", str(seconds),
    ]  # fmt: skip
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                         timeout=seconds + 300)  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith("RAW_JSON ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"raw deposits failed:\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("RAW_JSON "))
    return result


def desktop_figures(url: str) -> dict[str, Any]:
    """Run bench/desktop_figures.py as its own process."""
    command = [sys.executable, "-m", "bench.desktop_figures", "--server", url,
               "--username", TELLER[0], "--password", TELLER[1]]  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                         timeout=600, env=env)  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith("DESKTOP_JSON ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"desktop figures failed:\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("DESKTOP_JSON "))
    return result


def verdict(name: str, value: float) -> str:
    """Return "pass", "FAIL" or "-" (no target) for a figure."""
    target = TARGETS.get(name)
    if target is None:
        return "-"
    op, bound = target
    ok = value >= bound if op == ">=" else value <= bound
    return "pass" if ok else "FAIL"


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Run every benchmark; return the results document."""
    run = time.strftime("%H%M%S")
    api_db, raw_db = f"bench_api_{run}", f"bench_raw_{run}"
    database = EmbeddedDatabase(tmp / "db")
    url = database.start()
    assert database.process is not None
    db_pid = database.process.pid
    mongo: MongoClient[Any] = MongoClient(url, tz_aware=True)
    profile_dir = tmp / "profiles" if args.profile else None
    details: dict[str, Any] = {}
    try:
        # The raw side's database is set up through the API exactly as the API side's is.
        setup = bank_app(url, raw_db, tmp / "raw").start()
        try:
            raw_ids = prepare(setup.url, url, raw_db)
        finally:
            setup.stop()
        app = bank_app(url, api_db, tmp / "api").start()
        try:
            ids = prepare(app.url, url, api_db)
            print("deposits over the API ...", flush=True)
            details["api_deposits"] = deposits_over_api(
                app, ids, mongo, api_db, seconds=args.seconds, profile_dir=profile_dir,
                db_pid=db_pid,
            )  # fmt: skip
            print("deposits as raw PyMongo commands ...", flush=True)
            details["raw_deposits"] = raw_deposits(
                url, raw_db, raw_ids, seconds=args.seconds, db_pid=db_pid
            )
            print("reads ...", flush=True)
            account_url = f"{app.url}/accounts/{ids['accounts'][0]}"
            run_wrk(account_url, get_script(ids["token"]), threads=1, connections=CLIENTS,
                    seconds=1)  # fmt: skip
            with CpuMeter(api=app.pid, db=db_pid) as meter:
                reads = run_wrk(account_url, get_script(ids["token"]), threads=1,
                                connections=CLIENTS, seconds=args.read_seconds)  # fmt: skip
            details["api_reads"] = {**reads, **meter.per_op(reads["ok"])}
            print("collection scans ...", flush=True)
            owner = mongo[api_db].users.find_one({"username": "benchcustomer"})
            assert owner is not None
            details["scans"] = check(mongo[api_db], hot_queries(
                user_id=int(owner["_id"]), username="benchcustomer",
                account_id=ids["accounts"][0], sid=ids["sid"]))  # fmt: skip
            if not args.skip_desktop:
                print("desktop ...", flush=True)
                details["desktop"] = desktop_figures(app.url)
        finally:
            app.stop()
        bare = bare_app(tmp / "bare").start()
        try:
            run_wrk(bare.url + "/const", get_script(None), threads=1, connections=CLIENTS,
                    seconds=1)  # fmt: skip
            with CpuMeter(api=bare.pid) as meter:
                reads = run_wrk(bare.url + "/const", get_script(None), threads=1,
                                connections=CLIENTS, seconds=args.read_seconds)  # fmt: skip
            details["bare_reads"] = {**reads, **meter.per_op(reads["ok"])}
        finally:
            bare.stop()
    finally:
        mongo.close()
        database.stop()
    api, raw = details["api_deposits"], details["raw_deposits"]
    figures: dict[str, float | None] = {
        "api_vs_raw_ratio": round(api["per_s"] / raw["per_s"], 3),
        "read_vs_bare_fastapi_ratio": round(
            details["api_reads"]["per_s"] / details["bare_reads"]["per_s"], 3
        ),
        "deposit_p50_ms": api["p50_ms"],
        "deposit_p99_ms": api["p99_ms"],
        "ops_per_s": api["per_s"],
        "collection_scans": details["scans"]["collection_scans"],
        "desktop_table_10k_ms": details.get("desktop", {}).get("desktop_table_10k_ms"),
        "gui_max_stall_ms": details.get("desktop", {}).get("gui_max_stall_ms"),
    }
    if profile_dir is not None:
        details["profiles"] = {
            name: {"inclusive": top_frames(profile_dir / f"{name}-deposits.txt"),
                   "own": top_frames(profile_dir / f"{name}-deposits.txt", own=True)}
            for name in ("api", "db")
        }  # fmt: skip
    return {"figures": figures, "details": details}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, write the results, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="deposit run length")
    parser.add_argument("--read-seconds", type=float, default=8.0, help="read run length")
    parser.add_argument("--profile", action="store_true", help="py-spy the deposit run")
    parser.add_argument("--skip-desktop", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    info = machine()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bank-bench-") as tmp:
        result = measure(args, Path(tmp))
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    figures = result["figures"]
    document = {
        "timestamp": started.isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": info,
        "settings": {
            "clients": CLIENTS,
            "accounts": ACCOUNTS,
            "deposit_seconds": args.seconds,
            "read_seconds": args.read_seconds,
        },
        "figures": figures,
        "targets": {k: (f"{t[0]} {t[1]}" if t else None) for k, t in TARGETS.items()},
        "pass": {k: verdict(k, v) if v is not None else "not measured" for k, v in figures.items()},
        "details": result["details"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print_table(document)
    print(f"written to {args.out}")
    return 0


def print_table(document: dict[str, Any]) -> None:
    """Print the figures against their targets, then the details that explain them."""
    print(f"\n{'figure':<28} {'value':>10} {'target':>8} {'':>6}")
    for name, value in document["figures"].items():
        target = document["targets"][name] or ""
        shown = "-" if value is None else f"{value:g}"
        print(f"{name:<28} {shown:>10} {target:>8} {document['pass'][name]:>6}")
    details = document["details"]
    print()
    for key in ("api_deposits", "raw_deposits", "api_reads", "bare_reads"):
        row = details[key]
        cpu = "  ".join(f"{k.removesuffix('_cpu_ms')} {v}" for k, v in row.items()
                        if k.endswith("_cpu_ms"))  # fmt: skip
        print(f"{key:<14} {row['per_s']:>8}/s  p50 {row['p50_ms']:>8} ms  p99 {row['p99_ms']:>8} ms"
              f"  CPU ms/op: {cpu}")  # fmt: skip
    scans = details["scans"]
    print(f"\nembedded database's own plan: {scans['embedded_scans']} of {len(scans['queries'])} "
          f"hot queries scan (mongoeco); MongoDB indexes: {scans['collection_scans']} "
          f"COLLSCAN, {scans['in_memory_sorts']} in-memory sorts")  # fmt: skip
    for name, tops in details.get("profiles", {}).items():
        print(f"\n{name} process, own time (py-spy):")
        for frame, share in tops["own"][:8]:
            print(f"  {share:>5}%  {frame}")
    load = document["machine"]
    print(
        f"\nload average at start {load['load_average_at_start']}, "
        f"at end {load['load_average_at_end']} ({load['cpus']} CPUs)"
    )


if __name__ == "__main__":
    sys.exit(main())
