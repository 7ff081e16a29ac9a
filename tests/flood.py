"""An anonymous flood of `/login` (wrong passwords) and `/users` (sign-ups), in its own process.

`python -m tests.flood URL THREADS RATE`: half the threads sign in with wrong passwords, half
sign up, each at most RATE requests a second, until stdin closes; then it prints the count
of each status as one JSON line. Its own process, so its client work does not share the
test process's interpreter lock with the requests the test times. Paced (an open loop), so
the load is what it says whatever the machine does, not as much as the CPU allows.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import sys
import threading
import time

import httpx


def main(url: str, threads: int, rate: float) -> None:
    """Flood until stdin closes, then print the statuses seen."""
    stop = threading.Event()
    seen: collections.Counter[int] = collections.Counter()
    names = itertools.count()
    tag = os.getpid()

    def flood(worker: int) -> None:
        due = time.monotonic()
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                due = max(due, time.monotonic()) + 1 / rate  # no bursts to catch up
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                n = next(names)
                if worker % 2:
                    form = {"username": f"victim{n % 5}", "password": "wrong-password-123"}
                    status = client.post("/login", data=form).status_code
                else:
                    name = f"flood{tag}x{n}"
                    body = {"username": name, "password": "flood-password-1",
                            "full_name": "Flood", "email": f"{name}@example.com"}  # fmt: skip
                    status = client.post("/users", json=body).status_code
                seen[status] += 1

    workers = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    print("flooding", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    stop.set()
    for worker in workers:
        worker.join(30)
    print(json.dumps({str(status): count for status, count in seen.items()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
