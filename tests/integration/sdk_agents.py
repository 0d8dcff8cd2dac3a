"""Agents SDK definitions, unchanged, that the integration fleet runs (RUNQ_AGENT_MODULES).

The simulator's scripted model follows the `#call=` directives in the question, calling only
the tools it is offered: the triage agent hands off to billing, then billing looks the
invoice up. The SDK's `Runner.run` and runq get the same model turns, so their transcripts
can be compared. Each lookup appends a line to the chaos bench's executions file (when set),
so a test can count how often each ran.
"""

from __future__ import annotations

import os

from agents import (
    Agent,
    GuardrailFunctionOutput,
    ModelSettings,
    RunConfig,
    Runner,
    function_tool,
    input_guardrail,
    output_guardrail,
)
from pydantic import BaseModel

from bench.chaos_agents import EXECUTIONS_FILE_ENV


class InvoiceAnswer(BaseModel):
    """What the billing agent answers."""

    summary: str
    invoice_id: str


@function_tool
def sdk_lookup_invoice(invoice_id: str) -> str:
    """Look an invoice up by its id."""
    executions = os.environ.get(EXECUTIONS_FILE_ENV)
    if executions:
        with open(executions, "a") as log:
            log.write(f"sdk_lookup_invoice {invoice_id}\n")
    return f"invoice {invoice_id}: 42 EUR, paid on 2026-11-30"


@input_guardrail
def no_passwords(ctx, agent, text):  # type: ignore[no-untyped-def]
    """Trips when the question holds a password."""
    found = "password" in str(text).lower()
    return GuardrailFunctionOutput(output_info={"found": "password"}, tripwire_triggered=found)


@output_guardrail
def no_card_numbers(ctx, agent, output: InvoiceAnswer):  # type: ignore[no-untyped-def]
    """Trips when the answer would show a card number."""
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="4111" in output.summary)


billing = Agent(
    name="sdk_billing",
    handoff_description="Invoices, payments and refunds.",
    instructions="You answer billing questions.",
    model="gpt-test",
    model_settings=ModelSettings(max_tokens=256),
    tools=[sdk_lookup_invoice],
    output_type=InvoiceAnswer,
    output_guardrails=[no_card_numbers],
)

triage = Agent(
    name="sdk_triage",
    instructions="You route each question to the right agent.",
    model="gpt-test",
    model_settings=ModelSettings(max_tokens=256),
    handoffs=[billing],
    input_guardrails=[no_passwords],
)


checker = Agent(
    name="sdk_checker", instructions="Say whether this is about billing.", model="gpt-budget"
)


@input_guardrail
async def billing_topic(ctx, agent, text):  # type: ignore[no-untyped-def]
    """Asks a model (the checker agent) first: its request goes through runq's meter."""
    result = await Runner.run(checker, text, run_config=RunConfig(tracing_disabled=True))
    return GuardrailFunctionOutput(output_info=result.final_output, tripwire_triggered=False)


checked = Agent(
    name="sdk_checked",
    instructions="You answer billing questions.",
    model="gpt-budget",
    model_settings=ModelSettings(max_tokens=64),
    input_guardrails=[billing_topic],
)
