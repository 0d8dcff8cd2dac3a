"""Loading the user's agent modules: their runq agents and tools, the Agents SDK agents they
declare, and the check that every handoff names an agent that exists."""

from __future__ import annotations

from collections.abc import Iterable

from workers.agents import check_handoffs, import_agent_modules
from workers.sdk_agents import adopt_module_agents


def load_agent_modules(modules: Iterable[str]) -> None:
    """Import `modules` (none: the demo agent), adopt their Agents SDK agents, check handoffs.
    Raises ConfigError for an SDK feature runq cannot run or a handoff to an unknown agent."""
    for module in import_agent_modules(modules):
        adopt_module_agents(module)
    check_handoffs()
