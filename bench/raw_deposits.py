"""The raw side of `api_vs_raw_ratio`: a deposit's database operations issued with PyMongo.

Run as its own process (`python -m bench.raw_deposits ...`, started by bench/run.py): N
concurrent asyncio clients, each repeating exactly the commands the API issues for one
`POST /accounts/{id}/deposit` with an Idempotency-Key (read from server/api/deps.py,
server/services/auth.py, idempotency.py, movements.py and audit.py):

  outside the transaction  find login_sessions by _id; find users by _id; find accounts
                           by _id (visible_account); find idempotency_keys by _id; insert the
                           pending claim
  one transaction          find the account; findAndModify it (conditional $inc of balance
                           and entry_seq); findAndModify the `transactions` counter; insert
                           the ledger entry; findAndModify the `audit_events` counter; insert
                           the audit event; update the claim to its stored answer; commit

Transactions go through one asyncio lock per process, as the server's single money writer
does (server/db.py `Database.transaction`). Prints one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from bench.procs import CpuMeter


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class RawDeposits:
    """Deposits as bare PyMongo commands against one database."""

    def __init__(self, client: AsyncMongoClient[Any], database: str, *, sid: str, user_id: int):
        self.db = client[database]
        self.client = client
        self.sid = sid
        self.user_id = user_id
        self.writer = asyncio.Lock()

    async def next_id(self, name: str, session: AsyncClientSession) -> int:
        """Bump a counter as server/db.py `next_id` does."""
        doc = await self.db.counters.find_one_and_update(
            {"_id": name}, {"$inc": {"seq": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=session,
        )  # fmt: skip
        assert doc is not None
        return int(doc["seq"])

    async def deposit(self, account_id: int, key: str, amount: Decimal) -> None:
        """Issue one deposit's commands."""
        db = self.db
        current = await db.login_sessions.find_one(
            {"_id": self.sid}, projection={"user_id": 1, "revoked_at": 1}
        )
        assert current is not None
        assert current["user_id"] == self.user_id
        assert await db.users.find_one({"_id": self.user_id}) is not None
        assert await db.accounts.find_one({"_id": account_id}) is not None
        record_id = f"{self.user_id}:{hashlib.sha256(key.encode()).hexdigest()}"
        assert await db.idempotency_keys.find_one({"_id": record_id}) is None
        token = secrets.token_hex(12)
        now = _now()
        await db.idempotency_keys.insert_one({
            "_id": record_id, "user_id": self.user_id, "fingerprint": "0" * 64,
            "state": "pending", "claim": token, "claimed_at": now, "status": None,
            "body": None, "created_at": now, "expires_at": now + timedelta(hours=48),
        })  # fmt: skip

        async def body(session: AsyncClientSession) -> None:
            raw = await db.accounts.find_one({"_id": account_id}, session=session)
            assert raw is not None
            assert raw["status"] == "active"
            moment = _now()
            updated = await db.accounts.find_one_and_update(
                {"_id": account_id, "status": "active", "entry_seq": raw.get("entry_seq", 0)},
                {"$inc": {"balance": Decimal128(amount), "entry_seq": 1},
                 "$set": {"updated_at": moment}},
                return_document=ReturnDocument.AFTER, session=session,
            )  # fmt: skip
            assert updated is not None
            entry_id = await self.next_id("transactions", session)
            balance_after = updated["balance"]
            await db.transactions.insert_one({
                "_id": entry_id, "account_id": account_id, "seq": int(updated["entry_seq"]),
                "type": "deposit", "amount": Decimal128(amount), "balance_after": balance_after,
                "currency": raw["currency"], "description": "bench", "transfer_id": None,
                "counterparty_number": None, "performed_by": self.user_id, "created_at": moment,
            }, session=session)  # fmt: skip
            event_id = await self.next_id("audit_events", session)
            answer = {"id": entry_id, "account_id": account_id, "type": "deposit",
                      "amount": f"{amount:.2f}", "balance_after": str(balance_after),
                      "description": "bench", "transfer_id": None, "counterparty_number": None,
                      "performed_by": self.user_id, "created_at": moment.isoformat()}  # fmt: skip
            await db.audit_events.insert_one({
                "_id": event_id, "at": _now(), "actor_id": self.user_id,
                "action": "money.deposit", "outcome": "ok", "code": None,
                "target_type": "account", "target_id": account_id, "ip": "127.0.0.1",
                "request_id": secrets.token_hex(8),
                "details": {"transaction_id": entry_id, "amount": f"{amount:.2f}",
                            "currency": raw["currency"], "balance_after": str(balance_after)},
            }, session=session)  # fmt: skip
            result = await db.idempotency_keys.update_one(
                {"_id": record_id, "state": "pending", "claim": token},
                {"$set": {"state": "done", "status": 201, "body": answer, "claim": None}},
                session=session,
            )
            assert result.modified_count == 1

        async with self.writer, self.client.start_session() as session:
            await session.with_transaction(body)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the clients for the given time; return committed deposits and latencies."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        args.url, tz_aware=True, uuidRepresentation="standard", maxPoolSize=50
    )
    accounts = [int(a) for a in args.accounts.split(",")]
    raw = RawDeposits(client, args.database, sid=args.sid, user_id=args.user_id)
    latencies: list[float] = []
    counter = 0
    run_id = secrets.token_hex(4)

    async def worker(n: int, until: float) -> None:
        nonlocal counter
        while time.perf_counter() < until:
            counter += 1
            key = f"raw-{run_id}-{counter}"
            started = time.perf_counter()
            await raw.deposit(accounts[(counter + n) % len(accounts)], key, Decimal("1.00"))
            latencies.append((time.perf_counter() - started) * 1000)

    await worker(0, time.perf_counter() + args.warmup)  # connections and caches
    latencies.clear()
    meter = CpuMeter(db=args.db_pid, client=os.getpid()) if args.db_pid else None
    started = time.perf_counter()
    until = started + args.seconds
    if meter is not None:
        meter.__enter__()
    await asyncio.gather(*(worker(n, until) for n in range(args.clients)))
    elapsed = time.perf_counter() - started
    if meter is not None:
        meter.__exit__()
    await client.close()
    ordered = sorted(latencies)
    return {
        **(meter.per_op(len(latencies)) if meter is not None else {}),
        "committed": len(latencies),
        "seconds": round(elapsed, 2),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
        "clients": args.clients,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--sid", required=True, help="login session id of the signed-in user")
    parser.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--accounts", required=True, help="comma list of account ids")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--db-pid", type=int, help="measure this database process's CPU")
    args = parser.parse_args(argv)
    print("RAW_JSON " + json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
