"""A run's span covers its whole life; tracing stays off without an endpoint."""

from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from workers.observability import tracing

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_without_an_endpoint_tracing_stays_off():
    assert tracing.enable_tracing(None, "runq-worker") is False


def test_a_run_span_spans_creation_to_end_and_marks_failures(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing.trace, "get_tracer", provider.get_tracer)
    tracing.record_run_span(
        run_id="run_1", agent="a", status="failed", started=T0, ended=T0 + timedelta(seconds=4)
    )
    [span] = exporter.get_finished_spans()
    assert span.name == "runq.run"
    assert span.attributes["runq.run_id"] == "run_1"
    assert (span.end_time - span.start_time) == 4_000_000_000
    assert span.status.status_code == StatusCode.ERROR
