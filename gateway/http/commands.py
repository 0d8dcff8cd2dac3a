"""`runq serve` and `runq keys …`: the HTTP API's commands (`register(app)`, as every
command group in gateway/commands does)."""

from __future__ import annotations

import json
import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from config.exit_codes import ExitCode
from gateway.entry_errors import guarded

if TYPE_CHECKING:
    from workers.public.records import key_store

    KeyBudget = key_store.KeyBudget

console = Console()
keys_app = typer.Typer(help="API keys for the HTTP API (stored hashed).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `serve` and the `keys` group to `app`."""
    app.command()(guarded(serve))
    keys_app.command("create")(guarded(create_key))
    keys_app.command("list")(guarded(list_keys))
    keys_app.command("revoke")(guarded(revoke_key))
    keys_app.command("budget")(guarded(budget_key))
    keys_app.command("share")(guarded(share_key))
    app.add_typer(keys_app, name="keys")
    app.command("spend")(guarded(show_spend))


MaxUsd = Annotated[
    float | None, typer.Option("--max-usd", help="Dollar budget of the key's runs in all.")
]
MaxUsdDay = Annotated[
    float | None, typer.Option("--max-usd-day", help="Dollar budget per UTC day.")
]
MaxUsdMonth = Annotated[
    float | None, typer.Option("--max-usd-month", help="Dollar budget per UTC month.")
]
OnBudget = Annotated[
    str,
    typer.Option(
        "--on-budget",
        help='A turn that does not fit: "fail" its run (reason budget) or "wait" for room.',
    ),
]


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (/v1/runs, /docs) on the store and broker of this environment."""
    import uvicorn

    from gateway.preflight import require_deployable, require_redis
    from workers.public.runtime import format_process_logs

    format_process_logs()
    require_deployable()  # outside dev: a real provider key and signing secret (exit 9)
    # No default broker in any environment: runs, events and /wait all go through it.
    require_redis()  # unset: exit 9; not answering: exit 8 (one line each)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler it
    # found: with the default one the process dies by the signal (exit -15), and a supervisor
    # counts a clean stop as a crash. A handler that exits 0 makes the clean stop say so.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # log_config=None: uvicorn's access and error lines go to the root handler set up above,
    # in runq's format and through the secret scrubber (its own config bypassed both).
    uvicorn.run(
        "gateway.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
    )


def _exit_cleanly(signum: int, _: FrameType | None) -> None:
    raise SystemExit(0)


def create_key(
    name: Annotated[str, typer.Argument(help="Who uses the key, e.g. billing-service.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="What the key may do: submit (start, cancel runs), read (see runs, threads, "
            "events), admin (everything). Repeatable; default: submit and read.",
        ),
    ] = None,
    max_usd: MaxUsd = None,
    max_usd_day: MaxUsdDay = None,
    max_usd_month: MaxUsdMonth = None,
    on_budget: OnBudget = "fail",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from gateway.entry_errors import CommandFailed
    from workers.errors import ConfigError
    from workers.public.records import key_store
    from workers.public.runtime import new_session

    budget = key_store.KeyBudget(max_usd, max_usd_day, max_usd_month, on_budget)
    try:
        budget.checked()
    except ConfigError as exc:
        raise CommandFailed(str(exc), ExitCode.BAD_USAGE) from exc
    try:
        with new_session() as session:
            row, key = key_store.create_key(
                session, name=name, scopes=scope or key_store.DEFAULT_SCOPES, budget=budget
            )
    except ConfigError as exc:  # the name is taken: one line (JSON with --json), exit 2
        message = f"{exc}; a key is shown only once: use the one you saved, or `runq keys "
        message += f"revoke {name}` and create it again"
        raise CommandFailed(message, ExitCode.BAD_USAGE) from exc
    if as_json:
        typer.echo(json.dumps({"name": row.name, "key": key, "scopes": row.scopes.split(",")}))
        return
    console.print(f"key [bold]{row.name}[/] ({row.scopes}) created; it is shown only now:")
    typer.echo(key)


def list_keys(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every key: name, shown prefix, scopes, dollar budgets, created, revoked."""
    from workers.public.records import key_store
    from workers.public.runtime import new_session

    with new_session() as session:
        rows = key_store.list_keys(session)
    if as_json:
        listed = [
            {
                "name": r.name,
                "prefix": r.prefix,
                "scopes": r.scopes.split(","),
                "created_at": r.created_at,
                "revoked_at": r.revoked_at,
                "max_usd": r.max_usd,
                "max_usd_day": r.max_usd_day,
                "max_usd_month": r.max_usd_month,
                "on_budget": r.on_budget,
            }
            for r in rows
        ]
        typer.echo(json.dumps(listed, default=str))
        return
    table = Table("name", "prefix", "scopes", "budget", "created", "revoked")
    for r in rows:
        budget = _budget_text(key_store.budget_of(r))
        created, revoked = str(r.created_at), str(r.revoked_at or "")
        table.add_row(r.name, r.prefix + "…", r.scopes, budget, created, revoked)
    console.print(table)


def revoke_key(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key: its next request answers 401."""
    from workers.public.records import key_store
    from workers.public.runtime import new_session

    with new_session() as session:
        revoked = key_store.revoke_key(session, name=name)
    if not revoked:
        console.print(f"[red]no live key called {name!r}[/] (see `runq keys list`)")
        raise typer.Exit(ExitCode.NOT_FOUND)
    console.print(f"key {name} revoked")


def budget_key(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    max_usd: MaxUsd = None,
    max_usd_day: MaxUsdDay = None,
    max_usd_month: MaxUsdMonth = None,
    on_budget: OnBudget = "fail",
) -> None:
    """Set a key's dollar budgets (a limit left out is removed); its next turns use them."""
    from gateway.entry_errors import CommandFailed
    from workers.errors import ConfigError
    from workers.public.records import key_store
    from workers.public.runtime import new_session

    budget = key_store.KeyBudget(max_usd, max_usd_day, max_usd_month, on_budget)
    try:
        with new_session() as session:
            row = key_store.set_budget(session, name=name, budget=budget)
    except ConfigError as exc:
        raise CommandFailed(str(exc), ExitCode.BAD_USAGE) from exc
    if row is None:
        console.print(f"[red]no live key called {name!r}[/] (see `runq keys list`)")
        raise typer.Exit(ExitCode.NOT_FOUND)
    console.print(f"key {name}: {_budget_text(budget)}")


def _budget_text(budget: KeyBudget) -> str:
    limits = [
        f"{label} ${value:.2f}"
        for label, value in (
            ("in all", budget.max_usd),
            ("per day", budget.max_usd_day),
            ("per month", budget.max_usd_month),
        )
        if value is not None
    ]
    return (", ".join(limits) or "no limits") + f"; over budget: {budget.on_budget}"


def show_spend(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Dollars spent and held per key (in all, per UTC day and month) and per agent and day."""
    from dataclasses import asdict

    from workers.public.runtime import new_session
    from workers.public.spend import fleet_spend

    with new_session() as session:
        lines = fleet_spend(session)
    if as_json:
        typer.echo(json.dumps([asdict(line) for line in lines]))
        return
    table = Table("scope", "spent $", "held $", "limit $")
    for line in lines:
        limit = "" if line.limit_usd is None else f"{line.limit_usd:.2f}"
        table.add_row(line.scope, f"{line.spent_usd:.4f}", f"{line.held_usd:.4f}", limit)
    console.print(table)


def share_key(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    weight: Annotated[
        int | None, typer.Option("--weight", help="Slots in proportion to this (at least 1).")
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option("--max-concurrent", help="Never more of its runs in flight (at least 1)."),
    ] = None,
    no_cap: Annotated[bool, typer.Option("--no-cap", help="Remove the key's cap.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show or set a key's fair share: its weight and cap on runs in flight (they act while
    RUNQ_RUNS_IN_FLIGHT_TARGET is set)."""
    from gateway.entry_errors import CommandFailed
    from workers.public import shares
    from workers.public.runtime import new_session

    if no_cap and max_concurrent is not None:
        raise CommandFailed("give --max-concurrent or --no-cap, not both", ExitCode.BAD_USAGE)
    # A weight or cap below 1 (exit 2) and an unknown key (exit 7) are runq errors: `guarded`
    # prints their one line.
    with new_session() as session:
        if weight is None and max_concurrent is None and not no_cap:
            share = shares.read_share(session, name=name)
        else:
            share = shares.set_share(
                session, name=name, weight=weight, cap=max_concurrent, clear_cap=no_cap
            )
    if as_json:
        typer.echo(share.model_dump_json())
        return
    cap = share.max_concurrent_runs or "none"
    target = share.in_flight_target or "off (RUNQ_RUNS_IN_FLIGHT_TARGET=0)"
    console.print(
        f"key {share.key}: weight {share.weight}, cap {cap}; {share.in_flight} in flight, "
        f"{share.waiting} waiting; fleet target {target}"
    )
