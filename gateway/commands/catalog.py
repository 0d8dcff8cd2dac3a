"""`runq agents` and `runq tools`: what this configuration declares (RUNQ_AGENT_MODULES)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from gateway.entry_errors import guarded
from gateway.output import console, print_json, print_table

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (every field, in full).")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(guarded(agents))
    app.command()(guarded(tools))


def agents(as_json: JsonOption = False) -> None:
    """The declared agents: model, provider, tools."""
    from gateway.preflight import load_agents
    from workers.public.catalog import agent_names, get_agent

    load_agents()
    declared = [get_agent(name) for name in agent_names()]
    rows = [
        {
            "name": agent.name,
            "model": agent.model,
            "provider": agent.provider,
            "tools": list(agent.tools),
            "structured": agent.output_schema is not None,
            "cacheable": agent.cacheable,
        }
        for agent in declared
    ]
    if as_json:
        print_json(rows)
        return
    columns = ("name", "model", "provider", "tools", "structured", "cacheable")
    print_table(columns, [[_cell(row[c]) for c in columns] for row in rows], title="agents")


def tools(
    schemas: Annotated[bool, typer.Option(help="Print each tool's JSON schema.")] = True,
    as_json: JsonOption = False,
) -> None:
    """The registered tools: description, options and the JSON schema the model sees."""
    from gateway.preflight import load_agents
    from workers.public.catalog import default_registry

    load_agents()
    specs = [default_registry.get(name) for name in default_registry.names()]
    rows = [
        {
            "name": spec.name,
            "description": spec.description,
            "timeout_s": spec.timeout_s,
            "retryable": spec.retryable,
            "pure": spec.pure,
            "parameters": spec.parameters,
        }
        for spec in specs
    ]
    if as_json:
        print_json(rows)
        return
    columns = ("name", "timeout_s", "retryable", "pure", "description")
    print_table(columns, [[_cell(row[c]) for c in columns] for row in rows], title="tools")
    for row in rows if schemas else []:
        console.print(f"[bold]{row['name']}[/] parameters:")
        typer.echo(json.dumps(row["parameters"], indent=2))


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)
