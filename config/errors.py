"""The root of runq's errors and the one the settings raise.

They live here, under everything else, so that `config` imports nothing of the engine; the
whole tree, these two included, is drawn and re-exported in `workers/errors.py`.
"""

from __future__ import annotations


class RunqError(Exception):
    """Root of every runq error."""

    retryable = False


class ConfigError(RunqError):
    """Settings are missing or contradictory."""
