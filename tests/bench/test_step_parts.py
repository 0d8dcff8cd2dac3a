"""`python -m bench.step_parts` runs as a user runs it (its own process, its own redis-server
and SQLite file) and prints one row per part, each with both sides measured."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_step_parts_bench_prints_a_row_per_part_with_both_sides() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.step_parts", "--calls", "20", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = [line for line in finished.stdout.splitlines() if re.match(r"\| \w.* µs \|", line)]
    assert len(rows) == 4, finished.stdout
    for line in rows:
        ours, theirs = (float(v) for v in re.findall(r"\| ([0-9.]+) µs", line))
        assert ours > 0 and theirs > 0, line
