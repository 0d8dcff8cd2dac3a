"""Log output for every runq process: JSON lines (RUNQ_LOG_FORMAT=json) or readable text.

JSON comes from python-json-logger: it is a plain `logging.Formatter`, so the lines Celery,
kombu and the SDK write through the standard library come out as JSON too, with no
wrapping of their loggers (structlog would need its own pipeline in front of theirs). The
fields of `workers.observability.events` arrive as `extra` and become JSON keys, or
`key=value` pairs after the message in text mode.

Every handler also gets `SecretScrubber`: a configured key that leaks into any message (a
library's debug line, an exception text) is replaced before the line is written, and so is
a tool's secret argument while that tool runs (`hidden`): runq never logs arguments, but a
tool or a library it calls may.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

# The `extra` fields runq's own lines carry, in the order text mode prints them.
FIELDS = (
    "event",
    "run_id",
    "agent",
    "call_id",
    "tool",
    "from_status",
    "status",
    "turn",
    "duration_s",
    "duration_ms",
    "attempts",
    "tokens",
    "cost_usd",
    "error_type",
)
_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REDACTED = "[redacted]"
SHORTEST_HIDDEN = 4
"""A hidden value shorter than this is not scrubbed (it would redact ordinary words)."""

# Values hidden while a block runs, counted: two calls may hide the same value at once.
_hidden: Counter[str] = Counter()
_hidden_lock = threading.Lock()


def _fresh_lock_in_child() -> None:
    # Tools run in a child forked from a threaded worker: if another thread held the lock at
    # the fork, the child's copy would stay locked and its first log line would hang.
    global _hidden_lock
    _hidden_lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


@contextmanager
def hidden(values: Iterable[str]) -> Iterator[None]:
    """Scrub `values` from every line this process logs while the block runs."""
    kept = [v for v in values if len(v) >= SHORTEST_HIDDEN]
    with _hidden_lock:
        _hidden.update(kept)
    try:
        yield
    finally:
        with _hidden_lock:
            _hidden.subtract(kept)
            for value in [v for v, n in _hidden.items() if n <= 0]:
                del _hidden[value]


def _hidden_now() -> list[str]:
    with _hidden_lock:
        return list(_hidden)


class TextFormatter(logging.Formatter):
    """The classic line, then `key=value` for each runq field the record carries."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = [
            f"{name}={getattr(record, name)}"
            for name in FIELDS
            if getattr(record, name, None) is not None
        ]
        return f"{line} {' '.join(pairs)}" if pairs else line


def build_formatter(log_format: str) -> logging.Formatter:
    """JSON for "json", text for anything else."""
    if log_format == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
        )
    return TextFormatter()


class SecretScrubber(logging.Filter):
    """Replaces every configured secret value in a record's message (and its arguments)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would redact ordinary words; real keys are long.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets + sorted(_hidden_now(), key=len, reverse=True)
        if not secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed = _scrub(message, secrets)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_text:
            record.exc_text = _scrub(record.exc_text, secrets)
        return True


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def apply_log_format(
    loggers: Iterable[logging.Logger], log_format: str, secrets: Iterable[str]
) -> None:
    """Give every handler of `loggers` runq's formatter and the secret scrubber."""
    scrubber = SecretScrubber(secrets)
    for logger in loggers:
        for handler in logger.handlers:
            handler.setFormatter(build_formatter(log_format))
            handler.filters = [f for f in handler.filters if not isinstance(f, SecretScrubber)]
            handler.addFilter(scrubber)
