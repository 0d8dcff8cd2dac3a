"""`runq schedules create|list|show|pause|resume|delete`: the operator's cron schedules.

Schedules made here belong to no API key (as runs made by `runq enqueue` do); a key's own
schedules are managed over HTTP (`/v1/schedules`). Beat fires them (`celery -A config beat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from config.exit_codes import ExitCode
from gateway.commands.runs import (
    AgentOption,
    DeadlineOption,
    InputFileOption,
    InputOption,
    JsonOption,
    MetadataOption,
    ThreadKeyOption,
    parse_labels,
    read_input,
)
from gateway.entry_errors import CommandFailed, guarded
from gateway.output import print_fields, print_json, print_table

if TYPE_CHECKING:
    from workers.public.schedule_schemas import ScheduleCreate, SchedulePublic, ScheduleUpdate

OPERATOR = ""  # the owner of what the CLI creates: no API key
schedules_app = typer.Typer(
    help="Runs fired on a cron schedule (fired by beat, exactly once per tick).",
    no_args_is_help=True,
)
ScheduleId = Annotated[str, typer.Argument(help="The schedule's id (sch_…).")]


def register(app: typer.Typer) -> None:
    """Add the `schedules` group to `app`."""
    for name, command in (
        ("create", create),
        ("list", list_schedules),
        ("show", show),
        ("pause", pause),
        ("resume", resume),
        ("delete", delete),
    ):
        schedules_app.command(name)(guarded(command))
    app.add_typer(schedules_app, name="schedules")


def create(
    agent: AgentOption,
    cron: Annotated[
        str,
        typer.Option(
            help="When to fire: 5 fields (min hour day month weekday), or 6 with seconds "
            "first: '0 9 * * 1-5', '*/30 * * * * *'."
        ),
    ],
    input: InputOption = None,
    input_file: InputFileOption = None,
    timezone: Annotated[str, typer.Option(help="IANA zone the cron reads in.")] = "UTC",
    missed: Annotated[
        str, typer.Option(help="Ticks missed while down: skip | catch_up_once.")
    ] = "skip",
    overlap: Annotated[
        str, typer.Option(help="Previous run still going: skip | enqueue | cancel.")
    ] = "skip",
    thread_key: ThreadKeyOption = None,
    deadline_s: DeadlineOption = None,
    metadata: MetadataOption = None,
    paused: Annotated[bool, typer.Option(help="Create it paused (resume it later).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a schedule: the agent runs the input at every tick of the cron."""
    from gateway.preflight import require_agent
    from workers.public.runtime import new_session
    from workers.public.schedules import create_schedule

    fields: dict[str, Any] = {"cron": cron, "timezone": timezone, "missed": missed}
    fields |= {"overlap": overlap, "thread_key": thread_key, "deadline_s": deadline_s}
    fields |= {"metadata": parse_labels(metadata or []), "enabled": not paused}
    body = _build(agent, read_input(input, input_file), fields)
    require_agent(agent)
    with new_session() as session:
        _show(create_schedule(session, body, owner_key_id=OPERATOR), as_json)


def list_schedules(as_json: JsonOption = False) -> None:
    """The operator's schedules, oldest first, as a table."""
    from workers.public.runtime import new_session
    from workers.public.schedules import list_schedules as listed

    with new_session() as session:
        rows = listed(session, owner_key_id=OPERATOR)
    if as_json:
        print_json([row.model_dump(mode="json") for row in rows])
        return
    columns = ("id", "agent", "cron", "timezone", "enabled", "next fire", "last run")
    table = [
        (r.id, r.agent, r.cron, r.timezone, r.enabled, _when(r.next_fire_at), r.last_run_id)
        for r in rows
    ]
    print_table(columns, table, title=f"{len(rows)} schedules")


def show(schedule_id: ScheduleId, as_json: JsonOption = False) -> None:
    """One schedule: its run, cron, policies, next tick and what the last tick did."""
    from workers.public.runtime import new_session
    from workers.public.schedules import show_schedule

    with new_session() as session:
        _show(show_schedule(session, owner_key_id=OPERATOR, schedule_id=schedule_id), as_json)


def pause(schedule_id: ScheduleId, as_json: JsonOption = False) -> None:
    """Stop firing until resumed (ticks that pass meanwhile are not fired)."""
    from workers.public.schedule_schemas import ScheduleUpdate

    _update(schedule_id, ScheduleUpdate(enabled=False), as_json)


def resume(schedule_id: ScheduleId, as_json: JsonOption = False) -> None:
    """Fire again, from the next tick on."""
    from workers.public.schedule_schemas import ScheduleUpdate

    _update(schedule_id, ScheduleUpdate(enabled=True), as_json)


def delete(schedule_id: ScheduleId) -> None:
    """Delete the schedule; the runs it fired stay."""
    from workers.public.runtime import new_session
    from workers.public.schedules import delete_schedule

    with new_session() as session:
        delete_schedule(session, owner_key_id=OPERATOR, schedule_id=schedule_id)
    typer.echo(f"deleted {schedule_id}")


def _update(schedule_id: str, change: ScheduleUpdate, as_json: bool) -> None:
    from workers.public.runtime import new_session
    from workers.public.schedules import update_schedule

    with new_session() as session:
        changed = update_schedule(session, change, owner_key_id=OPERATOR, schedule_id=schedule_id)
    _show(changed, as_json)


def _build(agent: str, text: str, fields: dict[str, Any]) -> ScheduleCreate:
    """The schedule body, or BAD_USAGE naming the flag that is wrong."""
    from pydantic import ValidationError

    from workers.public.schedule_schemas import ScheduleCreate

    try:
        return ScheduleCreate(agent=agent, input=text, **fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = "--" + ".".join(str(part) for part in first["loc"]).replace("_", "-")
        raise CommandFailed(f"invalid {flag}: {first['msg']}", ExitCode.BAD_USAGE) from None


def _show(schedule: SchedulePublic, as_json: bool) -> None:
    if as_json:
        print_json(schedule.model_dump(mode="json"))
    else:
        print_fields(schedule.model_dump())


def _when(moment: Any) -> str:
    return "" if moment is None else f"{moment:%F %T}Z"
