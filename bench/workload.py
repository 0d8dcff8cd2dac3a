"""The workload every contender of `bench.peers` runs, with no runq import: an agent that
asks for two parallel 0.2 s tool calls, then answers.

Every contender's tool has the same body: wait 0.2 s, append the place it was asked about to
RUNQ_BENCH_TOOL_LOG (so the benchmark can count calls that ran twice), answer in JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any

TOOL_S = 0.2
MODEL = "gpt-bench"
INSTRUCTIONS = "Answer weather questions briefly."
TOOL_NAME = "bench_weather"
TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "name": TOOL_NAME,
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
        "additionalProperties": False,
    },
    "strict": True,
}
DONE_KEY = "bench:done"


def record_call(location: str) -> str:
    """Log the call and answer it."""
    path = os.environ.get("RUNQ_BENCH_TOOL_LOG")
    if path:
        # One short O_APPEND write per call is atomic across processes and threads.
        with open(path, "a", encoding="utf-8") as log:
            log.write(location + "\n")
    return json.dumps({"location": location, "temperature": 21, "unit": "celsius"})


def prompt(index: int) -> str:
    """The input of run `index`: two places no other run asks about, so two parallel calls."""
    return f"What's the weather in Paris-{index} and Oslo-{index}?"
