"""The SQLite statement timings of a batch: by process and statement, medians over rounds."""

from __future__ import annotations

import pytest

from bench.sqlite_waits import main, median_rows, process_name, summary


def test_each_file_is_named_for_the_process_that_wrote_it() -> None:
    worker = ["/x/celery/__main__.py", "-A", "config", "worker", "-Q", "tools", "--pool"]
    assert process_name(worker) == "tools worker"
    assert process_name(["/x/bench/peers.py", "--contender", "runq"]) == "enqueuer"


def test_a_round_gives_each_statement_its_count_total_and_quantiles() -> None:
    waits = [0.001] * 98 + [0.2, 0.5]
    rows = summary({"runs worker": {"UPDATE run": waits, "SELECT": [0.0001]}})
    assert rows[0] == {
        "process": "runs worker",
        "statement": "UPDATE run",  # the largest total first
        "count": 100,
        "total_s": 0.8,
        "p50_ms": 1.0,
        "p99_ms": 200.0,
        "max_ms": 500.0,
    }


def test_rounds_give_the_median_of_each_figure() -> None:
    def row(total_s: float) -> dict[str, object]:
        figures = {"count": 10, "total_s": total_s, "p50_ms": 1, "p99_ms": 2, "max_ms": 3}
        return {"process": "tools worker", "statement": "UPDATE toolcall"} | figures

    merged = median_rows([[row(1.0)], [row(9.0)], [row(2.0)]])
    assert [r["total_s"] for r in merged] == [2.0]


def test_a_before_that_is_not_a_checkout_is_refused_in_one_line(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--before", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "not a runq checkout" in capsys.readouterr().err
