"""What `runq` prints: JSON for scripts, short lines and tables for people.

Human output is bounded: every value is cut to a few hundred characters before rich sees it
(rich lays out a 100,000-character word in minutes), with a note saying how to see it all.
User text is printed literally, never read as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=True)

FIELD_CHARS = 200
CELL_CHARS = 60
FULL_HINT = "(long fields shortened; see everything with --full or --json)"


def shorten(value: object, limit: int) -> str:
    """`value` as one line of at most about `limit` characters, saying how much was cut."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} chars)"


def print_json(data: object) -> None:
    """`data` as indented JSON on stdout (not through rich, which would re-wrap long strings)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def print_fields(fields: Mapping[str, Any], *, full: bool = False) -> bool:
    """`key: value` lines; returns True when a value was shortened."""
    cut = False
    for key, value in fields.items():
        text = _as_text(value)
        cut = cut or (not full and len(text) > FIELD_CHARS)
        shown = text if full else shorten(text, FIELD_CHARS)
        console.print(Text(f"{key}: ", style="bold").append(shown))
    return cut


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None
) -> None:
    """A table; every cell is cut to CELL_CHARS characters."""
    table = Table(title=title, show_header=True, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(shorten("" if cell is None else cell, CELL_CHARS)) for cell in row))
    console.print(table)


def print_run(described: Mapping[str, Any], *, full: bool = False) -> None:
    """A run as `key: value` lines, then its tool calls, one line each."""
    fields = {key: value for key, value in described.items() if key != "tool_calls"}
    cut = print_fields(fields, full=full)
    for call in described["tool_calls"]:
        cut = print_tool_call(call, full=full) or cut
    if described["status"] == "requires_action":
        print_waiting_hint(described["id"], described["tool_calls"])
    if cut:
        console.print(Text(FULL_HINT, style="dim"))


def print_waiting_hint(run_id: str, calls: Iterable[Mapping[str, Any]]) -> None:
    """What a run in requires_action waits for, and the command that moves it on."""
    for call in calls:
        if call["status"] == "awaiting_approval":
            command = f"runq runs approve {run_id} {call['call_id']}  (or: runs reject … --reason)"
            console.print(Text(f"waits for approval of {call['name']}: {command}"))
        elif call["status"] == "awaiting_output":
            command = f"runq runs submit-outputs {run_id} --output {call['call_id']}=TEXT"
            console.print(Text(f"waits for the output of {call['name']}: {command}"))


def print_tool_call(call: Mapping[str, Any], *, indent: str = "  ", full: bool = False) -> bool:
    """`name(arguments) -> status: output` on one line; True when something was shortened."""
    limit = 10**9 if full else CELL_CHARS
    arguments, output = str(call["arguments"]), str(call.get("output") or "")
    line = Text(f"{indent}tool {call['name']}({shorten(arguments, limit)}) -> {call['status']}")
    if call.get("decision"):
        reason = call.get("decision_reason")
        line.append(f" ({call['decision']}{': ' + shorten(reason, limit) if reason else ''})")
    if output:
        line.append(f": {shorten(output, limit)}")
    console.print(line)
    return len(arguments) > limit or len(output) > limit


def print_transcript(described: Mapping[str, Any], *, full: bool = False) -> None:
    """One run as a conversation: the user's input, each tool call, the answer."""
    limit = 10**9 if full else FIELD_CHARS
    console.print(Text("user: ", style="bold").append(shorten(described["input"], limit)))
    for call in described["tool_calls"]:
        print_tool_call(call, full=full)
    answer = described["result"] or described["error"] or ""
    speaker = f"assistant ({described['status']}): "
    console.print(Text(speaker, style="bold").append(shorten(answer, limit)))
