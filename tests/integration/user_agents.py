"""A user's own agent, as the README's "Your own agents and tools" declares one: a custom tool
with typed arguments, run offline through the simulator's #call directives."""

from __future__ import annotations

from typing import Annotated, Literal

from workers.agents import Agent, register_agent
from workers.tools.registry import tool


@tool(timeout_s=5, pure=True)
def lookup_order(
    order_id: Annotated[str, "The order number, e.g. A-1234"],
    quantity: Annotated[int, "How many items, 1 to 9"] = 1,
    channel: Literal["web", "phone"] = "web",
) -> dict[str, object]:
    """Look up an order's status and delivery date."""
    return {"order_id": order_id, "quantity": quantity, "channel": channel, "status": "shipped"}


for provider in ("responses", "chat", "assistants"):
    register_agent(
        Agent(
            name=f"support-{provider}",
            model="gpt-test",
            provider=provider,
            instructions="Answer order questions briefly.",
            tools=("lookup_order",),
            max_output_tokens=256,
        )
    )
