"""Pure model routing: pick the cheap or the strong model for a run."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ModelHint(StrEnum):
    """A job's explicit wish; it beats the size rule."""

    CHEAP = "cheap"
    STRONG = "strong"


@dataclass(frozen=True, slots=True)
class ModelRouting:
    """Two models and the rule between them: inputs longer than `strong_above_chars` (or a
    job hinting "strong") go to the strong model; everything else to the cheap one."""

    cheap_model: str
    strong_model: str
    strong_above_chars: int = 2000


def choose_model(
    default_model: str, routing: ModelRouting | None, input_text: str, hint: ModelHint | None
) -> str:
    """The model this run uses; recorded on the run."""
    if routing is None:
        return default_model
    if hint is ModelHint.STRONG:
        return routing.strong_model
    if hint is ModelHint.CHEAP:
        return routing.cheap_model
    if len(input_text) > routing.strong_above_chars:
        return routing.strong_model
    return routing.cheap_model
