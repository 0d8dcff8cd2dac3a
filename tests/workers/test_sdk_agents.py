"""Agents SDK definitions adopted as runq agents: what is taken, and what is refused by name."""

from __future__ import annotations

import asyncio
import json
import types

import pytest
from pydantic import BaseModel

from workers.errors import ConfigError
from workers.guardrails import Tripped
from workers.sdk_agents import adopt, adopt_module_agents
from workers.tools.registry import ToolRegistry

agents = pytest.importorskip("agents", reason="the openai-agents extra is not installed")


@agents.function_tool
def lookup_invoice(invoice_id: str) -> str:
    """Look an invoice up by its id."""
    return f"invoice {invoice_id}: 42 EUR, paid"


class Verdict(BaseModel):
    answer: str
    confident: bool


@agents.input_guardrail
def no_passwords(ctx, agent, text):
    return agents.GuardrailFunctionOutput(
        output_info="password", tripwire_triggered="password" in text
    )


@agents.output_guardrail
async def confident_only(ctx, agent, output: Verdict):
    return agents.GuardrailFunctionOutput(
        output_info={"confident": output.confident}, tripwire_triggered=not output.confident
    )


def billing_agent() -> object:
    return agents.Agent(
        name="sdk-billing",
        instructions="You answer billing questions.",
        handoff_description="Invoices and payments.",
        model="gpt-test",
        tools=[lookup_invoice],
        output_type=Verdict,
        model_settings=agents.ModelSettings(temperature=0.2, max_tokens=300),
        input_guardrails=[no_passwords],
        output_guardrails=[confident_only],
    )


def test_an_sdk_agent_keeps_its_name_instructions_model_settings_tools_and_output_schema():
    registry = ToolRegistry()

    agent = adopt(billing_agent(), registry)

    assert (agent.name, agent.model, agent.instructions) == (
        "sdk-billing",
        "gpt-test",
        "You answer billing questions.",
    )
    assert (agent.temperature, agent.max_output_tokens) == (0.2, 300)
    assert agent.tools == ("lookup_invoice",)
    spec = registry.get("lookup_invoice")
    assert spec.parameters == lookup_invoice.params_json_schema
    assert spec.description == "Look an invoice up by its id."
    assert agent.output_schema == agents.AgentOutputSchema(Verdict).json_schema()
    assert agent.handoff_description == "Invoices and payments."


def test_the_adopted_tool_body_is_the_sdks_own_invocation():
    registry = ToolRegistry()
    adopt(billing_agent(), registry)

    body = registry.get("lookup_invoice").fn

    assert asyncio.run(body(invoice_id="inv_7")) == "invoice inv_7: 42 EUR, paid"


def test_sdk_guardrails_become_runq_guardrails_that_see_the_typed_output():
    agent = adopt(billing_agent(), ToolRegistry())
    (guard_in,), (guard_out,) = agent.input_guardrails, agent.output_guardrails

    assert guard_in.name == "no_passwords" and guard_out.name == "confident_only"
    assert guard_in.check("my password is x") == Tripped("password")
    assert guard_in.check("hello") is None
    unsure = json.dumps({"answer": "maybe", "confident": False})
    assert guard_out.check(unsure) == Tripped({"confident": False})
    assert guard_out.check(json.dumps({"answer": "yes", "confident": True})) is None


def test_dynamic_instructions_are_called_with_the_runs_metadata_as_context():
    def instructions(ctx, agent):
        return f"You help {ctx.context['customer']}."

    agent = adopt(
        agents.Agent(name="sdk-dynamic", instructions=instructions, model="m"), ToolRegistry()
    )

    assert agent.instructions is None
    assert agent.instructions_for({"customer": "ACME"}) == "You help ACME."


def test_a_module_adopts_its_agents_and_the_agents_they_hand_off_to():
    billing = billing_agent()
    triage = agents.Agent(name="sdk-triage", instructions="Route.", model="m", handoffs=[billing])
    module = types.ModuleType("user_agents")
    module.triage = triage  # only the triage agent is a module global

    adopted = adopt_module_agents(module, ToolRegistry())

    assert [a.name for a in adopted] == ["sdk-triage", "sdk-billing"]
    assert adopted[0].handoffs == ("sdk-billing",)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tool_use_behavior": "stop_on_first_tool"}, "tool_use_behavior"),
        ({"model_settings": agents.ModelSettings(top_p=0.5)}, "model_settings.top_p"),
        ({"tools": [agents.WebSearchTool()]}, "tools[web_search]"),
        ({"handoffs": [agents.handoff(agents.Agent(name="x"))]}, "handoffs[x]"),
        ({"hooks": agents.AgentHooks()}, "hooks"),
        ({"model": agents.OpenAIResponsesModel("m", openai_client=None)}, "model"),
    ],
)
def test_what_runq_cannot_honour_is_refused_with_the_fields_name(change, field):
    sdk_agent = agents.Agent(name="sdk-odd", **{"model": "m", **change})

    with pytest.raises(ConfigError) as refused:
        adopt(sdk_agent, ToolRegistry())

    assert str(refused.value).startswith(f"Agents SDK agent 'sdk-odd': {field} is not supported")


def test_sdk_mcp_servers_become_runq_mcp_servers_and_other_kinds_are_refused():
    from agents.mcp import MCPServerSse, MCPServerStdio, MCPServerStreamableHttp

    http = MCPServerStreamableHttp(params={"url": "http://docs:8000/mcp"}, name="docs")
    stdio = MCPServerStdio(params={"command": "python", "args": ["-m", "files_mcp"]}, name="files")

    agent = adopt(
        agents.Agent(name="sdk-mcp", model="m", mcp_servers=[http, stdio]), ToolRegistry()
    )

    assert [(s.name, s.url, s.command) for s in agent.mcp_servers] == [
        ("docs", "http://docs:8000/mcp", ()),
        ("files", None, ("python", "-m", "files_mcp")),
    ]
    sse = MCPServerSse(params={"url": "http://old:8000/sse"}, name="old")
    with pytest.raises(ConfigError, match=r"mcp_servers\[old\] is not supported"):
        adopt(agents.Agent(name="sdk-mcp-old", model="m", mcp_servers=[sse]), ToolRegistry())


RESPONSE = {
    "id": "resp_guard",
    "object": "response",
    "created_at": 1,
    "model": "gpt-guard",
    "status": "completed",
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "output": [
        {
            "type": "message",
            "id": "msg_guard",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "yes, billing", "annotations": []}],
        }
    ],
    "usage": {
        "input_tokens": 21,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 26,
    },
}


class FakeMeter:
    """Records what a guardrail's model requests asked of the run's budgets."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.refused: str | None = None
        self.holds: list[tuple[str, int]] = []
        self.charged: list[tuple[str, str, int | None, int]] = []

    def before(self, model: str, prompt_tokens: int) -> str | None:
        if self.refuse is not None:
            self.refused = self.refuse
            return None
        self.holds.append((model, prompt_tokens))
        return f"hold{len(self.holds)}"

    def after(self, hold, model, input_tokens, output_tokens) -> None:
        self.charged.append((hold, model, input_tokens, output_tokens))


@pytest.fixture
def metered_sdk_client(monkeypatch):
    """The SDK's default client made runq's metered one, its requests answered here."""
    import httpx2
    from agents.models import _openai_shared

    from workers import sdk_agents

    sent = []

    def answer(request):
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=RESPONSE)

    monkeypatch.setattr(
        sdk_agents.METERED_TRANSPORT, "_inner", lambda: httpx2.MockTransport(answer)
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-guard-test")
    previous = _openai_shared.get_default_openai_client()
    _openai_shared.set_default_openai_client(None)
    sdk_agents.meter_default_client()
    yield sent
    _openai_shared.set_default_openai_client(previous)


def model_guardrail_agent():
    checker = agents.Agent(name="checker", instructions="Is this about billing?", model="gpt-guard")

    @agents.input_guardrail
    async def billing_only(ctx, agent, text):
        config = agents.RunConfig(tracing_disabled=True)
        result = await agents.Runner.run(checker, text, run_config=config)
        off_topic = not result.final_output.startswith("yes")
        return agents.GuardrailFunctionOutput(result.final_output, tripwire_triggered=off_topic)

    return agents.Agent(name="sdk-metered", model="m", input_guardrails=[billing_only])


def test_a_guardrails_own_model_request_is_held_and_charged_on_the_run(metered_sdk_client):
    from workers.guardrails import first_tripped

    agent = adopt(model_guardrail_agent(), ToolRegistry())
    meter = FakeMeter()

    assert first_tripped(agent.input_guardrails, "Refund invoice inv_7", meter) is None

    [(model, prompt_tokens)] = meter.holds
    assert model == "gpt-guard" and prompt_tokens > 0
    assert meter.charged == [("hold1", "gpt-guard", 21, 5)]
    assert [body["model"] for body in metered_sdk_client] == ["gpt-guard"]


def test_a_guardrails_request_over_budget_is_never_sent_and_the_run_fails_with_the_reason(
    metered_sdk_client,
):
    from workers.guardrails import first_tripped

    agent = adopt(model_guardrail_agent(), ToolRegistry())
    meter = FakeMeter(refuse="budget: key billing per day: $20.00 spent")

    reason = first_tripped(agent.input_guardrails, "Refund invoice inv_7", meter)

    assert reason == "guardrail 'billing_only': budget: key billing per day: $20.00 spent"
    assert metered_sdk_client == []  # nothing reached the provider
