"""Target 4: many runs in flight at once, 5 s per model turn, one runs + one tools worker.

    python -m bench.inflight [--sizes 1000,3000]

Every size enqueues its whole batch at once on a fresh stack and reports whether all
completed, the workers' peak RSS (flat is the goal: a waiting run holds no worker memory),
and the broker Redis's peak memory (where waiting runs do live: one countdown message each).
"""

from __future__ import annotations

import argparse
import json

from bench.peers import OUT, spawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,3000")
    parser.add_argument("--latency-ms", type=int, default=5000)
    args = parser.parse_args()
    results = []
    print("| runs in flight | completed | wall | peak RSS runs / tools worker | RSS vs smallest "
          "| Redis peak | polls/run | CPU/run |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(text) for text in args.sizes.split(",")):
        params = argparse.Namespace(runs=size, latency_ms=args.latency_ms, jitter=0.25, rpm=0)
        result = spawn("runq", params)
        results.append(result)
        rss = result["notes"]["rss_mb_per_worker"]
        base = results[0]["peak_rss_mb"]
        wall_s = max(result["finished"]) - result["started"]
        print(
            f"| {size} | {len(result['finished'])}/{size} | {wall_s:.0f} s "
            f"| {rss[0]:.0f} / {rss[1]:.0f} MB | {result['peak_rss_mb'] / base:.2f}x "
            f"| {result['notes']['redis_peak_mb']:.0f} MB | {result['polls'] / size:.2f} "
            f"| {1000 * result['cpu_s'] / size:.0f} ms |",
            flush=True,
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "inflight.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
