"""`runq runs approve | reject | waiting | submit-outputs`: the operator moves on runs that
wait, on a real SQLite store with runs stepped by a scripted provider; what would go to the
broker is recorded (`sent`)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from config.exit_codes import ExitCode
from gateway.cli import app
from tests.gateway.conftest import LOOKUP, REFUND, WEATHER
from workers import wiring
from workers.db import store
from workers.providers.interface import ToolCallRequest
from workers.runs.context import FanOut, Later, Nothing, StepName

runner = CliRunner()


def calls_of(run_id: str) -> dict[str, object]:
    with wiring.new_session() as session:
        return {c.call_id: c for c in store.list_tool_calls(session, run_id=run_id)}


def test_waiting_lists_each_waiting_call_with_masked_arguments(waiting_run):
    gated = waiting_run([WEATHER, REFUND])
    caller = waiting_run([LOOKUP])

    listed = runner.invoke(app, ["runs", "waiting", "--json"])

    assert listed.exit_code == 0, listed.output
    runs = {run["id"]: run for run in json.loads(listed.output)}
    assert runs.keys() == {gated, caller}
    assert runs[gated]["waiting"] == [
        {
            "call_id": "call_refund",
            "name": "ui18_refund",
            "arguments": '{"order_id": "o1", "amount": 50, "card": "***"}',
            "waits_for": "approval",
        }
    ]
    assert [c["waits_for"] for c in runs[caller]["waiting"]] == ["output"]
    human = runner.invoke(app, ["runs", "waiting"], env={"COLUMNS": "200"})
    assert human.exit_code == 0 and "4111-SECRET" not in human.output
    assert "call_refund" in human.output and "approval" in human.output
    assert "2 runs wait (2 tool calls)" in human.output


def test_waiting_with_nothing_waiting_says_so(seed_run):
    seed_run("in_progress")
    result = runner.invoke(app, ["runs", "waiting"])
    assert result.exit_code == 0 and "no run waits" in result.output
    assert json.loads(runner.invoke(app, ["runs", "waiting", "--json"]).output) == []


def test_status_of_a_waiting_run_shows_what_it_waits_for_and_the_command(waiting_run):
    run_id = waiting_run([WEATHER, REFUND])

    shown = runner.invoke(app, ["status", run_id])

    assert shown.exit_code == ExitCode.TIMED_OUT  # not finished
    assert "status: requires_action" in shown.output
    assert "-> awaiting_approval" in shown.output and "4111-SECRET" not in shown.output
    assert f"runq runs approve {run_id} call_refund" in shown.output
    described = json.loads(runner.invoke(app, ["status", run_id, "--json"]).output)
    refund = next(c for c in described["tool_calls"] if c["call_id"] == "call_refund")
    assert (refund["status"], refund["decision"], refund["decision_reason"]) == (
        "awaiting_approval",
        None,
        None,
    )


def test_approve_records_the_operator_and_sends_the_turn_s_tools(waiting_run, sent):
    run_id = waiting_run([WEATHER, REFUND])

    result = runner.invoke(app, ["runs", "approve", run_id, "call_refund", "--reason", "ok"])

    assert result.exit_code == 0, result.output
    assert f"approved call_refund; {run_id} goes on (requires_tools)" in result.output
    assert sent == [FanOut(run_id, 1, ("call_weather", "call_refund"), due_recorded=True)]
    refund = calls_of(run_id)["call_refund"]
    assert (refund.decision, refund.decided_by, refund.decision_reason) == ("approved", "", "ok")
    again = runner.invoke(app, ["runs", "approve", run_id, "call_refund", "--json"])
    assert again.exit_code == ExitCode.ALREADY_ENDED
    assert "already approved" in again.output and len(sent) == 1


def test_reject_needs_a_reason_and_tells_the_model(waiting_run, sent):
    run_id = waiting_run([REFUND])
    missing = runner.invoke(app, ["runs", "reject", run_id, "call_refund"])
    assert missing.exit_code == ExitCode.BAD_USAGE and "--reason" in missing.output
    blank = runner.invoke(app, ["runs", "reject", run_id, "call_refund", "--reason", " "])
    assert blank.exit_code == ExitCode.BAD_USAGE and sent == []

    args = ["runs", "reject", run_id, "call_refund", "--reason", "too much", "--json"]
    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "id": run_id,
        "call_id": "call_refund",
        "decision": "rejected",
        "reason": "too much",
        "status": "requires_tools",
        "waiting": [],
    }
    assert sent == [Later(StepName.SUBMIT, (run_id, 1))]
    assert calls_of(run_id)["call_refund"].status == "failed"


def test_deciding_an_unknown_run_or_call_is_not_found(waiting_run, sent):
    run_id = waiting_run([REFUND])
    no_run = runner.invoke(app, ["runs", "approve", "run_nope", "call_refund"])
    assert no_run.exit_code == ExitCode.NOT_FOUND, no_run.output
    no_call = runner.invoke(app, ["runs", "approve", run_id, "call_nope"])
    assert no_call.exit_code == ExitCode.NOT_FOUND and "call_nope" in no_call.output
    assert sent == []


def test_one_of_two_waiting_calls_approved_leaves_the_other_waiting(waiting_run, sent):
    second = ToolCallRequest("call_refund2", "ui18_refund", '{"order_id": "o2", "amount": 9}')
    run_id = waiting_run([REFUND, second])

    result = runner.invoke(app, ["runs", "approve", run_id, "call_refund"])

    assert result.exit_code == 0
    assert "still waits for call_refund2 (ui18_refund, approval)" in result.output
    assert sent == [Nothing("1 tool calls of turn 1 still wait")]


def test_submit_outputs_from_flags_and_from_a_file(waiting_run, sent, tmp_path):
    by_flag = waiting_run([LOOKUP])
    result = runner.invoke(
        app, ["runs", "submit-outputs", by_flag, "--output", "call_lookup=shipped"]
    )
    assert result.exit_code == 0, result.output
    assert "submitted 1 tool outputs" in result.output
    assert calls_of(by_flag)["call_lookup"].output == "shipped"

    by_file = waiting_run([LOOKUP])
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"call_lookup": {"status": "shipped"}}))
    args = ["runs", "submit-outputs", by_file, "--file", str(outputs), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["submitted"] == [["call_lookup", '{"status": "shipped"}']]
    assert sent == [Later(StepName.SUBMIT, (by_flag, 1)), Later(StepName.SUBMIT, (by_file, 1))]


def test_submit_outputs_refusals_are_bad_usage_or_not_found(waiting_run, sent, tmp_path):
    run_id = waiting_run([LOOKUP])
    http_shape = tmp_path / "http.json"
    http_shape.write_text(json.dumps({"tool_outputs": [{"tool_call_id": "call_x", "output": ""}]}))
    cases = {
        ("--output", "no-equals"): ExitCode.BAD_USAGE,
        ("--output", "call_lookup=a", "--file", str(http_shape)): ExitCode.BAD_USAGE,
        ("--file", str(tmp_path / "missing.json")): ExitCode.BAD_USAGE,
        ("--output", "call_lookup=a", "--output", "call_lookup=b"): ExitCode.BAD_USAGE,
        ("--file", str(http_shape)): ExitCode.NOT_FOUND,
    }
    for flags, code in cases.items():
        result = runner.invoke(app, ["runs", "submit-outputs", run_id, *flags])
        assert result.exit_code == code, (flags, result.output)
    assert runner.invoke(app, ["runs", "submit-outputs", run_id]).exit_code == ExitCode.BAD_USAGE
    assert sent == [] and calls_of(run_id)["call_lookup"].status == "awaiting_output"


def test_approving_needs_redis_to_send_what_runs_next(waiting_run):
    run_id = waiting_run([REFUND])
    result = runner.invoke(app, ["runs", "approve", run_id, "call_refund"])
    assert result.exit_code == ExitCode.CONFIG_ERROR and "REDIS_URL" in result.output
    assert calls_of(run_id)["call_refund"].status == "awaiting_approval"  # nothing recorded


def test_the_help_explains_each_command():
    for command in ("approve", "reject", "waiting", "submit-outputs"):
        assert command in runner.invoke(app, ["runs", "--help"]).output
        helped = runner.invoke(app, ["runs", command, "--help"])
        assert helped.exit_code == 0 and "--json" in helped.output
    assert "CALL_ID=TEXT" in runner.invoke(app, ["runs", "submit-outputs", "--help"]).output
