"""Every error runq raises, as one tree.

    RunqError
    ├── ConfigError                  settings are missing or contradictory
    ├── ProviderError                the model provider did not give us what we asked for
    │   ├── ProviderUnavailable      5xx, timeout, dropped connection: try again later
    │   │   └── ProviderTimedOut     no answer within RUNQ_PROVIDER_TIMEOUT_S
    │   ├── ProviderRateLimited      429 rate limit: try again after retry_after_s
    │   ├── TierUnavailable          429: the service tier (flex) has no capacity now
    │   └── ProviderRejected         4xx (bad request, auth, quota): retrying will not help
    ├── ToolError                    a tool call could not produce an output
    │   ├── UnknownTool              the model named a tool the agent does not have
    │   ├── InvalidToolArguments     the model's arguments are not valid JSON for the schema
    │   ├── ToolTimedOut             the tool ran past its timeout
    │   └── InvalidToolOutput        the tool returned something that is not JSON, or too much
    ├── UnknownAgent                 a job names an agent nobody declared
    ├── ThreadBusy                   a thread already has an active run (policy "reject")
    ├── IdempotencyConflict          an idempotency key was reused with a different job body
    ├── CallbackRefused              a callback URL points somewhere runq must not call
    ├── RunNotFound                  no run has that id
    ├── ScheduleNotFound             no schedule of this caller has that id
    ├── StartTimeRefused             a run_at in the past or too far ahead
    ├── PriceMissing                 a budgeted run's model has no price to count it by
    ├── LaneRefused                  a lane that does not exist, or that the provider lacks
    ├── ShareRefused                 a fair-share weight or cap below 1
    ├── ApiKeyNotFound               no live API key has that name
    ├── ObjectNotFound               no assistant, thread or message has that id (for this key)
    ├── UnsupportedFeature           an Assistants API feature runq does not have
    ├── NothingToRun                 a run was asked for a thread with no new message
    ├── RunEnded                     this step ended the run failed/expired (Flower: FAILURE)
    └── IllegalTransition            a compare-and-set on run status found another status

`retryable` tells the task layer whether the same step may be tried again. `http_status` and
`exit_code` are how the HTTP API and `runq` report an error: each class sets its own, and one
that sets neither is a runq bug there (500, exit 1; see `RunqError`).
"""

from __future__ import annotations

# The root and ConfigError are defined in config (the settings raise it, and config imports
# nothing of the engine); re-exported here with the rest of the tree.
from config.errors import ConfigError as ConfigError
from config.errors import RunqError as RunqError
from config.exit_codes import ExitCode


class ProviderError(RunqError):
    """The model provider did not give us what we asked for."""


class ProviderUnavailable(ProviderError):
    """A transient provider failure (5xx, timeout, connection): the step may be retried."""

    retryable = True


class ProviderTimedOut(ProviderUnavailable):
    """The provider did not answer within the request timeout."""


class ProviderRateLimited(ProviderError):
    """The provider answered 429 for rate: retry after `retry_after_s`."""

    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx, quota, bad input): retrying will not help."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TierUnavailable(ProviderError):
    """The provider has no capacity in the requested service tier now (flex answers 429
    `resource_unavailable`): the turn goes to its lane's fallback, not to a retry ladder."""

    retryable = True


class ToolError(RunqError):
    """A tool call could not produce an output."""


class UnknownTool(ToolError):
    """The model named a tool that the agent does not have."""


class InvalidToolArguments(ToolError):
    """The model's arguments are not valid JSON for the tool's schema."""


class ToolTimedOut(ToolError):
    """The tool ran past its timeout."""


class InvalidToolOutput(ToolError):
    """The tool returned a value that is not JSON-serialisable, or one too large to send."""


class UnknownAgent(RunqError):
    """A job names an agent that nobody declared."""

    http_status = 422
    exit_code = ExitCode.NOT_FOUND


class ThreadBusy(RunqError):
    """The thread already has an active run and its agent's policy is to reject new ones."""

    http_status = 409
    exit_code = ExitCode.BAD_USAGE


class IdempotencyConflict(RunqError):
    """An idempotency key was reused with a different job body."""

    http_status = 409
    exit_code = ExitCode.BAD_USAGE


class CallbackRefused(RunqError):
    """A callback URL is malformed or resolves to a loopback, private or reserved address."""

    http_status = 422


class RunNotFound(RunqError):
    """No run has that id."""

    http_status = 404
    exit_code = ExitCode.NOT_FOUND


class ObjectNotFound(RunqError):
    """No assistant, thread or message of the Assistants-compatible API has that id (for
    this API key)."""

    http_status = 404
    exit_code = ExitCode.NOT_FOUND


class UnsupportedFeature(RunqError):
    """A request asks for an Assistants API feature that runq does not have (files, code
    interpreter, streaming, ...); `param` names the request field."""

    http_status = 400
    exit_code = ExitCode.BAD_USAGE

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class NothingToRun(RunqError):
    """A run was asked for a thread that has no message since its last run."""

    http_status = 400
    exit_code = ExitCode.BAD_USAGE


class ToolCallNotFound(RunqError):
    """The run has no tool call with that id."""

    http_status = 404
    exit_code = ExitCode.NOT_FOUND


class ScheduleNotFound(RunqError):
    """No schedule of this caller has that id (another key's schedule is not found either)."""

    http_status = 404
    exit_code = ExitCode.NOT_FOUND


class PriceMissing(RunqError):
    """A run under a dollar budget uses a model with no price in RUNQ_MODEL_PRICES."""

    http_status = 422
    exit_code = ExitCode.BAD_USAGE


class ToolNameTaken(RunqError):
    """A run's caller-executed tool has the name of one of its agent's own tools."""

    http_status = 422
    exit_code = ExitCode.BAD_USAGE


class ActionConflict(RunqError):
    """An approval, rejection or tool output that the run no longer waits for: given twice,
    for a call that does not wait for it, or after the run moved on or ended."""

    http_status = 409
    exit_code = ExitCode.ALREADY_ENDED


class BadToolOutputs(RunqError):
    """Submitted tool outputs that do not answer exactly the calls the run waits for."""

    http_status = 422
    exit_code = ExitCode.BAD_USAGE


class StartTimeRefused(RunqError):
    """A job's `run_at` is in the past or further ahead than RUNQ_MAX_RUN_AT_DAYS."""

    http_status = 422
    exit_code = ExitCode.BAD_USAGE


class LaneRefused(RunqError):
    """A run or agent names a lane that does not exist, or one its provider does not have."""

    http_status = 422
    exit_code = ExitCode.BAD_USAGE


class ShareRefused(RunqError):
    """A key's fair-share weight or cap on runs in flight is below 1."""

    http_status = 422
    exit_code = ExitCode.BAD_USAGE


class ApiKeyNotFound(RunqError):
    """No live API key has that name."""

    http_status = 404
    exit_code = ExitCode.NOT_FOUND


class IllegalTransition(RunqError):
    """A compare-and-set on a run's status found a different status than expected."""


class RunEnded(RunqError):
    """The step ended its run failed or expired; raised after the end is recorded, so the
    task shows as FAILURE (with the run's reason) in Flower. Never retried.

    One message argument only: Celery rebuilds task exceptions from their args."""

    @classmethod
    def of(cls, run_id: str, status: str, reason: str) -> RunEnded:
        """`run <id> <status>: <reason>`."""
        return cls(f"run {run_id} {status}: {reason}")
