"""Guardrails: checks on a run's input (before its first model request) and on its final
answer (before the run completes). A guardrail that trips ends the run failed, with the
guardrail's name and what it said as the reason.

    def no_secrets(text: str) -> Tripped | None:
        return Tripped("the input holds a password") if "password" in text else None

    Agent(..., input_guardrails=(Guardrail("no_secrets", no_secrets),))

Agents SDK guardrails (`@input_guardrail`, `@output_guardrail`) are adopted into this form by
`workers.sdk_agents`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("runq.guardrails")


@dataclass(frozen=True, slots=True)
class Tripped:
    """A guardrail's verdict that the run must stop; `info` says why (any JSON value)."""

    info: Any = None


@dataclass(frozen=True, slots=True)
class Guardrail:
    """A named check of a text (the run's input, or its final answer); returns a `Tripped`
    to stop the run, None to let it go on. Runs on the runs worker: keep it quick."""

    name: str
    check: Callable[[str], Tripped | None]


def first_tripped(guardrails: Sequence[Guardrail], text: str) -> str | None:
    """The failure reason of the first guardrail that trips on `text` (or raises), else None.

    A guardrail that raises stops the run too: a check that could not decide must not let
    the run through, and its error says which guardrail and what went wrong."""
    for guardrail in guardrails:
        try:
            verdict = guardrail.check(text)
        except Exception as exc:  # a user's check: any failure stops the run, named
            log.warning("guardrail %s raised: %s", guardrail.name, exc)
            return f"guardrail {guardrail.name!r} raised {type(exc).__name__}: {exc}"
        if isinstance(verdict, Tripped):
            return f"guardrail {guardrail.name!r} tripped: {_shown(verdict.info)}"
    return None


def _shown(info: Any) -> str:
    if isinstance(info, str):
        return info
    try:
        return json.dumps(info, default=str)
    except (TypeError, ValueError):
        return repr(info)
