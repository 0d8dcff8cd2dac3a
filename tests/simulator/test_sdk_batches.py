"""Files and batches through the official SDK (strict validation) and runq's BatchApi."""

from __future__ import annotations

import json

import openai
import pytest

from tests.simulator.sim import Sim
from workers.providers.batch_api import BatchApi, BatchLine

MODEL = "gpt-5.4"


def lines(*prompts: str) -> list[BatchLine]:
    return [
        BatchLine(f"turn-{i}", {"model": MODEL, "input": prompt, "store": True})
        for i, prompt in enumerate(prompts)
    ]


def test_a_batch_answers_every_line_in_its_output_file(sim: Sim) -> None:
    # Given a batch of two Responses requests, one of them malformed (no model)
    api = BatchApi(sim.client)
    bad = BatchLine("turn-bad", {"input": "no model here"})
    batch_id = api.submit([*lines("Hello there"), bad], metadata={"who": "test"})
    assert sim.client.batches.retrieve(batch_id).status == "in_progress"

    # When its time has passed
    sim.clock.advance(1.0)
    status = api.status(batch_id)

    # Then the good line has a completed Response and the bad one its 400 error
    assert status.status == "completed"
    results = {r.custom_id: r for r in api.results(status)}
    assert results["turn-0"].response is not None
    assert results["turn-0"].response["status"] == "completed"
    assert results["turn-bad"].response is None
    assert results["turn-bad"].error is not None and "model" in results["turn-bad"].error
    batch = sim.client.batches.retrieve(batch_id)
    assert batch.request_counts is not None and batch.request_counts.completed == 1
    assert batch.request_counts.failed == 1


def test_a_failed_batch_says_why_and_answers_nothing(sim: Sim) -> None:
    sim.configure(batch_outcome="failed")
    api = BatchApi(sim.client)
    batch_id = api.submit(lines("Hi"), metadata={})
    sim.clock.advance(1.0)
    status = api.status(batch_id)
    assert status.status == "failed"
    assert status.reason is not None and "batch_failed" in status.reason
    assert api.results(status) == []


def test_an_expired_batch_has_no_output(sim: Sim) -> None:
    sim.configure(batch_outcome="expired")
    api = BatchApi(sim.client)
    batch_id = api.submit(lines("Hi"), metadata={})
    sim.clock.advance(1.0)
    assert api.status(batch_id).status == "expired"


def test_the_uploaded_file_is_the_jsonl_the_batch_api_expects(sim: Sim) -> None:
    api = BatchApi(sim.client)
    batch_id = api.submit(lines("One", "Two"), metadata={})
    file_id = sim.client.batches.retrieve(batch_id).input_file_id
    rows = [json.loads(row) for row in sim.client.files.content(file_id).text.splitlines()]
    assert [(r["custom_id"], r["method"], r["url"]) for r in rows] == [
        ("turn-0", "POST", "/v1/responses"),
        ("turn-1", "POST", "/v1/responses"),
    ]
    assert sim.client.files.retrieve(file_id).purpose == "batch"


def test_a_batch_of_another_endpoint_is_refused(sim: Sim) -> None:
    uploaded = sim.client.files.create(file=("x.jsonl", b"{}\n"), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        sim.client.batches.create(
            completion_window="24h", endpoint="/v1/embeddings", input_file_id=uploaded.id
        )


def test_an_unknown_batch_is_a_404(sim: Sim) -> None:
    with pytest.raises(openai.NotFoundError):
        sim.client.batches.retrieve("batch_nope")


def test_files_batches_and_tiered_responses_match_the_spec(sim: Sim, registry) -> None:
    from tests.simulator.openapi_spec import problems

    auth = {"Authorization": "Bearer sk-test"}
    api = BatchApi(sim.client)
    batch_id = api.submit(lines("Hello"), metadata={"who": "spec"})
    running = sim.http.get(f"/v1/batches/{batch_id}", headers=auth).json()
    sim.clock.advance(1.0)
    done = sim.http.get(f"/v1/batches/{batch_id}", headers=auth).json()
    output = sim.http.get(f"/v1/files/{done['output_file_id']}", headers=auth).json()
    sim.configure(batch_outcome="failed")
    failed_id = api.submit(lines("Hi"), metadata={})
    sim.clock.advance(1.0)
    failed = sim.http.get(f"/v1/batches/{failed_id}", headers=auth).json()
    flex = sim.http.post(
        "/v1/responses",
        json={"model": MODEL, "input": "hi", "service_tier": "flex", "prompt_cache_key": "k"},
        headers=auth,
    ).json()
    samples = [
        ("Batch", running),
        ("Batch", done),
        ("Batch", failed),
        ("OpenAIFile", output),
        ("Response", flex),
    ]
    for schema_name, body in samples:
        assert problems(registry, schema_name, body) == [], (schema_name, body)
    rows = [json.loads(row) for row in api_content(sim, done["output_file_id"]).splitlines()]
    assert problems(registry, "Response", rows[0]["response"]["body"]) == []


def api_content(sim: Sim, file_id: str) -> str:
    return sim.client.files.content(file_id).text
