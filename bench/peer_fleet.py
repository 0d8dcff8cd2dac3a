"""How `bench.peers` runs one contender inside its own fresh stack (Redis + simulator): start
its worker processes, send the batch, wait, and read what the table needs from the workers'
/proc entries, the simulator's counters and the tool log."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.fleet import simulator
from devstack.local_stack import LocalStack

SAMPLE_S = 0.1


@dataclass
class Outcome:
    """One contender's batch, as measured."""

    name: str
    runs: int
    started: float
    finished: list[float]
    cpu_s: float
    peak_rss_mb: float
    requests: int
    polls: int
    http_429: int
    tool_calls: int
    tools_twice: int
    slots_held: str
    notes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Watch:
    """CPU and memory of a set of worker processes, sampled while a batch runs."""

    def __init__(self, pids: list[int]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.cpu_at_start = self.cpu_s()
        self.peak_rss_mb = 0.0
        self.peak_rss_by_process_mb = [0.0 for _ in self.processes]

    def cpu_s(self) -> float:
        """The workers' CPU, their child processes' included (tool children and hosts)."""
        own = sum(sum(p.cpu_times()[:2]) for p in self.processes)
        return own + sum(self.children_cpu_by_process_s())

    def sample(self) -> None:
        each_mb = [p.memory_info().rss / 2**20 for p in self.processes]
        self.peak_rss_mb = max(self.peak_rss_mb, sum(each_mb))
        self.peak_rss_by_process_mb = [
            round(max(old, new), 1)
            for old, new in zip(self.peak_rss_by_process_mb, each_mb, strict=True)
        ]

    def cpu_used_s(self) -> float:
        return self.cpu_s() - self.cpu_at_start

    def cpu_by_process_s(self) -> list[float]:
        """CPU seconds each process used since the start (only meaningful before exit)."""
        return [round(sum(p.cpu_times()[:2]), 2) for p in self.processes]

    def minor_faults_by_process(self) -> list[int]:
        """Minor page faults of each process so far (Linux; 0 elsewhere): a count, not a
        time, so it holds still on a noisy machine. A fork makes the parent's pages
        copy-on-write, and each page it writes next costs it a fault and a copy."""
        counts = []
        for process in self.processes:
            try:
                stat = Path(f"/proc/{process.pid}/stat").read_text()
            except OSError:
                counts.append(0)
                continue
            counts.append(int(stat.rsplit(")", 1)[1].split()[7]))
        return counts

    def pss_mb_with_children(self) -> list[float]:
        """Each process's proportional set size with its live descendants' (tool hosts, a
        host server): shared pages split between the processes sharing them (Linux)."""
        sizes = []
        for process in self.processes:
            total_kb = 0
            for each in [process, *process.children(recursive=True)]:
                with contextlib.suppress(OSError, psutil.NoSuchProcess):
                    rollup = Path(f"/proc/{each.pid}/smaps_rollup").read_text().splitlines()
                    total_kb += next(int(ln.split()[1]) for ln in rollup if ln.startswith("Pss:"))
            sizes.append(round(total_kb / 1024, 1))
        return sizes

    def children_cpu_by_process_s(self) -> list[float]:
        """CPU seconds of each process's child processes: the reaped ones (a one-shot tool
        child) plus the live ones (a tool host), so work moved into children is not hidden."""
        totals = []
        for process in self.processes:
            reaped = process.cpu_times()
            live_s = 0.0
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    live_s += sum(child.cpu_times()[:2])
            totals.append(round(reaped.children_user + reaped.children_system + live_s, 2))
        return totals


def spawn_celery(stack: LocalStack, module: str, queue: str, name: str, concurrency: int) -> int:
    """Start one `celery worker` (threads pool) of `module`'s app; returns its pid."""
    args = [sys.executable, "-m", "celery", "-A", module, "worker", "-Q", queue]
    args += ["--pool", "threads", "-c", str(concurrency), "--hostname", f"{name}@%h"]
    args += ["--loglevel", "WARNING", "--without-mingle", "--without-gossip"]
    with (stack.workdir / f"{name}.log").open("ab") as log_file:
        process = subprocess.Popen(args, env=stack.env, stdout=log_file, stderr=subprocess.STDOUT)
    stack.workers.append(process)
    return process.pid


def wait_for_pings(app: Any, count: int, timeout_s: float = 90.0) -> None:
    """Block until `count` workers of `app` answer a ping."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=0.5) or []) >= count:
            return
    raise RuntimeError("workers did not answer in time")


def wait_for_done(count_done: Any, total: int, watch: Watch | None, timeout_s: float) -> None:
    """Sample memory until `count_done()` reaches `total` (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while count_done() < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count_done()}/{total} runs finished in {timeout_s}s")
        if watch is not None:
            watch.sample()
        time.sleep(SAMPLE_S)


def tool_counts(log_path: Path) -> tuple[int, int]:
    """(tool calls run, calls run more than once) from the shared tool log."""
    if not log_path.exists():
        return 0, 0
    counts = Counter(log_path.read_text().split())
    return sum(counts.values()), sum(1 for n in counts.values() if n > 1)


def redis_commands(stack: LocalStack) -> int:
    """Commands the broker Redis has processed so far (contention does not change it)."""
    import redis

    info = redis.Redis.from_url(stack.env["REDIS_URL"]).info("stats")
    return int(info["total_commands_processed"])


def redis_peak_mb(stack: LocalStack) -> float:
    """The broker Redis's peak memory since it started."""
    import redis

    info = redis.Redis.from_url(stack.env["REDIS_URL"]).info("memory")
    return int(info["used_memory_peak"]) / 2**20


def provider_counts(stack: LocalStack) -> dict[str, int]:
    """The simulator's counters that the table shows."""
    stats = simulator(stack, "/_sim/stats")
    return {
        "requests": stats["requests_total"],
        "polls": stats["responses_retrieved"],
        "http_429": stats["http_429"],
    }


def start_profilers(stack: LocalStack) -> list[subprocess.Popen[bytes]]:
    """With RUNQ_BENCH_PROFILE=DIR, sample every worker with py-spy while the batch runs
    (raw collapsed stacks in DIR/<worker>.txt; `python -m bench.profile_summary` reads them),
    RUNQ_BENCH_PROFILE_RATE times a second (100; 400 gives a steadier top at some cost)."""
    out_dir = os.environ.get("RUNQ_BENCH_PROFILE")
    if not out_dir:
        return []
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    profilers = []
    for process in stack.workers:
        args = [str(arg) for arg in process.args]  # type: ignore[union-attr]
        name = args[args.index("--hostname") + 1].split("@")[0]
        command = [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(process.pid),
            "--nonblocking",
            "--gil",
        ]
        rate = os.environ.get("RUNQ_BENCH_PROFILE_RATE", "100")
        command += ["--format", "raw", "-r", rate, "-o", f"{out_dir}/{name}.txt"]
        profilers.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    time.sleep(0.5)  # let py-spy attach before the batch starts
    return profilers


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    """Ask each py-spy to write its samples and exit."""
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=60)


def redis_command_counts(stack: LocalStack) -> dict[str, int]:
    """Calls so far of each command the broker Redis has processed."""
    import redis

    stats = redis.Redis.from_url(stack.env["REDIS_URL"]).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def command_mix_per_run(
    before: dict[str, int], after: dict[str, int], runs: int, top: int = 25
) -> dict[str, float]:
    """The commands a run cost, per run, the most frequent first."""
    per_run = {name: (calls - before.get(name, 0)) / runs for name, calls in after.items()}
    ranked = sorted(per_run.items(), key=lambda item: -item[1])[:top]
    return {name: round(count, 1) for name, count in ranked if count > 0}
