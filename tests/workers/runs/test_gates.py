"""Which calls of a turn wait, and for whom: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workers.agents import Agent
from workers.db.statuses import ToolCallStatus
from workers.providers.interface import ToolCallRequest
from workers.runs import gates
from workers.tools.registry import ToolRegistry, caller_tool, tool

REGISTRY = ToolRegistry()


@tool(registry=REGISTRY, needs_approval=lambda args: args["amount"] > 100)
def pay(amount: int) -> str:
    """Pay."""
    return "paid"


@tool(registry=REGISTRY)
def read(path: str) -> str:
    """Read."""
    return path


caller_tool("ask_user", "Ask the user.", registry=REGISTRY)
AGENT = Agent(name="a", model="m", tools=("pay", "read", "ask_user"))


def call(call_id: str, name: str, arguments: str = "{}") -> ToolCallRequest:
    return ToolCallRequest(call_id, name, arguments)


def test_each_call_waits_for_whom_its_tool_and_agent_say():
    calls = [
        call("c1", "pay", '{"amount": 500}'),
        call("c2", "pay", '{"amount": 5}'),
        call("c3", "read", '{"path": "/"}'),
        call("c4", "ask_user"),
        call("c5", "their_tool"),
        call("c6", "unknown_tool"),
    ]

    waiting = gates.waiting_calls(calls, AGENT, REGISTRY, caller_tools={"their_tool"})

    assert waiting == {
        "c1": ToolCallStatus.AWAITING_APPROVAL,
        "c4": ToolCallStatus.AWAITING_OUTPUT,
        "c5": ToolCallStatus.AWAITING_OUTPUT,
    }
    strict = Agent(name="s", model="m", tools=("read",), approve_tools=("read",))
    assert gates.waiting_calls([calls[2]], strict, REGISTRY) == {
        "c3": ToolCallStatus.AWAITING_APPROVAL
    }


def test_when_the_predicate_cannot_decide_a_person_does():
    for arguments in ('{"amount": "lots"}', "not json", "[1, 2]", '{"other": 1}'):
        waiting = gates.waiting_calls([call("c", "pay", arguments)], AGENT, REGISTRY)
        assert waiting == {"c": ToolCallStatus.AWAITING_APPROVAL}, arguments


def test_a_wait_ends_at_the_agent_s_timeout_but_never_after_the_run_s_deadline():
    now = datetime(2026, 12, 5, tzinfo=UTC)
    deadline = now + timedelta(minutes=10)
    assert gates.wait_ends_at(now, deadline, None) == deadline
    assert gates.wait_ends_at(now, deadline, 60) == now + timedelta(seconds=60)
    assert gates.wait_ends_at(now, deadline, 3600) == deadline


def test_outputs_must_answer_exactly_the_waiting_calls_once():
    known = ["a", "b", "c"]
    check = gates.check_outputs
    assert check(["a", "b"], known, ["b", "a"]) is None
    assert check(["a", "b"], known, ["a"]).message.startswith("outputs missing for b")
    assert check(["a"], known, ["a", "a"]).message == "tool_call_id given twice: a"
    assert check(["a"], known, ["a", "z"]).unknown
    assert "not waiting for an output: c" in check(["a"], known, ["a", "c"]).message
