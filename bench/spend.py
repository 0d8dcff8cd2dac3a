"""Dollar-budget overhead per model turn, on a real redis-server: what holding and settling
a turn's dollars adds to the token-bucket take and reconcile every turn already makes.

Three ways to run N turns, one after another from one client (round trips dominate):
the token bucket alone (today's turn), the bucket plus a dollar hold and settle on the five
counters a keyed run uses, and the hold and settle alone. Then a race: T threads hold and
settle turns of random cost against a $1 key budget until it refuses; the key must never
have spent more than $1.00.

    python -m bench.spend [--turns 2000] [--rounds 5] [--threads 64]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from rich.console import Console
from rich.table import Table

from devstack.embedded_redis import start_embedded_redis
from workers.limits.limiter import LimitKey, RedisRateLimiter
from workers.limits.spend import BudgetLimits, micros_to_usd, scopes_for
from workers.limits.spend_store import RedisSpend
from workers.limits.token_bucket import Limits

LIMITS = Limits(requests_per_min=10**6, tokens_per_min=10**9)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def bucket_turn(limiter: RedisRateLimiter) -> Callable[[int], None]:
    key = LimitKey("f" * 16, "gpt-bench")

    def turn(i: int) -> None:
        now_ms = int(time.time() * 1000)
        limiter.take(key, LIMITS, 1500, now_ms)
        limiter.reconcile(key, LIMITS, 1500, 900, now_ms)

    return turn


def spend_turn(spend: RedisSpend) -> Callable[[int], None]:
    limits = BudgetLimits(run_usd=1e5, key_usd=1e5, key_day_usd=1e5, key_month_usd=1e5)
    scopes = scopes_for(run_id="run_b", key_id="key_b", agent="a", now=NOW, limits=limits)

    ids = itertools.count()

    def turn(i: int) -> None:
        # Every turn a new hold: a hold id seen before is answered at once (idempotent).
        hold_id = f"h{next(ids)}"
        now_ms = int(time.time() * 1000)
        spend.hold(hold_id, scopes, 15_000, now_ms=now_ms, expires_ms=now_ms + 600_000)
        spend.settle(hold_id, scopes, 9_000, now_ms=now_ms)

    return turn


def both(a: Callable[[int], None], b: Callable[[int], None]) -> Callable[[int], None]:
    def turn(i: int) -> None:
        b(i)
        a(i)

    return turn


def time_turns(turn: Callable[[int], None], turns: int) -> float:
    """Microseconds per turn."""
    started = time.perf_counter()
    for i in range(turns):
        turn(i)
    return (time.perf_counter() - started) / turns * 1e6


def race(client: redis.Redis, threads: int) -> tuple[float, int, int]:
    """(spent USD, turns settled, turns refused) of `threads` racing for $1."""
    spend = RedisSpend(client, prefix="race")
    limits = BudgetLimits(key_usd=1.0)
    scopes = scopes_for(run_id="r", key_id="k", agent="a", now=NOW, limits=limits)
    counts = {"settled": 0, "refused": 0}
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for n in range(10_000):
            hold_id = f"{seed}:{n}"
            now_ms = int(time.time() * 1000)
            held = rng.randint(5_000, 40_000)
            refused = spend.hold(hold_id, scopes, held, now_ms=now_ms, expires_ms=now_ms + 60_000)
            if refused is not None:
                with lock:
                    counts["refused"] += 1
                if refused.spent_micros + held > refused.scope.limit_micros:
                    return  # even with every hold settled this turn could not fit: spent out
                continue
            spend.settle(hold_id, scopes, rng.randint(held // 4, held), now_ms=now_ms)
            with lock:
                counts["settled"] += 1

    pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    [totals] = [t for t in spend.read("key:k") if t.scope == "key:k"]
    return micros_to_usd(totals.spent_micros), counts["settled"], counts["refused"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = start_embedded_redis()
    try:
        client = redis.Redis.from_url(server.url)
        bucket = bucket_turn(RedisRateLimiter(client, prefix="bench"))
        dollars = spend_turn(RedisSpend(client, prefix="bench"))
        ways = {
            "token bucket only (take + reconcile)": bucket,
            "token bucket + dollar hold + settle": both(bucket, dollars),
            "dollar hold + settle only": dollars,
        }
        # Rounds alternate the ways, so a busy neighbour on the machine hits them alike;
        # the median round is shown.
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, turn in ways.items():
                samples[name].append(time_turns(turn, args.turns))
        rows = [(name, statistics.median(found)) for name, found in samples.items()]
        base = rows[0][1]
        table = Table(
            "per model turn",
            "µs/turn",
            "ratio to bucket only",
            title=f"{args.turns} turns x {args.rounds} rounds, median",
        )
        for name, micros in rows:
            table.add_row(name, f"{micros:.0f}", f"{micros / base:.2f}x")
        console = Console()
        console.print(table)
        spent, settled, refused = race(client, args.threads)
        race_table = Table("threads", "turns settled", "holds refused", "spent $", "limit $")
        race_table.add_row(str(args.threads), str(settled), str(refused), f"{spent:.6f}", "1.00")
        console.print(race_table)
        if spent > 1.0:
            raise SystemExit(f"overrun: spent ${spent:.6f} of a $1.00 budget")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
