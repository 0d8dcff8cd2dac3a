"""Optional tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, every worker exports spans over
OTLP: one per Celery task (so one per run step, by OpenTelemetry's Celery instrumentation),
the SQL under them (its SQLAlchemy instrumentation), and one span per run, recorded when the
run ends with the run's own start and end times (a run outlives any one process, so its span
is written once, from the database's timestamps). Off by default; needs the `tracing` extra.
"""

from __future__ import annotations

import logging
from datetime import datetime

from opentelemetry import trace

log = logging.getLogger("runq.tracing")

TRACER = "runq"


def enable_tracing(endpoint: str | None, service_name: str) -> bool:
    """Install the OTLP exporter and the Celery/SQLAlchemy instrumentation; False if off."""
    if not endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the tracing extra is not installed")
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]  # untyped package
    SQLAlchemyInstrumentor().instrument()
    return True


def record_run_span(
    *, run_id: str, agent: str, status: str, started: datetime, ended: datetime
) -> None:
    """One span for a whole run, from its creation to its end (no-op without a provider)."""
    tracer = trace.get_tracer(TRACER)
    span = tracer.start_span(
        "runq.run",
        start_time=_ns(started),
        attributes={"runq.run_id": run_id, "runq.agent": agent, "runq.status": status},
    )
    if status != "completed":
        span.set_status(trace.Status(trace.StatusCode.ERROR, status))
    span.end(end_time=_ns(ended))


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)
