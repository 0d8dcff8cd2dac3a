"""Files and batches: the Batch API over the same scripted model, held in the state.

A batch is `validating` when created, `in_progress` until `batch_latency_ms` has passed,
then ends as `batch_outcome` says: `completed` (every line run through the Responses create,
answers in the output file, refused lines in the error file), `failed` (nothing run,
`errors` says why) or `expired` (nothing run, as a batch the 24 h window closed on).
Callers hold the lock.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from simulator import respond
from simulator.batch_state import BatchRecord, FileRecord
from simulator.errors import ApiError, bad_request, not_found
from simulator.items import new_id
from simulator.render import render_response

if TYPE_CHECKING:  # respond imports the state: a runtime import here would be a cycle
    from simulator.state import SimulatorState

ENDPOINTS = ("/v1/responses",)
OUTCOMES = ("completed", "failed", "expired")
_WINDOW_S = 24 * 3600


def add_file(
    state: SimulatorState, *, filename: str, purpose: str, content: bytes, now_s: float
) -> FileRecord:
    """Store an upload."""
    record = FileRecord(new_id("file"), filename, purpose, content, int(now_s))
    state.batch_state.files[record.id] = record
    return record


def find_file(state: SimulatorState, file_id: str) -> FileRecord:
    """The file, or 404."""
    record = state.batch_state.files.get(file_id)
    if record is None:
        raise not_found(f"No such File object: {file_id}", param="file_id")
    return record


def create_batch(state: SimulatorState, body: dict[str, Any], now_s: float) -> BatchRecord:
    """Validate a create and queue the batch (its lines run when it ends)."""
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise bad_request(
            f"Invalid value for 'endpoint': the simulator batches {', '.join(ENDPOINTS)}.",
            param="endpoint",
        )
    if body.get("completion_window") != "24h":
        raise bad_request(
            "Invalid value for 'completion_window': use '24h'.", param="completion_window"
        )
    source = find_file(state, str(body.get("input_file_id")))
    if source.purpose != "batch":
        raise bad_request(
            "The input file must be uploaded with purpose 'batch'.", param="input_file_id"
        )
    config = state.config
    record = BatchRecord(
        id=new_id("batch"),
        input_file_id=source.id,
        endpoint=str(endpoint),
        metadata=body.get("metadata"),
        created_s=now_s,
        ends_s=now_s + config.batch_latency_ms / 1000,
        outcome=config.batch_outcome,
    )
    record.counts["total"] = len(_lines(source))
    state.batch_state.batches[record.id] = record
    state.stats.batches_created += 1
    return record


def find_batch(state: SimulatorState, batch_id: str, now_s: float) -> BatchRecord:
    """The batch as a poll at `now_s` sees it (ending it first if its time has come)."""
    record = state.batch_state.batches.get(batch_id)
    if record is None:
        raise not_found(f"No such Batch object: {batch_id}", param="batch_id")
    if record.ended_s is None:
        record.status = "in_progress"
        if now_s >= record.ends_s:
            _end(state, record, now_s)
    return record


def cancel_batch(state: SimulatorState, batch_id: str, now_s: float) -> BatchRecord:
    """Cancel a batch that has not ended; an ended one comes back unchanged."""
    record = find_batch(state, batch_id, now_s)
    if record.ended_s is None:
        record.status, record.ended_s = "cancelled", now_s
    return record


def _end(state: SimulatorState, record: BatchRecord, now_s: float) -> None:
    record.ended_s = now_s
    record.status = record.outcome
    if record.outcome == "failed":
        record.errors = [
            {
                "code": "batch_failed",
                "message": "The batch failed (simulated).",
                "param": None,
                "line": None,
            }
        ]
        return
    if record.outcome == "expired":
        return
    answered: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for line in _lines(state.batch_state.files[record.input_file_id]):
        row = _run_line(state, line, now_s)
        (answered if row["response"]["status_code"] == 200 else refused).append(row)
    record.counts.update(completed=len(answered), failed=len(refused))
    record.output_file_id = _result_file(state, answered, now_s)
    record.error_file_id = _result_file(state, refused, now_s)


def _run_line(state: SimulatorState, line: dict[str, Any], now_s: float) -> dict[str, Any]:
    """One request of the batch, answered as the Responses create would answer it."""
    row: dict[str, Any] = {
        "id": new_id("batch_req"),
        "custom_id": line.get("custom_id"),
        "error": None,
    }
    try:
        record = respond.create_response(state, dict(line.get("body") or {}), now_s)
        respond.settle_due(state, now_s)
        body = render_response(record, respond.current_status(record, now_s))
        row["response"] = {"status_code": 200, "request_id": new_id("req"), "body": body}
    except ApiError as exc:
        row["response"] = {
            "status_code": exc.status_code,
            "request_id": new_id("req"),
            "body": exc.envelope(),
        }
    return row


def _result_file(state: SimulatorState, rows: list[dict[str, Any]], now_s: float) -> str | None:
    if not rows:
        return None
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    return add_file(
        state, filename="batch_output.jsonl", purpose="batch_output", content=content, now_s=now_s
    ).id


def _lines(source: FileRecord) -> list[dict[str, Any]]:
    rows = [json.loads(text) for text in source.content.decode().splitlines() if text.strip()]
    return [row for row in rows if isinstance(row, dict)]


def render_file(record: FileRecord) -> dict[str, Any]:
    """A `File` object."""
    return {
        "id": record.id,
        "object": "file",
        "bytes": len(record.content),
        "created_at": record.created_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
    }


def render_batch(record: BatchRecord) -> dict[str, Any]:
    """A `Batch` object; fields that do not apply yet are left out (the spec types them
    as non-null: `completed_at` is an integer when it is there)."""
    return {name: value for name, value in _batch_fields(record).items() if value is not None}


def _batch_fields(record: BatchRecord) -> dict[str, Any]:
    created = int(record.created_s)
    ended = None if record.ended_s is None else int(record.ended_s)
    return {
        "id": record.id,
        "object": "batch",
        "endpoint": record.endpoint,
        "errors": {"object": "list", "data": record.errors} if record.errors else None,
        "input_file_id": record.input_file_id,
        "completion_window": "24h",
        "status": record.status,
        "output_file_id": record.output_file_id,
        "error_file_id": record.error_file_id,
        "created_at": created,
        "in_progress_at": created if record.status != "validating" else None,
        "expires_at": created + _WINDOW_S,
        "finalizing_at": ended if record.status == "completed" else None,
        "completed_at": ended if record.status == "completed" else None,
        "failed_at": ended if record.status == "failed" else None,
        "expired_at": ended if record.status == "expired" else None,
        "cancelling_at": ended if record.status == "cancelled" else None,
        "cancelled_at": ended if record.status == "cancelled" else None,
        "request_counts": dict(record.counts),
        "metadata": record.metadata,
    }
