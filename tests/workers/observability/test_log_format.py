"""JSON or text lines with runq's fields, and no configured secret in either."""

import json
import logging

import pytest

from workers.observability.log_format import (
    REDACTED,
    SecretScrubber,
    apply_log_format,
    build_formatter,
)

FIELDS = {"event": "run_transition", "run_id": "run_1", "agent": "a", "status": "failed"}


def record(message="run %s failed", args=("run_1",), **extra):
    rec = logging.LogRecord("runq.events", logging.WARNING, __file__, 1, message, args, None)
    for name, value in extra.items():
        setattr(rec, name, value)
    return rec


def test_json_lines_carry_the_fields_as_keys():
    line = json.loads(build_formatter("json").format(record(**FIELDS, turn=2)))
    assert line["message"] == "run run_1 failed"
    assert line["level"] == "WARNING" and line["logger"] == "runq.events"
    assert {k: line[k] for k in FIELDS} == FIELDS and line["turn"] == 2


def test_text_lines_end_with_key_value_pairs():
    line = build_formatter("text").format(record(**FIELDS, turn=2))
    assert line.endswith(
        "run run_1 failed event=run_transition run_id=run_1 agent=a status=failed turn=2"
    )


@pytest.mark.parametrize(
    ("message", "args"),
    [("key is %s", ("sk-secret-123456",)), ("key is sk-secret-123456", None)],
)
def test_the_scrubber_redacts_secrets_in_messages_and_arguments(message, args):
    rec = record(message, args)
    assert SecretScrubber(["sk-secret-123456", "short"]).filter(rec)
    assert rec.getMessage() == f"key is {REDACTED}"


def test_the_scrubber_redacts_exception_text():
    try:
        raise ValueError("bad key sk-secret-123456")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
        import sys

        rec.exc_info = sys.exc_info()
    SecretScrubber(["sk-secret-123456"]).filter(rec)
    assert "sk-secret-123456" not in build_formatter("text").format(rec)


def test_apply_log_format_sets_formatter_and_one_scrubber_per_handler():
    logger = logging.getLogger("runq.test.apply")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        apply_log_format([logger], "json", ["sk-secret-123456"])
        apply_log_format([logger], "json", ["sk-secret-123456"])
        assert sum(isinstance(f, SecretScrubber) for f in handler.filters) == 1
        assert "json" in type(handler.formatter).__module__
    finally:
        logger.removeHandler(handler)


def test_a_process_celery_does_not_set_up_gets_the_format_and_the_scrubber(monkeypatch):
    from config.settings import get_settings
    from workers.observability.worker_hooks import format_process_logs

    monkeypatch.setenv("RUNQ_LOG_FORMAT", "json")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-process-secret-42")
    get_settings.cache_clear()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    root.handlers = []
    try:
        format_process_logs()
        [handler] = root.handlers
        rec = record("key %s", ("sk-process-secret-42",))
        assert all(f.filter(rec) for f in handler.filters)
        assert json.loads(handler.format(rec))["message"] == f"key {REDACTED}"
    finally:
        root.handlers, root.level = saved
        get_settings.cache_clear()
