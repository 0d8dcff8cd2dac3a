"""Guardrails: checks on a run's input (before its first model request) and on its final
answer (before the run completes). A guardrail that trips ends the run failed, with the
guardrail's name and what it said as the reason.

    def no_secrets(text: str) -> Tripped | None:
        return Tripped("the input holds a password") if "password" in text else None

    Agent(..., input_guardrails=(Guardrail("no_secrets", no_secrets),))

Agents SDK guardrails (`@input_guardrail`, `@output_guardrail`) are adopted into this form by
`workers.sdk_agents`. A guardrail that asks a model (an SDK guardrail running an agent) does
so under the run's `ModelMeter`: its requests wait for the shared rate limit and are held and
charged on the run's dollar budgets like any turn; one that does not fit stops the run with
the budget's reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

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


class ModelMeter(Protocol):
    """What a guardrail's own model requests go through: the run's rate limit and budgets."""

    refused: str | None
    """Set when a request did not fit a budget (the run's failure reason)."""
    throttled_s: float
    """Set when a request had to wait for the rate limit (the step goes again after it)."""

    def before(self, model: str, prompt_tokens: int) -> str | None:
        """Take the rate limit and hold the request's worst case; returns the hold's id, or
        None after setting `refused` or `throttled_s` (the request must not be sent)."""
        ...

    def after(self, hold: str, model: str, input_tokens: int | None, output_tokens: int) -> None:
        """Charge what the request cost (`input_tokens` None: unknown, the worst case)."""
        ...


_METER: ContextVar[ModelMeter | None] = ContextVar("runq_guardrail_meter", default=None)


def current_meter() -> ModelMeter | None:
    """The meter of the guardrails running now in this context (None: not metered)."""
    return _METER.get()


def first_tripped(
    guardrails: Sequence[Guardrail], text: str, meter: ModelMeter | None = None
) -> str | None:
    """The failure reason of the first guardrail that trips on `text` (or raises), else None.

    A guardrail that raises stops the run too: a check that could not decide must not let
    the run through, and its error says which guardrail and what went wrong. A model request
    of a guardrail that did not fit the run's budget stops it with the budget's reason."""
    token = _METER.set(meter)
    try:
        for guardrail in guardrails:
            try:
                verdict = guardrail.check(text)
            except Exception as exc:  # a user's check: any failure stops the run, named
                if meter is not None and meter.refused is not None:
                    return f"guardrail {guardrail.name!r}: {meter.refused}"
                log.warning("guardrail %s raised: %s", guardrail.name, exc)
                return f"guardrail {guardrail.name!r} raised {type(exc).__name__}: {exc}"
            if isinstance(verdict, Tripped):
                return f"guardrail {guardrail.name!r} tripped: {_shown(verdict.info)}"
        return None
    finally:
        _METER.reset(token)


def _shown(info: Any) -> str:
    if isinstance(info, str):
        return info
    try:
        return json.dumps(info, default=str)
    except (TypeError, ValueError):
        return repr(info)
