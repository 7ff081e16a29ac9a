"""Deposit latency on the embedded database as the ledger grows (100 and 1,000 entries).

Starts a real `bank-server db` (SQLite engine) and a real uvicorn server, fills the ledger
through the API, then times sequential deposits over HTTP at each size. Prints a table and
writes bench/results/deposit_latency.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.procs import BENCH_ENV
from server.db import EmbeddedDatabase
from tests.support import ADMIN_PASSWORD, Api, ServerProcess

SIZES = (100, 1000)
SAMPLES = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        database = EmbeddedDatabase(Path(tmp) / "db")
        url = database.start()
        server = ServerProcess(
            mongodb_url=url, database_name="bench", data_dir=Path(tmp), env=dict(BENCH_ENV)
        )
        server.start()
        results: dict[str, dict[str, float]] = {}
        try:
            admin = Api(server.url).login("admin", ADMIN_PASSWORD)
            user = admin.post("/users", json={"username": "benchuser", "password": "bench-pass-1",
                                              "full_name": "Bench User",
                                              "email": "b@example.com"}).json()  # fmt: skip
            accounts = [
                admin.post(
                    "/accounts", json={"account_type": "checking", "owner_id": user["id"]}
                ).json()["id"]
                for _ in range(10)
            ]
            entries = 0
            with httpx.Client(base_url=server.url, headers=admin.headers(), timeout=60) as http:
                for size in SIZES:
                    fill_started = time.perf_counter()
                    while entries < size:
                        http.post(f"/accounts/{accounts[entries % 10]}/deposit",
                                  json={"amount": "1.00"}).raise_for_status()  # fmt: skip
                        entries += 1
                    fill_seconds = time.perf_counter() - fill_started
                    timings = []
                    for n in range(SAMPLES):
                        started = time.perf_counter()
                        http.post(f"/accounts/{accounts[n % 10]}/deposit",
                                  json={"amount": "2.50"}).raise_for_status()  # fmt: skip
                        timings.append((time.perf_counter() - started) * 1000)
                    entries += SAMPLES
                    results[f"ledger_{size}"] = {
                        "existing_entries": size,
                        "p50_ms": round(statistics.median(timings), 1),
                        "p99_ms": round(percentile(timings, 0.99), 1),
                        "mean_ms": round(statistics.fmean(timings), 1),
                        "fill_rate_per_s": round((size - (entries - SAMPLES - size)) / fill_seconds
                                                 if fill_seconds else 0, 1),
                    }  # fmt: skip
        except Exception:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            server.stop()
            database.stop()
    print(f"{'ledger entries':>15} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for row in results.values():
        print(f"{row['existing_entries']:>15} {row['p50_ms']:>8} {row['p99_ms']:>8} "
              f"{row['mean_ms']:>8}")  # fmt: skip
    out = Path(__file__).parent / "results" / "deposit_latency.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
