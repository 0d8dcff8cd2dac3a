"""The root of runq's errors and the one the settings raise.

They live here, under everything else, so that `config` imports nothing of the engine; the
whole tree, these two included, is drawn and re-exported in `workers/errors.py`.
"""

from __future__ import annotations

from typing import ClassVar

from config.exit_codes import ExitCode


class RunqError(Exception):
    """Root of every runq error.

    Each class says how the front doors report it: `http_status` is the HTTP API's answer
    and `exit_code` what `runq` exits with. The defaults (500, INTERNAL_ERROR) mean a runq
    bug: the API answers "internal error" and the CLI asks for the traceback."""

    retryable: ClassVar[bool] = False
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL_ERROR


class ConfigError(RunqError):
    """Settings are missing or contradictory."""

    exit_code = ExitCode.CONFIG_ERROR
