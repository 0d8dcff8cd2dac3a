"""`runq demo --http`: the same batch, submitted and followed the way a service would,
through the HTTP API with an API key (POST /v1/runs, then GET /v1/runs/{id}/wait)."""

from __future__ import annotations

import time
import uuid

import httpx2
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def run_batch_over_http(
    agent: str, prompts: list[str], timeout_s: float, console: Console
) -> tuple[list[str], float]:
    """Create a key, serve the API, submit every prompt and wait for each run; returns the
    run ids and the wall time."""
    from gateway.http.app import create_app
    from gateway.http.local_server import serving
    from workers.public import runtime
    from workers.public.records import key_store

    runtime.reset()
    with runtime.new_session() as session:
        _, key = key_store.create_key(session, name=f"demo-{uuid.uuid4().hex[:8]}")
    with serving(create_app()) as url:
        console.print(f"HTTP API on {url} (OpenAPI at {url}/docs)")
        headers = {"authorization": f"Bearer {key}"}
        with httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
            return _submit_and_wait(client, agent, prompts, timeout_s, console)


def _submit_and_wait(
    client: httpx2.Client, agent: str, prompts: list[str], timeout_s: float, console: Console
) -> tuple[list[str], float]:
    started_s = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    run_ids: list[str] = []
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        queued = progress.add_task("POST /v1/runs", total=len(prompts))
        for prompt in prompts:
            reply = client.post("/v1/runs", json={"agent": agent, "input": prompt})
            reply.raise_for_status()
            run_ids.append(reply.json()["id"])
            progress.advance(queued)
        done = progress.add_task("GET …/wait", total=len(prompts))
        for run_id in run_ids:
            left_s = max(0.0, timeout_s - (time.monotonic() - started_s))
            client.get(
                f"/v1/runs/{run_id}/wait", params={"timeout_s": min(left_s, 600)}, timeout=None
            ).raise_for_status()
            progress.advance(done)
    return run_ids, time.monotonic() - started_s
