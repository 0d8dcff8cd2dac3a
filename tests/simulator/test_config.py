"""Runtime config overrides: accepted values, and the errors /_sim/config reports."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.config import SimulatorConfig, apply_overrides


def test_overrides_return_a_new_config() -> None:
    base = SimulatorConfig()
    updated = apply_overrides(base, {"rpm": 60, "fault_5xx_rate": 1, "quota_exhausted": True})
    assert (updated.rpm, updated.fault_5xx_rate, updated.quota_exhausted) == (60, 1.0, True)
    assert base.rpm == 0


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"colour": "red"}, "unknown config field(s): colour"),
        ({"rpm": -1}, "rpm must be >= 0"),
        ({"tpm": "many"}, "tpm must be an integer"),
        ({"latency_ms": True}, "latency_ms must be an integer"),
        ({"fault_5xx_rate": 1.5}, "fault_5xx_rate must be a number between 0 and 1"),
        ({"fault_5xx_rate": True}, "fault_5xx_rate must be a number between 0 and 1"),
        ({"quota_exhausted": 1}, "quota_exhausted must be true or false"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"latency_jitter": 2}, "latency_jitter must be a number between 0 and 1"),
        ({"sync_latency": "yes"}, "sync_latency must be true or false"),
    ],
)
def test_bad_overrides_are_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(SimulatorConfig(), changes)
