"""`runq enqueue`, `status`, `cancel`, `runs list`, `runs watch`: one run's life from outside
(a run that waits for a person: `gateway/commands/actions.py`).

Every command that reports a run exits with `exit_code_for_run(status)`: 0 only when the run
completed, so `runq enqueue … --wait && next-step` does what it reads like.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from config.exit_codes import ExitCode, exit_code_for_run
from gateway.entry_errors import CommandFailed, guarded
from gateway.output import print_json, print_run, print_table

if TYPE_CHECKING:
    from workers.public.schemas import JobCreate

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (every field, in full).")]
FullOption = Annotated[bool, typer.Option("--full", help="Do not shorten long fields.")]
WaitTimeout = Annotated[float, typer.Option(help="How long to wait before giving up (exit 6).")]
_POLL_S = 0.5

runs_app = typer.Typer(
    help="List runs, follow one to its end, and move on runs that wait for a person or for "
    "your tool outputs.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(guarded(enqueue))
    app.command()(guarded(status))
    app.command()(guarded(cancel))
    runs_app.command("list")(guarded(list_runs))
    runs_app.command("watch")(guarded(watch))
    app.add_typer(runs_app, name="runs")


AgentOption = Annotated[str, typer.Option(help="A declared agent (see `runq agents`).")]
InputOption = Annotated[str | None, typer.Option("--input", help="The user message.")]
InputFileOption = Annotated[
    Path | None, typer.Option(help="Read the user message from a file ('-': stdin).")
]
ThreadKeyOption = Annotated[
    str | None, typer.Option(help="Continue (or start) the thread of this user key.")
]
IdempotencyOption = Annotated[str | None, typer.Option(help="Same key, same run.")]
BatchOption = Annotated[str | None, typer.Option(help="Group runs under this id.")]
DeadlineOption = Annotated[
    float | None, typer.Option(help="End the run 'expired' after this many seconds.")
]
CacheOption = Annotated[
    bool | None, typer.Option("--cache/--no-cache", help="Use the response cache.")
]
HintOption = Annotated[
    str | None, typer.Option(help="cheap or strong, for agents with model routing.")
]
LaneOption = Annotated[
    str | None,
    typer.Option(
        help="interactive, standard, flex or batch (the run's slack); default: the agent's."
    ),
]
WaitOption = Annotated[bool, typer.Option(help="Wait for the run to end; exit with its code.")]
RunAtOption = Annotated[
    str | None,
    typer.Option(
        "--run-at",
        help="Start the run at this time, ISO 8601 with a zone (2026-12-24T09:00:00Z); "
        "it waits pending until then.",
    ),
]
MetadataOption = Annotated[
    list[str] | None,
    typer.Option("--metadata", help="Your own label KEY=VALUE, stored on the run (repeatable)."),
]


def enqueue(
    agent: AgentOption,
    input: InputOption = None,
    input_file: InputFileOption = None,
    thread_key: ThreadKeyOption = None,
    idempotency_key: IdempotencyOption = None,
    batch_id: BatchOption = None,
    deadline_s: DeadlineOption = None,
    cache: CacheOption = None,
    model_hint: HintOption = None,
    metadata: MetadataOption = None,
    run_at: RunAtOption = None,
    lane: LaneOption = None,
    wait: WaitOption = False,
    timeout_s: WaitTimeout = 300.0,
    as_json: JsonOption = False,
    full: FullOption = False,
) -> None:
    """Enqueue one run and print it (with --wait: its result, exit code by outcome)."""
    from config.settings import get_settings
    from gateway.preflight import require_agent, require_redis
    from workers.public.enqueue import enqueue_run
    from workers.public.runtime import new_session

    fields: dict[str, Any] = {"idempotency_key": idempotency_key, "thread_key": thread_key}
    fields |= {"cache": cache}
    fields |= {"batch_id": batch_id, "deadline_s": deadline_s, "model_hint": model_hint}
    fields |= {"metadata": parse_labels(metadata or []), "run_at": run_at, "lane": lane}
    job = _build_job(agent, read_input(input, input_file), fields)
    require_agent(agent)
    require_redis()
    with new_session() as session:
        run = enqueue_run(session, job, default_deadline_s=get_settings().runs.deadline_s)
    code = _report(run.id, as_json=as_json, full=full, wait=wait, timeout_s=timeout_s)
    # Without --wait, enqueueing was the whole job, and it succeeded.
    raise typer.Exit(code if wait else ExitCode.OK)


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """`--metadata KEY=VALUE` flags as a dict, or BAD_USAGE naming the one without `=`."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandFailed(f"invalid --metadata {pair!r}: write KEY=VALUE", ExitCode.BAD_USAGE)
        labels[key] = value
    return labels


def _build_job(agent: str, text: str, fields: dict[str, Any]) -> JobCreate:
    """The job, or BAD_USAGE naming the flag that is wrong."""
    from pydantic import ValidationError

    from workers.public.schemas import JobCreate

    try:
        return JobCreate(agent=agent, input=text, **fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = "--" + ".".join(str(part) for part in first["loc"]).replace("_", "-")
        raise CommandFailed(f"invalid {flag}: {first['msg']}", ExitCode.BAD_USAGE) from None


def status(
    run_id: Annotated[str, typer.Argument(help="The run id printed by enqueue.")],
    wait: Annotated[bool, typer.Option(help="Follow the run to its end.")] = False,
    timeout_s: WaitTimeout = 300.0,
    as_json: JsonOption = False,
    full: FullOption = False,
) -> None:
    """Show a run: status, result or error, usage, tool calls. Exit 0 only if it completed."""
    raise typer.Exit(_report(run_id, as_json=as_json, full=full, wait=wait, timeout_s=timeout_s))


def watch(
    run_id: Annotated[str, typer.Argument(help="The run to follow.")],
    timeout_s: WaitTimeout = 3600.0,
    as_json: JsonOption = False,
    full: FullOption = False,
) -> None:
    """Follow a run to its end, then show it (same as `status --wait`)."""
    raise typer.Exit(_report(run_id, as_json=as_json, full=full, wait=True, timeout_s=timeout_s))


def cancel(
    run_id: Annotated[str, typer.Argument(help="The run to cancel.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a run (recorded at once, and at the provider). Exit 10 if it had already ended."""
    from gateway.preflight import load_agents
    from gateway.run_view import describe_run
    from workers.public.cancel import cancel_run

    load_agents()
    cancelled = cancel_run(run_id)
    final = describe_run(run_id)["status"]
    if as_json:
        print_json({"id": run_id, "cancelled": cancelled, "status": final})
    elif cancelled:
        typer.echo(f"cancelled {run_id}")
    else:
        typer.echo(f"{run_id} had already ended ({final}); nothing to cancel")
    if not cancelled and final != "cancelled":
        raise typer.Exit(ExitCode.ALREADY_ENDED)


def list_runs(
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only runs of this agent.")] = None,
    thread_key: Annotated[str | None, typer.Option(help="Only runs of this thread.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The newest runs first, as a table."""
    from gateway import run_view

    runs = run_view.list_runs(status=status, agent=agent, thread_key=thread_key, limit=limit)
    if as_json:
        print_json(runs)
        return
    columns = ("id", "agent", "status", "thread", "created", "input")
    rows = [
        (r["id"], r["agent"], r["status"], r["thread_key"], f"{r['created_at']:%F %T}", r["input"])
        for r in runs
    ]
    print_table(columns, rows, title=f"{len(runs)} runs (newest first)")


def read_input(text: str | None, path: Path | None) -> str:
    if (text is None) == (path is None):
        raise CommandFailed(
            "give the input with exactly one of --input or --input-file", ExitCode.BAD_USAGE
        )
    if path is None:
        return str(text)
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(
            f"cannot read --input-file {path}: {exc.strerror}", ExitCode.BAD_USAGE
        ) from None


def _report(run_id: str, *, as_json: bool, full: bool, wait: bool, timeout_s: float) -> ExitCode:
    """Print the run (after following it, with `wait`); the exit code of its status."""
    from gateway.preflight import load_agents
    from gateway.run_view import describe_run

    load_agents()  # the tools' secret_args, so their arguments print masked
    described = describe_run(run_id)
    if wait:
        described = _follow(run_id, described, timeout_s)
    if as_json:
        print_json(described)
    else:
        print_run(described, full=full)
    code = exit_code_for_run(described["status"])
    if wait and code is ExitCode.TIMED_OUT:
        Console(stderr=True).print(
            f"timed out: {run_id} is still {described['status']} after {timeout_s:g} s; "
            f"follow it with `runq runs watch {run_id}`",
            highlight=False,
        )
    return code


def _follow(run_id: str, described: dict[str, object], timeout_s: float) -> dict[str, object]:
    from gateway.run_view import describe_run

    deadline = time.monotonic() + timeout_s
    stderr = Console(stderr=True, highlight=False)
    told_waiting = False
    with stderr.status(f"waiting for {run_id}…"):
        while exit_code_for_run(str(described["status"])) is ExitCode.TIMED_OUT:
            # A run that waits for a person or the caller goes on only when one of them acts:
            # say so once, or `--wait` would look stuck.
            if described["status"] == "requires_action" and not told_waiting:
                stderr.print(
                    f"{run_id} waits for approval or tool outputs: see `runq runs waiting`"
                )
            told_waiting = described["status"] == "requires_action"
            if time.monotonic() >= deadline:
                break
            time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
            described = describe_run(run_id)
    return described
