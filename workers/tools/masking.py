"""Tool arguments declared secret (`@tool(secret_args=...)`) as they leave the worker.

The row keeps the real arguments (the tool runs from it, the model's conversation holds
them), so every door that shows a call masks it on the way out: the HTTP API and its event
stream, callbacks, the CLI and the dashboard. A tool this process does not know (its module
is not in RUNQ_AGENT_MODULES here, or the model made the name up) could have secret
arguments: every value of it is masked, its argument names stay. Pure.
"""

from __future__ import annotations

import json
from typing import Any

from workers.tools.registry import ToolRegistry, default_registry

SECRET_MASK = "***"
_SHORTEST_SCRUBBED = 4
"""Secret values shorter than this are not searched for in free text (too many false hits;
the argument itself is still masked)."""


def secret_names(tool: str, registry: ToolRegistry | None = None) -> frozenset[str] | None:
    """The tool's secret argument names; None when this process does not know the tool."""
    registry = default_registry if registry is None else registry
    return registry.get(tool).secret_args if tool in registry else None


def masked_arguments(tool: str, arguments: str, registry: ToolRegistry | None = None) -> str:
    """The call's JSON arguments with secret values replaced by `***`."""
    secret = secret_names(tool, registry)
    if secret == frozenset():
        return arguments
    try:
        parsed: Any = json.loads(arguments)
    except ValueError:
        return SECRET_MASK  # unreadable, so nothing in it can be shown safely
    if not isinstance(parsed, dict):
        return SECRET_MASK
    return json.dumps(
        {k: SECRET_MASK if secret is None or k in secret else v for k, v in parsed.items()}
    )


def scrubbed_text(
    text: str | None, tool: str, arguments: str, registry: ToolRegistry | None = None
) -> str | None:
    """`text` (a call's output or error) with the secret argument values the tool echoed
    replaced by `***`: a validation error or a tool's own message may quote them."""
    if text is None:
        return None
    for value in _secret_values(tool, arguments, registry):
        text = text.replace(value, SECRET_MASK)
    return text


def _secret_values(tool: str, arguments: str, registry: ToolRegistry | None) -> list[str]:
    secret = secret_names(tool, registry)
    if secret == frozenset():
        return []
    try:
        parsed: Any = json.loads(arguments)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    values = []
    for name, value in parsed.items():
        if secret is None or name in secret:
            shown = value if isinstance(value, str) else json.dumps(value)
            if len(shown) >= _SHORTEST_SCRUBBED:
                values.append(shown)
    return sorted(values, key=len, reverse=True)  # the longest first: no partial leftovers
