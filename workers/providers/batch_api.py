"""The Batch API through the official SDK: upload a JSONL file of requests, create a batch,
read its status, download its output and error files.

Each line of a batch's input is `{"custom_id", "method": "POST", "url": "/v1/responses",
"body"}`; each line of its output (or error) file is `{"id", "custom_id", "response":
{"status_code", "request_id", "body"} | null, "error": {"code", "message"} | null}`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openai import OpenAI

from workers.providers.sdk_errors import translate_sdk_errors

# A batch's terminal statuses with no answers to read: every line must be sent again or fail.
FAILED_STATUSES = frozenset({"failed", "expired", "cancelled"})


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One request of a batch: its id of ours and the /v1/responses body."""

    custom_id: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LineResult:
    """What the batch answered for one line: a Response body, or an error message."""

    custom_id: str
    response: Mapping[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """A batch as its poll sees it."""

    id: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    reason: str | None
    """Why a failed batch failed (its `errors`), if it says."""


class BatchApi:
    """Files and batches of one API key (the SDK's retries off, as everywhere in runq)."""

    def __init__(self, client: OpenAI) -> None:
        self._client = client

    def submit(self, lines: Sequence[BatchLine], *, metadata: Mapping[str, str]) -> str:
        """Upload the lines as a JSONL file and create a /v1/responses batch; its id."""
        content = "".join(
            json.dumps(
                {
                    "custom_id": line.custom_id,
                    "method": "POST",
                    "url": "/v1/responses",
                    "body": dict(line.body),
                }
            )
            + "\n"
            for line in lines
        )
        with translate_sdk_errors():
            uploaded = self._client.files.create(
                file=("runq-batch.jsonl", content.encode()), purpose="batch"
            )
            batch = self._client.batches.create(
                completion_window="24h",
                endpoint="/v1/responses",
                input_file_id=uploaded.id,
                metadata=dict(metadata),
            )
        return batch.id

    def status(self, batch_id: str) -> BatchStatus:
        """Where the batch is."""
        with translate_sdk_errors():
            batch = self._client.batches.retrieve(batch_id)
        reasons = [
            f"{e.code or 'error'}: {e.message or ''}".strip()
            for e in (batch.errors.data or [] if batch.errors else [])
        ]
        return BatchStatus(
            id=batch.id,
            status=batch.status,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            reason="; ".join(reasons) or None,
        )

    def results(self, status: BatchStatus) -> list[LineResult]:
        """Every line the batch answered, from its output and error files."""
        results: list[LineResult] = []
        for file_id in (status.output_file_id, status.error_file_id):
            if file_id is None:
                continue
            with translate_sdk_errors():
                text = self._client.files.content(file_id).text
            results += [result_of(json.loads(row)) for row in text.splitlines() if row.strip()]
        return results


def result_of(row: Mapping[str, Any]) -> LineResult:
    """One output-file line: a 200 carries a Response body; anything else is an error."""
    custom_id = str(row.get("custom_id", ""))
    response = row.get("response") or {}
    body = response.get("body")
    if response.get("status_code") == 200 and isinstance(body, Mapping):
        return LineResult(custom_id, body, None)
    error = row.get("error") or (body.get("error") if isinstance(body, Mapping) else None) or {}
    code = error.get("code") or f"status {response.get('status_code', 'none')}"
    return LineResult(custom_id, None, f"{code}: {error.get('message') or 'no message'}")
