"""Tenants apart over HTTP, on real uvicorn, real workers, Redis and the simulator: the
response cache, thread names, scopes and rate limits, revoked keys on open streams."""

from __future__ import annotations

import json
import time
import uuid

import httpx2
import pytest

from tests.integration.api_server import Api
from tests.integration.test_http_api import create, wait

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def cache_hit_of(run_id: str) -> bool:
    from workers.db import store
    from workers.wiring import new_session

    with new_session() as session:
        return store.get_run(session, run_id=run_id).cache_hit


def test_one_key_never_gets_another_keys_cached_answer(api: Api):
    # Given tenant A's cacheable run has completed (its answer is in the cache)
    question = f"What's the weather in Paris? ({uuid.uuid4().hex[:8]})"
    first = create(api, input=question, cache=True).json()
    assert wait(api, first["id"])["status"] == "completed"

    # When tenant B asks exactly the same thing of the same agent
    theirs = create(api, api.other_key, input=question, cache=True).json()
    done = wait(api, theirs["id"], api.other_key)

    # Then B's run went to the provider: no cache hit, nothing learnt about A's question
    assert done["status"] == "completed", done
    assert cache_hit_of(theirs["id"]) is False
    # and A asking again is still served from A's own cache entry (the cache works)
    again = create(api, input=question, cache=True).json()
    assert wait(api, again["id"])["status"] == "completed"
    assert cache_hit_of(again["id"]) is True


# --- thread names: one rule at every door -------------------------------------------------


def key_id_of(name: str) -> str:
    from workers.db import key_store
    from workers.wiring import new_session

    with new_session() as session:
        row = key_store.find_key_by_name(session, name=name)
        assert row is not None
        return row.id


def unowned_run(idempotency_key: str, timeout_s: float = 30) -> tuple[str, str | None, str | None]:
    """(status, error, thread id) of the run an unowned producer sent, once it is recorded."""
    import time

    from workers.db import store
    from workers.wiring import new_session

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with new_session() as session:
            run = store.find_idempotent_run(
                session, owner_key_id="", idempotency_key=idempotency_key
            )
            if run is not None and run.status in ("failed", "completed"):
                return run.status, run.error, run.thread_id
        time.sleep(0.2)
    raise AssertionError(f"no finished run with idempotency key {idempotency_key}")


def test_a_producer_without_a_key_cannot_join_a_tenants_thread(api: Api):
    from celery import Celery

    # Given a tenant's thread, created over HTTP
    name = f"user-{uuid.uuid4().hex[:8]}"
    mine = create(api, thread_key=name).json()
    wait(api, mine["id"])

    # When a producer with no key name sends a job on `key_<tenant id>/<name>`
    producer = Celery("producer", broker=api.app.state.broker_url)
    job_key = f"intruder-{uuid.uuid4().hex[:8]}"
    producer.send_task(
        "runq.runs.submit_job",
        kwargs={
            "agent": "responses-agent",
            "input": "What did you tell them?",
            "thread_key": f"{key_id_of(api.key_name)}/{name}",
            "idempotency_key": job_key,
        },
        queue="runs",
    )

    # Then the job is refused with the rule, and the tenant's thread holds only its own run
    status, error, thread_id = unowned_run(job_key)
    assert (status, thread_id) == ("failed", None)
    assert "reserved" in (error or "") and "thread key" in (error or "")
    thread = httpx2.get(f"{api.url}/v1/threads/{name}", headers=api.auth(), timeout=10).json()
    assert [run["id"] for run in thread["runs"]] == [mine["id"]]


def test_a_thread_name_with_a_slash_is_reachable(api: Api):
    name = f"team/user-{uuid.uuid4().hex[:8]}"
    created = create(api, thread_key=name).json()
    wait(api, created["id"])

    for path in (name, name.replace("/", "%2F")):
        reply = httpx2.get(f"{api.url}/v1/threads/{path}", headers=api.auth(), timeout=10)
        assert reply.status_code == 200, (path, reply.text)
        assert reply.json()["thread_key"] == name
        assert [run["id"] for run in reply.json()["runs"]] == [created["id"]]
    listed = httpx2.get(
        f"{api.url}/v1/runs", params={"thread_key": name}, headers=api.auth(), timeout=10
    ).json()
    assert [run["id"] for run in listed["data"]] == [created["id"]]
    # another key's same name is another (here: no) thread
    theirs = httpx2.get(f"{api.url}/v1/threads/{name}", headers=api.auth(api.other_key), timeout=10)
    assert theirs.status_code == 404


@pytest.mark.parametrize("name", ["key_abc/user-1", "thr_123", "user 42", "a//b", "x" * 129])
def test_a_bad_thread_name_is_422_stating_the_rule_at_every_http_door(api: Api, name: str):
    from workers.public.thread_names import THREAD_NAME_RULE

    body = create(api, thread_key=name)
    query = httpx2.get(
        f"{api.url}/v1/runs", params={"thread_key": name}, headers=api.auth(), timeout=10
    )
    path = httpx2.get(f"{api.url}/v1/threads/{name}", headers=api.auth(), timeout=10)
    for reply in (body, query, path):
        assert reply.status_code == 422, reply.text
        assert THREAD_NAME_RULE in reply.json()["error"]


def test_a_thread_created_over_http_is_found_by_the_cli_by_the_callers_name(api: Api):
    from typer.testing import CliRunner

    from config.exit_codes import ExitCode
    from gateway.cli import app

    name = f"user-{uuid.uuid4().hex[:8]}"
    created = create(api, thread_key=name).json()
    wait(api, created["id"])
    runner = CliRunner()

    shown = runner.invoke(app, ["thread", name, "--json"])
    assert shown.exit_code == ExitCode.OK, shown.output
    assert [run["id"] for run in json.loads(shown.output)["runs"]] == [created["id"]]

    # Once another key uses the same name, the CLI asks which key, and --key chooses
    wait(api, create(api, api.other_key, thread_key=name).json()["id"], api.other_key)
    ambiguous = runner.invoke(app, ["thread", name])
    assert ambiguous.exit_code == ExitCode.BAD_USAGE
    assert "--key" in ambiguous.output
    chosen = runner.invoke(app, ["thread", name, "--key", api.key_name, "--json"])
    assert chosen.exit_code == ExitCode.OK, chosen.output
    assert [run["id"] for run in json.loads(chosen.output)["runs"]] == [created["id"]]
    usage = runner.invoke(app, ["usage", "--thread-key", name, "--key", api.key_name, "--json"])
    assert usage.exit_code == ExitCode.OK and json.loads(usage.output)["runs"] == 1


# --- scopes and rate limits ---------------------------------------------------------------


def new_key(name_prefix: str, scopes: tuple[str, ...] = ("submit", "read")) -> tuple[str, str]:
    from workers.db import key_store
    from workers.wiring import new_session

    with new_session() as session:
        row, key = key_store.create_key(
            session, name=f"{name_prefix}-{uuid.uuid4().hex[:8]}", scopes=scopes
        )
    return row.name, key


def test_a_read_only_key_reads_but_cannot_start_or_cancel_runs(api: Api):
    _, reader = new_key("dashboard", ("read",))
    run_id = create(api).json()["id"]

    refused = create(api, reader)
    cancel = httpx2.post(f"{api.url}/v1/runs/{run_id}/cancel", headers=api.auth(reader), timeout=10)
    for reply in (refused, cancel):
        assert reply.status_code == 403, reply.text
        assert "'submit' scope" in reply.json()["error"]
    # reading its own (empty) list is fine: it owns no runs, and sees none of others'
    listed = httpx2.get(f"{api.url}/v1/runs", headers=api.auth(reader), timeout=10)
    assert listed.status_code == 200 and listed.json()["data"] == []
    wait(api, run_id)


def test_a_submit_only_key_cannot_read(api: Api):
    _, submitter = new_key("producer", ("submit",))
    created = create(api, submitter)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    for path in ("", "/wait?timeout_s=0", "/events"):
        reply = httpx2.get(f"{api.url}/v1/runs/{run_id}{path}", headers=api.auth(submitter))
        assert reply.status_code == 403 and "'read' scope" in reply.json()["error"], path


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(fleet, monkeypatch):
    from config.settings import get_settings
    from gateway.http.app import create_app
    from gateway.http.local_server import serving

    monkeypatch.setattr(get_settings().api, "requests_per_min", 3)
    _, hasty = new_key("hasty")
    _, calm = new_key("calm")
    with serving(create_app()) as url:
        replies = [
            httpx2.get(f"{url}/v1/runs", headers={"authorization": f"Bearer {hasty}"})
            for _ in range(5)
        ]
        other = httpx2.get(f"{url}/v1/runs", headers={"authorization": f"Bearer {calm}"})

    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]
    limited = replies[3]
    assert int(limited.headers["retry-after"]) >= 1
    assert "3 requests a minute" in limited.json()["error"]
    assert other.status_code == 200


# --- a revoked key's open stream and wait ---------------------------------------------------


def run_status(run_id: str) -> str:
    from workers.db import store
    from workers.wiring import new_session

    with new_session() as session:
        return store.get_run(session, run_id=run_id).status


def revoke_with_the_cli(name: str) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    result = CliRunner().invoke(app, ["keys", "revoke", name])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_revoking_a_key_ends_its_open_event_stream_and_wait(api: Api):
    import threading

    from gateway.http.events import REVOKED

    # Given a key following a long run over SSE and over /wait
    name, key = new_key("revoked")
    slow = "What's the weather in Paris? #slow=90000"  # live far beyond this test
    run_id = create(api, key, input=slow).json()["id"]
    url = f"{api.url}/v1/runs/{run_id}"
    outcome: dict[str, object] = {}

    def follow() -> None:
        lines = []
        with httpx2.stream("GET", f"{url}/events", headers=api.auth(key), timeout=90) as reply:
            outcome["stream_status"] = reply.status_code
            for line in reply.iter_lines():
                lines.append(line)
        outcome["lines"] = lines
        outcome["run_at_stream_end"] = run_status(run_id)

    def wait_long() -> None:
        reply = httpx2.get(
            f"{url}/wait", params={"timeout_s": 90}, headers=api.auth(key), timeout=90
        )
        outcome["wait"] = (reply.status_code, reply.json()["error"])
        outcome["run_at_wait_end"] = run_status(run_id)

    threads = [threading.Thread(target=follow), threading.Thread(target=wait_long)]
    for thread in threads:
        thread.start()
    key_id = key_id_of(name)
    while api.app.state.key_watch.holds(key_id) < 2:  # the stream and the wait are open
        threading.Event().wait(0.05)

    # When the key is revoked with `runq keys revoke`
    revoke_with_the_cli(name)
    for thread in threads:
        thread.join()

    # Then both ended while the run was still going (not because it ended), the stream with
    # an error event, the wait with a 401; and the key's next request is a 401 too
    assert outcome["stream_status"] == 200
    assert "event: error" in outcome["lines"]
    assert outcome["wait"] == (401, REVOKED)
    assert outcome["run_at_stream_end"] not in ("completed", "failed", "cancelled", "expired")
    assert outcome["run_at_wait_end"] not in ("completed", "failed", "cancelled", "expired")
    assert httpx2.get(url, headers=api.auth(key), timeout=10).status_code == 401
    # (cancel it with a live key of the fleet's operator, so it does not hold a worker)
    from workers.runs.outcomes import cancel_run
    from workers.wiring import get_step_context

    cancel_run(get_step_context(), run_id)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_runq_serve_cuts_a_revoked_keys_stream_when_runq_keys_revoke_runs(fleet, tmp_path):
    """The same, on `runq serve` and `runq keys …` started as the README starts them."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.ports import free_port

    runq = str(Path(sys.executable).parent / "runq")
    root = Path(__file__).resolve().parents[2]  # where the README's commands run
    # the fleet's agents live in tests/ (not installed): import them from the checkout
    env = {**os.environ, **fleet.env, "PYTHONPATH": str(root)}
    name = f"serve-revoked-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(
        [runq, "keys", "create", name, "--json"], env=env, cwd=root, capture_output=True
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    run_id = None
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [runq, "serve", "--port", str(port)],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:  # up (bounded by the test's timeout)
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        auth = {"authorization": f"Bearer {key}"}
        body = {"agent": "responses-agent", "input": "Weather in Oslo? #slow=90000"}
        run_id = httpx2.post(f"{url}/v1/runs", json=body, headers=auth, timeout=10).json()["id"]
        with httpx2.stream("GET", f"{url}/v1/runs/{run_id}/events", headers=auth, timeout=60) as s:
            assert s.status_code == 200
            lines = s.iter_lines()
            next(lines)  # the stream is open and answering
            revoked = subprocess.run(
                [runq, "keys", "revoke", name], env=env, cwd=root, capture_output=True
            )
            assert revoked.returncode == 0, revoked.stderr
            rest = list(lines)  # ends (the run itself goes on for 90 s)
        assert "event: error" in rest
        assert run_status(run_id) not in ("completed", "failed", "cancelled", "expired")
        assert httpx2.get(f"{url}/v1/runs/{run_id}", headers=auth, timeout=10).status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if run_id is not None:
            from workers.runs.outcomes import cancel_run
            from workers.wiring import get_step_context

            cancel_run(get_step_context(), run_id)
