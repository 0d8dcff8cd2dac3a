"""`runq runs approve | reject | waiting | submit-outputs`: move on a run that waits.

The command line is the operator: it sees every run (of every API key) and its decisions
are recorded as made by the operator (`decided_by` ""). Each command records the decision
in one transaction, then sends what runs next (the turn's tools or its submit) to the
broker, so it checks Redis first: a decision recorded with no way to send it would wait for
the recovery sweep instead of running now.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from config.exit_codes import ExitCode
from gateway.commands.runs import JsonOption, runs_app
from gateway.entry_errors import CommandFailed, guarded
from gateway.output import print_json, print_table

if TYPE_CHECKING:
    from workers.public.runtime import Next

OPERATOR = ""  # `decided_by` of the operator's decisions (an API key id for HTTP callers)

RunArgument = Annotated[str, typer.Argument(help="The run that waits (see `runq runs waiting`).")]
CallArgument = Annotated[str, typer.Argument(help="The tool call's id (call_…).")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to `runq runs` (`app` already holds that group)."""
    runs_app.command("approve")(guarded(approve))
    runs_app.command("reject")(guarded(reject))
    runs_app.command("waiting")(guarded(waiting))
    runs_app.command("submit-outputs")(guarded(submit_outputs))


def approve(
    run_id: RunArgument,
    call_id: CallArgument,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the decision).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a tool call that waits for a person: it runs (once) when no other call of the
    turn waits. Exit 7 for an unknown run or call, 10 if the call no longer waits."""
    _decide(run_id, call_id, approve=True, reason=reason, as_json=as_json)


def reject(
    run_id: RunArgument,
    call_id: CallArgument,
    reason: Annotated[str, typer.Option(help="Why; the model is told this as the call's output.")],
    as_json: JsonOption = False,
) -> None:
    """Reject a tool call that waits for a person: it never runs, and the model is told it
    was rejected and why. Exit 7 for an unknown run or call, 10 if the call no longer waits."""
    if not reason.strip():
        raise CommandFailed(
            "a rejection needs a --reason: the model is told it", ExitCode.BAD_USAGE
        )
    _decide(run_id, call_id, approve=False, reason=reason, as_json=as_json)


def waiting(
    agent: Annotated[str | None, typer.Option(help="Only runs of this agent.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Runs in requires_action and their waiting calls (arguments masked): each waits for a
    person's approval (`runs approve|reject`) or the caller's output (`runs submit-outputs`).
    The wait that runs out first is listed first."""
    from gateway.preflight import load_agents
    from gateway.run_view import waiting_runs

    load_agents()  # the tools' secret_args, so their arguments print masked
    runs = waiting_runs(agent=agent, limit=limit)
    if as_json:
        print_json(runs)
        return
    if not runs:
        typer.echo("no run waits for an approval or tool outputs")
        return
    # The agent and when each wait runs out are in --json: a table this wide already folds.
    columns = ("run", "call", "tool", "waits for", "arguments")
    rows = [
        (run["id"], c["call_id"], c["name"], c["waits_for"], c["arguments"])
        for run in runs
        for c in run["waiting"]
    ]
    print_table(columns, rows, title=f"{len(runs)} runs wait ({len(rows)} tool calls)")


OutputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--output", help="CALL_ID=TEXT: one waiting call's output (repeat for each call)."
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help='A JSON file of outputs ("-": stdin): {"call_…": "output", …}, or the HTTP body '
        '{"tool_outputs": [{"tool_call_id": …, "output": …}]}.',
    ),
]


def submit_outputs(
    run_id: RunArgument,
    output: OutputOption = None,
    file: FileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit the outputs of the tool calls the run waits for the caller to run, all of the
    turn's at once. Exit 2 if they are not exactly the waiting calls, 7 for an unknown run or
    call, 10 if the run does not wait for outputs."""
    from gateway.preflight import load_agents, require_redis
    from workers.public.actions import submit_tool_outputs

    outputs = _read_outputs(output or [], file)
    load_agents()
    require_redis()
    _send(submit_tool_outputs(run_id, outputs, by=OPERATOR), run_id)
    _report(run_id, f"submitted {len(outputs)} tool outputs", as_json, {"submitted": outputs})


def _decide(run_id: str, call_id: str, *, approve: bool, reason: str | None, as_json: bool) -> None:
    from gateway.preflight import load_agents, require_redis
    from workers.public.actions import decide_tool_call

    load_agents()
    require_redis()
    verdict = "approved" if approve else "rejected"
    decided = decide_tool_call(run_id, call_id, approve=approve, by=OPERATOR, reason=reason)
    _send(decided, run_id)
    extra = {"call_id": call_id, "decision": verdict, "reason": reason}
    _report(run_id, f"{verdict} {call_id}", as_json, extra)


def _send(next_step: Next, run_id: str) -> None:
    """Send what runs next. The decision is already committed: if the broker refuses the
    message now, the run is overdue in requires_tools and the recovery sweep sends it."""
    from kombu.exceptions import OperationalError

    from tasks.next_step import send

    try:
        send(next_step)
    except (OperationalError, OSError) as exc:
        raise CommandFailed(
            f"recorded, but the broker did not take the next step of {run_id} ({exc}); the "
            "recovery sweep (celery beat) sends it once the broker answers",
            ExitCode.UNREACHABLE,
        ) from exc


def _report(run_id: str, done: str, as_json: bool, extra: dict[str, Any]) -> None:
    """What the run does now: its status and the calls that still wait."""
    from gateway.run_view import describe_run, waiting_calls_of

    described = describe_run(run_id)
    still = waiting_calls_of(described["tool_calls"])
    if as_json:
        print_json({"id": run_id, **extra, "status": described["status"], "waiting": still})
        return
    if still:
        names = ", ".join(f"{c['call_id']} ({c['name']}, {c['waits_for']})" for c in still)
        typer.echo(f"{done}; {run_id} still waits for {names}")
    else:
        typer.echo(f"{done}; {run_id} goes on ({described['status']})")


def _read_outputs(pairs: list[str], path: Path | None) -> list[tuple[str, str]]:
    """(call id, output) from `--output` flags or a file (exactly one of them), checked as
    the HTTP API checks them; BAD_USAGE naming what is wrong."""
    from workers.public.schemas import ToolOutputs

    if bool(pairs) == (path is not None):
        raise CommandFailed(
            "give the outputs with --output CALL_ID=TEXT (repeatable) or with --file, not both",
            ExitCode.BAD_USAGE,
        )
    items = _parse_pairs(pairs) if pairs else _load_file(path)
    checked = ToolOutputs.model_validate({"tool_outputs": items})
    return [(item.tool_call_id, item.output) for item in checked.tool_outputs]


def _parse_pairs(pairs: list[str]) -> list[dict[str, str]]:
    items = []
    for pair in pairs:
        call_id, sep, text = pair.partition("=")
        if not sep or not call_id:
            raise CommandFailed(
                f"invalid --output {pair!r}: write CALL_ID=TEXT", ExitCode.BAD_USAGE
            )
        items.append({"tool_call_id": call_id, "output": text})
    return items


def _load_file(path: Path | None) -> Any:
    """The file's outputs as HTTP's `tool_outputs` list. An output that is not a string is
    sent as its JSON text: tool outputs are strings, and JSON is what tools return."""
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(str(path)).read_text("utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise CommandFailed(
            f"cannot read --file {path}: {exc.strerror}", ExitCode.BAD_USAGE
        ) from None
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"--file {path} is not JSON: {exc}", ExitCode.BAD_USAGE) from None
    if isinstance(data, dict) and "tool_outputs" in data:
        return data["tool_outputs"]
    if not isinstance(data, dict):
        raise CommandFailed(
            f'--file {path} must hold {{"call_…": "output", …}} or {{"tool_outputs": […]}}',
            ExitCode.BAD_USAGE,
        )
    return [
        {"tool_call_id": call_id, "output": out if isinstance(out, str) else json.dumps(out)}
        for call_id, out in data.items()
    ]
