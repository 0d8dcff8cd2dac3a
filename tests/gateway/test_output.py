"""Output that scales: human output is bounded whatever the run holds; --json has everything."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gateway.cli import app
from gateway.output import FULL_HINT, shorten

runner = CliRunner()
HUGE = "x" * 100_000  # one 100,000-character word: the worst case for line wrapping


def test_shorten_says_how_much_it_cut():
    assert shorten("abc", 5) == "abc"
    assert shorten("a\nb", 5) == "a b"
    assert shorten("abcdefgh", 3) == "abc… (+5 chars)"


def test_a_run_with_a_huge_input_prints_a_bounded_amount(seed_run):
    run_id = seed_run("completed", input=HUGE, result=HUGE)
    result = runner.invoke(app, ["status", run_id])
    assert result.exit_code == 0
    assert len(result.output) < 3_000 and FULL_HINT in result.output


def test_full_and_json_show_everything(seed_run):
    run_id = seed_run("completed", input=HUGE, result="done")
    full = runner.invoke(app, ["status", run_id, "--full"])
    assert HUGE in full.output
    described = json.loads(runner.invoke(app, ["status", run_id, "--json"]).output)
    assert described["input"] == HUGE and described["status"] == "completed"


def test_lists_and_threads_stay_bounded_too(seed_run):
    for _ in range(3):
        seed_run("completed", input=HUGE, result=HUGE, thread_key="user-42")
    listed = runner.invoke(app, ["runs", "list"])
    assert listed.exit_code == 0 and len(listed.output) < 5_000
    thread = runner.invoke(app, ["thread", "user-42"])
    assert thread.exit_code == 0 and len(thread.output) < 5_000


def test_runs_list_filters_and_speaks_json(seed_run):
    wanted = seed_run("failed", agent="support", thread_key="user-7")
    seed_run("completed", agent="support")
    seed_run("failed", agent="other")
    args = ["runs", "list", "--status", "failed", "--agent", "support", "--json"]
    (only,) = json.loads(runner.invoke(app, args).output)
    assert only["id"] == wanted and only["thread_key"] == "user-7"
    by_thread = json.loads(
        runner.invoke(app, ["runs", "list", "--thread-key", "user-7", "--json"]).output
    )
    assert [run["id"] for run in by_thread] == [wanted]
    assert (
        len(json.loads(runner.invoke(app, ["runs", "list", "--limit", "2", "--json"]).output)) == 2
    )


def test_usage_by_thread_key_and_unknown_names(seed_run):
    seed_run("completed", thread_key="user-42", input_tokens=10, output_tokens=5)
    seed_run("completed", input_tokens=100)
    result = runner.invoke(app, ["usage", "--thread-key", "user-42", "--json"])
    assert json.loads(result.output)["input_tokens"] == 10
    assert runner.invoke(app, ["usage", "--thread-key", "user-0"]).exit_code == 7
    assert runner.invoke(app, ["usage", "--agent", "nosuch"]).exit_code == 7
    # An agent no module declares any more still has its recorded runs.
    assert (
        json.loads(runner.invoke(app, ["usage", "--agent", "legacy", "--json"]).output)["runs"] == 2
    )


def test_agents_and_tools_list_what_is_declared(seed_run):
    agents = json.loads(runner.invoke(app, ["agents", "--json"]).output)
    [assistant] = [agent for agent in agents if agent["name"] == "assistant"]
    assert {"name": "assistant", "tools": ["get_weather", "search_documents"]}.items() <= (
        assistant.items()
    )
    tools = {
        tool["name"]: tool for tool in json.loads(runner.invoke(app, ["tools", "--json"]).output)
    }
    assert tools["get_weather"]["parameters"]["required"] == ["location"]
    human = runner.invoke(app, ["tools"])
    assert human.exit_code == 0 and '"location"' in human.output


def test_cache_speaks_json(seed_run, monkeypatch, redis_server):
    from workers import wiring

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    wiring.reset()
    result = runner.invoke(app, ["cache", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output).keys() == {"hits", "misses", "hit_rate"}
