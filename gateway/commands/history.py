"""`runq thread` and `runq usage`: what a thread said and what runs cost."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from config.exit_codes import ExitCode
from gateway.entry_errors import CommandFailed, guarded
from gateway.output import FIELD_CHARS, console, print_json, print_table, print_tool_call, shorten

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (every field, in full).")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(guarded(thread))
    app.command()(guarded(usage))


KeyNameOption = Annotated[
    str | None,
    typer.Option("--key", help="The API key that named the thread, when several keys use it."),
]


def thread(
    key: Annotated[str, typer.Argument(help="The thread's key (or its thr_… id).")],
    key_name: KeyNameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a thread's history: every run with its input, tool calls, answer and usage.

    A thread created over HTTP is found by the key its caller used (`user-42`)."""
    from gateway.preflight import load_agents
    from gateway.run_view import thread_history

    load_agents()  # the tools' secret_args, so their arguments print masked
    history = thread_history(key, key_name)
    if as_json:
        print_json(history)
        return
    console.print(Text(f"thread {history['id']} ({history['thread_key']})", style="bold"))
    for run in history["runs"]:
        console.print(Text(f"{run['created_at']:%F %T} user: ").append(shorten(run["input"], 200)))
        for call in run["tool_calls"]:
            print_tool_call(call)
        answer = shorten(run["result"] or run["error"] or "", FIELD_CHARS)
        console.print(Text(f"  assistant ({run['status']}): ").append(answer))
    _print_totals(history["usage"])


def usage(
    agent: Annotated[str | None, typer.Option(help="Only runs of this agent.")] = None,
    thread_key: Annotated[
        str | None, typer.Option(help="Only runs of this thread (its key, or its thr_… id).")
    ] = None,
    key_name: KeyNameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens and cost summed over runs: all, or per agent and/or thread.

    Exit 7 if the agent or thread is unknown."""
    from gateway import run_view
    from gateway.preflight import load_agents
    from workers.public.catalog import agent_names
    from workers.public.records import thread_store
    from workers.public.runtime import new_session

    thread_id = run_view.find_thread_id(thread_key, key_name) if thread_key is not None else None
    if agent is not None:
        load_agents()
        if agent not in agent_names() and not run_view.has_runs_of_agent(agent):
            known = ", ".join(agent_names()) or "none"
            raise CommandFailed(
                f"unknown agent {agent!r}: not declared and no runs (known: {known})",
                ExitCode.NOT_FOUND,
            )
    with new_session() as session:
        totals = thread_store.usage_totals(session, agent=agent, thread_id=thread_id)
    if as_json:
        print_json(totals)
        return
    _print_totals(totals)


def _print_totals(totals: dict[str, float]) -> None:
    rows = [
        (name, f"{value:.6f}" if name == "cost_usd" else str(value))
        for name, value in totals.items()
    ]
    print_table(("usage", "total"), rows)
