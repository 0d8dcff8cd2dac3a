"""The chaos table's faults column: what was injected, then how a side run (a poison) ended."""

from bench.chaos_faults import Faults


def test_the_faults_column_lists_counts_then_how_side_runs_ended():
    faults = Faults()
    assert faults.describe() == "none"
    faults.counts["poison run (its tool kills its worker)"] = 1
    faults.side_outcomes.append("that run failed: step runq.tools.execute (chaos_crash) …")
    assert faults.describe() == (
        "1 poison run (its tool kills its worker); "
        "that run failed: step runq.tools.execute (chaos_crash) …"
    )
