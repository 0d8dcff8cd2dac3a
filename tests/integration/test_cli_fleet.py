"""`runq` against the real fleet: a user's own agent offline, and exit codes of real runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from config.exit_codes import ExitCode
from gateway.cli import app
from tests.integration.fleet import enqueue_batch, wait_for_batch

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]
runner = CliRunner()


@pytest.mark.parametrize("provider", ["responses", "chat", "assistants"])
def test_a_user_agent_with_a_custom_tool_completes_offline(fleet, provider):
    from workers import wiring
    from workers.db import store

    inputs = [
        'Where is my order? #call=lookup_order {"order_id": "A-1234", "quantity": 2}',
        "Check my order, any will do. #call_all",
    ]
    batch_id = enqueue_batch(inputs, agent=f"support-{provider}")
    wait_for_batch(batch_id, len(inputs))
    with wiring.new_session() as session:
        runs = {run.input: run for run in store.list_runs(session, batch_id=batch_id)}
        calls = {run.input: store.list_tool_calls(session, run_id=run.id) for run in runs.values()}
    for text in inputs:
        assert runs[text].status == "completed", runs[text].error
        (call,) = calls[text]
        assert call.name == "lookup_order" and call.status == "succeeded"
        assert '"status": "shipped"' in (runs[text].result_text or "")
    (given,) = calls[inputs[0]]
    assert json.loads(given.arguments) == {"order_id": "A-1234", "quantity": 2}


def test_enqueue_wait_reads_stdin_and_exits_0_when_the_run_completed(fleet):
    args = ["enqueue", "--agent", "support-responses", "--input-file", "-", "--wait", "--json"]
    args += ["--metadata", "team=billing", "--metadata", "ticket=T-1=2"]
    result = runner.invoke(app, args, input="#call=lookup_order\n")
    assert result.exit_code == ExitCode.OK, result.output
    described = json.loads(result.output)
    assert described["status"] == "completed"
    assert described["metadata"] == {"team": "billing", "ticket": "T-1=2"}
    assert [call["name"] for call in described["tool_calls"]] == ["lookup_order"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--input", "Hello #fail"], ExitCode.RUN_FAILED),
        (["--input", "Hello #slow=5000", "--deadline-s", "1"], ExitCode.RUN_EXPIRED),
        (["--input", "Hello #slow=5000", "--timeout-s", "0.3"], ExitCode.TIMED_OUT),
    ],
)
def test_enqueue_wait_exits_with_the_outcome(fleet, extra, code):
    args = ["enqueue", "--agent", "responses-agent", "--wait", "--json", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    # A run left going would keep the fleet busy at teardown.
    runner.invoke(app, ["cancel", json.loads(result.stdout)["id"]])


def test_cancel_of_a_running_run_then_status_says_cancelled(fleet):
    args = ["enqueue", "--agent", "responses-agent", "--input", "Hi #slow=5000", "--json"]
    started = runner.invoke(app, args)
    assert started.exit_code == ExitCode.OK  # without --wait, enqueueing is the whole job
    run_id = json.loads(started.output)["id"]
    assert runner.invoke(app, ["cancel", run_id]).exit_code == ExitCode.OK
    assert runner.invoke(app, ["status", run_id, "--wait"]).exit_code == ExitCode.RUN_CANCELLED
