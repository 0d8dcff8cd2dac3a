"""MCP tools on a real fleet: the devstack MCP server on a real port serves tools to runs,
and a server that hangs, errs or goes down gives the model an error output, never a stuck
or failed run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.mcp_server import start_http_server, stop_http_server
from tests.integration.fleet import enqueue_batch, wait_for_batch
from tests.integration.mcp_agents import DOOMED_PORT, LIVE_PORT
from workers import wiring
from workers.db import store
from workers.db.models import Run, ToolCall

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def live_server() -> Iterator[None]:
    process = start_http_server(LIVE_PORT)
    yield
    stop_http_server(process)


def finished_run(text: str, agent: str) -> tuple[Run, ToolCall]:
    """One run of `agent` on `text`, once it has ended, and its one tool call."""
    batch_id = enqueue_batch([text], agent=agent)
    wait_for_batch(batch_id, 1, timeout_s=60)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
        [call] = store.list_tool_calls(session, run_id=run.id)
    return run, call


def test_an_mcp_tool_serves_a_run_that_finishes_with_its_answer(fleet, live_server):
    run, call = finished_run('Add them. #call=devstack__add {"a": 2, "b": 40}', "mcp-agent")

    assert run.status == "completed", run.error
    assert (call.name, call.status, call.output) == ("devstack__add", "succeeded", "42")
    assert "42" in (run.result_text or "")


def test_an_error_result_reaches_the_model_and_the_run_completes(fleet, live_server):
    run, call = finished_run('#call=devstack__capital_of {"country": "Atlantis"}', "mcp-agent")

    assert run.status == "completed", run.error
    assert call.status == "failed"
    assert "no capital known for 'Atlantis'" in (call.output or "")
    assert "no capital known for 'Atlantis'" in (run.result_text or "")


def test_a_hanging_mcp_tool_is_cut_off_and_the_model_told(fleet, live_server):
    run, call = finished_run('#call=devstack__wait {"seconds": 60}', "mcp-agent")

    assert run.status == "completed", run.error
    assert call.status == "failed"
    assert "did not answer within 5 s; the call may or may not have taken effect" in (
        call.output or ""
    )


def test_a_server_that_goes_down_gives_the_model_an_error_output(fleet):
    process = start_http_server(DOOMED_PORT)
    try:
        # Listed for the turn while up; the call takes the server down with it.
        run, call = finished_run("#call=doomed__crash", "mcp-doomed")
    finally:
        stop_http_server(process)

    assert run.status == "completed", run.error
    assert call.status == "failed"
    assert f"MCP server 'doomed' (http://127.0.0.1:{DOOMED_PORT}/mcp)" in (call.output or "")
    assert "may or may not have taken effect" in (call.output or "")
    assert "MCP server 'doomed'" in (run.result_text or "")


def test_a_stdio_mcp_server_serves_a_run(fleet):
    run, call = finished_run('#call=local__capital_of {"country": "Norway"}', "mcp-stdio")

    assert run.status == "completed", run.error
    assert (call.status, call.output) == ("succeeded", "Oslo")


def test_a_server_answering_garbage_gives_a_clear_error_and_the_run_completes(fleet):
    run, call = finished_run("#call=local__garble", "mcp-stdio")

    assert run.status == "completed", run.error
    assert call.status == "failed"
    # Not a timeout: the message says what came instead of JSON-RPC.
    assert "sent a line that is not JSON-RPC" in (call.output or "")
    assert "this is not json-rpc" in (call.output or "")
