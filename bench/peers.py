"""runq against what a team would otherwise write, on one machine and one simulator.

    python -m bench.peers                       # 200 runs, 2.0 s ±25% per model turn
    python -m bench.peers --runs 50 --only runq,agents-asyncio
    python -m bench.peers --only agents-asyncio,runq --repeat 3 --before /tmp/before

With --repeat N every contender runs once per round, N rounds, and a last table gives each
contender's medians and its ratios to the references (`--ratio-to`) within each round: on a
shared machine only figures taken side by side compare (`bench.rounds`). --before DIR also
runs each runq contender from the checkout in DIR (a `git worktree` of an earlier commit), as
`<name>@before`, in the same rounds.

Each contender runs in its own child process with a fresh Redis and simulator (Celery caches
its broker per process). Workload: every run asks for two parallel 0.2 s tool calls, then
answers. Prints one table and writes bench/out/peers.png (runs completed over time) and
bench/out/peers.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.rounds import BEFORE_SUFFIX, cpu_ms_per_run, summarize, table, wall_s

OUT = Path("bench/out")
CONTENDERS = {
    "naive-celery": "(a) naive Celery: one task per run, time.sleep polling, tools in turn",
    "agents-celery": "(b) Agents SDK Runner inside Celery tasks",
    "agents-asyncio": "(c) Agents SDK Runner, one asyncio process",
    "runq": "(d) runq: one runs + one tools worker",
    "runq-sync": "(d') runq, agent option sync_turns (short turns on a worker thread)",
    "runq-both": "(d'') runq, two workers each on both queues (one process per core)",
}
DEFAULT = "naive-celery,agents-celery,agents-asyncio,runq"


def run_contender(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one contender in this process (called in the child)."""
    from bench import peer_runs
    from bench.fleet import simulator
    from devstack.local_stack import start_local_stack

    workdir = Path(tempfile.mkdtemp(prefix=f"runq-peers-{name}-"))
    env = {"RUNQ_AGENT_MODULES": '["bench.peer_tools"]', "RUNQ_MAX_TURNS": "4"}
    env |= {"RUNQ_BENCH_TOOL_LOG": str(workdir / "tools.log")}
    if args.rpm:
        env |= {"RUNQ_DEFAULT_REQUESTS_PER_MIN": str(args.rpm)}
    if args.rpm:
        # Under a budget the measure is requests, not CPU: start on a full bucket.
        peer_runs.WARM_UP_RUNS = 0
    stack = start_local_stack(workdir, latency_ms=args.latency_ms, extra_env=env)
    try:
        config = {"latency_jitter": args.jitter, "sync_latency": True, "rpm": args.rpm, "seed": 9}
        simulator(stack, "/_sim/config", config)
        outcome = peer_runs.RUNNERS[name](stack, args.runs)
        return outcome.as_json()
    finally:
        stack.stop()


def spawn(
    name: str,
    args: argparse.Namespace,
    checkout: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one contender in a child process and read its JSON line. From `checkout`, the
    child and the workers it starts import that checkout's code (the current directory comes
    first on their path); `env`, when given, is their whole environment."""
    argv = [sys.executable, "-m", "bench.peers", "--contender", name, "--runs", str(args.runs)]
    argv += ["--latency-ms", str(args.latency_ms), "--jitter", str(args.jitter)]
    argv += ["--rpm", str(args.rpm)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=900, check=False, cwd=checkout, env=env
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return dict(json.loads(lines[-1]))


def label(result: dict[str, Any]) -> str:
    """The contender's name in the tables (`runq@before` for a run from --before)."""
    return str(result.get("contender", result["name"]))


def row(result: dict[str, Any]) -> list[str]:
    """One table row."""
    runs = result["runs"]
    completed = len(result["finished"])
    name = label(result) if completed == runs else f"{label(result)} ({runs - completed} failed)"
    return [
        name,
        f"{wall_s(result):.1f} s",
        f"{completed / wall_s(result):.1f}",
        f"{result['requests'] / runs:.2f}",
        f"{result['polls'] / runs:.2f}",
        f"{cpu_ms_per_run(result):.0f} ms",
        f"{result['peak_rss_mb']:.0f} MB",
        result["slots_held"],
        str(result["http_429"]),
        f"{result['tools_twice']} of {result['tool_calls']}",
    ]


HEADER = [
    "contender",
    "wall",
    "runs/s",
    "requests/run",
    "polls/run",
    "CPU/run",
    "peak RSS",
    "slot held while waiting",
    "429s",
    "tools run twice",
]


def print_table(results: list[dict[str, Any]], rpm: int) -> None:
    """The Markdown table the README shows (with the share of the budget used under --rpm)."""
    header = [*HEADER, "budget used"] if rpm else HEADER
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for result in results:
        cells = row(result)
        if rpm:
            # What the provider's bucket allowed: a full minute's burst, then rpm/60 per second.
            accepted = result["requests"] - result["http_429"]
            cells.append(f"{100 * accepted / (rpm + rpm / 60 * wall_s(result)):.0f}%")
        print("| " + " | ".join(cells) + " |")
    for result in results:
        if result["notes"]:
            print(f"{label(result)}: {result['notes']}")


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Runs completed over time, one line per contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for result in results:
        times = sorted(t - result["started"] for t in result["finished"])
        axes.step([0.0, *times], range(len(times) + 1), where="post", label=result["name"])
    axes.set_xlabel("seconds since the batch was sent")
    axes.set_ylabel("runs completed")
    axes.set_title(f"{results[0]['runs']} runs, two parallel 0.2 s tools, 2 model turns each")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--jitter", type=float, default=0.25)
    parser.add_argument("--rpm", type=int, default=0, help="provider and runq limit; 0 = none")
    parser.add_argument("--only", default=DEFAULT, help="comma-separated names")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="peers", help="name of the PNG/JSON under bench/out")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every contender")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout (e.g. a git worktree of an earlier commit): its runq contenders "
        f"run in the same rounds, named <name>{BEFORE_SUFFIX}",
    )
    parser.add_argument(
        "--ratio-to",
        help="comma-separated contenders to divide by, round by round (default: agents-asyncio "
        f"if it runs, and each <name>{BEFORE_SUFFIX})",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.before is not None and not (args.before / "bench" / "peers.py").is_file():
        parser.error(f"--before {args.before}: not a runq checkout (no bench/peers.py there)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.contender:
        print(json.dumps(run_contender(args.contender, args)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    plan = _plan(args)
    everything: list[dict[str, Any]] = []
    rounds: list[dict[str, dict[str, Any]]] = []
    for number in range(1, args.repeat + 1):
        results = []
        for contender, checkout in plan:
            started = time.monotonic()
            result = spawn(contender.removesuffix(BEFORE_SUFFIX), args, checkout)
            result |= {"contender": contender, "round": number}
            results.append(result)
            everything.append(result)
            done_in = time.monotonic() - started
            print(
                f"round {number}/{args.repeat}: {contender} done in {done_in:.0f} s",
                file=sys.stderr,
            )
            (OUT / f"{args.tag}.json").write_text(json.dumps(everything, indent=1))
        rounds.append({r["contender"]: r for r in results})
        if args.repeat > 1:
            print(f"round {number} of {args.repeat}:")
        print_table(results, args.rpm)
    plot(results, OUT / f"{args.tag}.png")
    print(f"plot: {OUT / f'{args.tag}.png'} (the last round)")
    if args.repeat > 1:
        references = _references(args, plan)
        print(f"\nmedians of {args.repeat} rounds (range in brackets; ratios within each round):")
        print("\n".join(table(summarize(rounds, references), references)))


def _plan(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """One round: each runq contender from --before first (next to its own run), then the
    contenders as named."""
    plan: list[tuple[str, Path | None]] = []
    for name in args.only.split(","):
        if args.before is not None and name.startswith("runq"):
            plan.append((name + BEFORE_SUFFIX, args.before))
        plan.append((name, None))
    return plan


def _references(args: argparse.Namespace, plan: list[tuple[str, Path | None]]) -> list[str]:
    names = [name for name, _ in plan]
    if args.ratio_to:
        chosen = [name for name in args.ratio_to.split(",") if name]
        unknown = [name for name in chosen if name not in names]
        if unknown:
            raise SystemExit(
                f"--ratio-to {','.join(unknown)}: not run here (running: {', '.join(names)})"
            )
        return chosen
    defaults = ["agents-asyncio"] if "agents-asyncio" in names else []
    return defaults + [name for name in names if name.endswith(BEFORE_SUFFIX)]


if __name__ == "__main__":
    main()
