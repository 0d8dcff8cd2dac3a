"""Group py-spy raw samples (collapsed stacks) by the library that owns the work.

py-spy record --pid PID --nonblocking --format raw -r 100 -o runs.txt
python -m bench.profile_summary runs.txt tools.txt
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# First match wins: a publish or a SQL statement runs inside Celery's task tracer, so the
# specific kinds are looked for before the generic Celery machinery.
KINDS = (
    ("Celery result backend", ("celery/backends/",)),
    ("Celery publish (kombu producer, apply_async, chord)", ("apply_async", "kombu/messaging")),
    ("SQLAlchemy / sqlite3", ("sqlalchemy/", "sqlite3", "sqlmodel/")),
    ("openai SDK + HTTP client", ("openai/", "httpx", "httpcore", "h11/")),
    ("runq's Redis calls (limiter, breaker, cache, turn history)", ("redis/",)),
    ("start-up and imports", ("_find_and_load", "importlib")),
    ("other Celery / kombu (trace, consumer, hub)", ("celery/", "kombu/", "billiard/")),
    ("runq's own code", ("workers/", "tasks/", "bench/peer_tools")),
)


def kind_of(stack: str) -> str:
    for kind, markers in KINDS:
        if any(marker in stack for marker in markers):
            return kind
    return "pydantic, everything else"


def summarize(path: Path) -> Counter[str]:
    shares: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            shares[kind_of(stack)] += int(count)
    return shares


def main() -> None:
    for name in sys.argv[1:]:
        shares = summarize(Path(name))
        total = sum(shares.values()) or 1
        print(f"{name}: {total} samples")
        for kind, count in shares.most_common():
            print(f"  {100 * count / total:5.1f}%  {kind}")


if __name__ == "__main__":
    main()
