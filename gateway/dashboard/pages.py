"""Server-rendered HTML for the dashboard: f-strings, every value through `html.escape`,
no JavaScript and no build step. The front page refreshes itself every 5 seconds; the run
page does not, so a reason being typed into a Reject form is not lost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import quote

from gateway.dashboard.snapshot import BudgetRow, Overview, RunRow, WaitingRow, shown_arguments
from workers.public.catalog import scrubbed_text
from workers.public.records import Run, ToolCall

STATUSES = ("pending", "in_progress", "requires_tools", "requires_action", "submitting")
TERMINAL = ("completed", "failed", "cancelled", "expired")
_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
.failed,.expired{color:#b00020}.completed{color:#0a7d32}.cancelled{color:#777}
.error{max-width:40rem;white-space:pre-wrap}
.requires_action,.awaiting_approval,.awaiting_output{background:#fff6d6}
#notice{border:1px solid #b00020;padding:.5rem;max-width:40rem}
form{display:inline;margin-right:.5rem}.actions{white-space:nowrap}
"""


def _page(title: str, body: str, refresh_s: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _table(headers: Iterable[str], rows: Iterable[str], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f'<table id="{table_id}"><tr>{head}</tr>{"".join(rows)}</table>'


def _cells(*values: object, css: str = "") -> str:
    cls = f' class="{escape(css)}"' if css else ""
    return f"<tr{cls}>" + "".join(f"<td>{escape(str(v))}</td>" for v in values) + "</tr>"


def _run_row(row: RunRow) -> str:
    link = f'<a href="runs/{escape(row.run_id)}">{escape(row.run_id)}</a>'
    error = escape((row.error or "")[:120])
    return (
        f'<tr class="{escape(row.status)}" data-run-id="{escape(row.run_id)}"><td>{link}</td>'
        f'<td class="status">{escape(row.status)}</td><td>{escape(row.agent)}</td>'
        f"<td>{row.duration_s:.1f}s</td><td>{row.turns}</td><td>{row.tool_calls}</td>"
        f'<td>${row.cost_usd:.4f}</td><td class="error">{error}</td></tr>'
    )


def _budget_row(row: BudgetRow) -> str:
    def left(value: float | None) -> str:
        return "full" if value is None else f"{value:.0f}"

    paused = "paused (429)" if row.paused else ""
    return _cells(
        row.model,
        row.requests_per_min,
        row.tokens_per_min,
        left(row.requests_left),
        left(row.tokens_left),
        paused,
    )


def _waiting_row(row: WaitingRow) -> str:
    link = f'<a href="runs/{quote(row.run_id)}">{escape(row.run_id)}</a>'
    due = row.due_at.isoformat() if row.due_at else "-"
    cells = (row.agent, row.call_id, row.tool, row.waits_for, row.arguments, due)
    return (
        f'<tr class="requires_action" data-run-id="{escape(row.run_id)}"><td>{link}</td>'
        + "".join(f"<td>{escape(str(v))}</td>" for v in cells)
        + "</tr>"
    )


def render_overview(view: Overview) -> str:
    """The front page: counts, latest runs, budget, cache and breakers."""
    counts = view.by_status_last_hour
    status_rows = [_cells(s, counts.get(s, 0), css=s) for s in (*STATUSES, *TERMINAL)]
    cache = (
        "unavailable"
        if view.cache is None
        else f"{view.cache['hits']} hits, {view.cache['misses']} misses"
    )
    breakers = ", ".join(view.open_breakers) or "none open"
    body = (
        "<h2>Runs by status, last hour</h2>"
        + _table(("status", "runs"), status_rows, "by-status")
        + "<h2>Waiting for a person or the caller</h2>"
        + _table(
            ("run", "agent", "call", "tool", "waits for", "arguments", "wait runs out"),
            [_waiting_row(w) for w in view.waiting],
            "waiting",
        )
        + "<h2>Latest runs</h2>"
        + _table(
            ("run", "status", "agent", "duration", "turns", "tool calls", "cost", "error"),
            [_run_row(r) for r in view.latest],
            "latest-runs",
        )
        + "<h2>Shared budget (main API key)</h2>"
        + _table(
            ("model", "RPM", "TPM", "requests left", "tokens left", ""),
            [_budget_row(b) for b in view.budgets],
            "budget",
        )
        + f'<h2>Cache</h2><p id="cache">{escape(cache)}</p>'
        + f'<h2>Tool breakers</h2><p id="breakers">{escape(breakers)}</p>'
    )
    return _page("runq fleet", body, refresh_s=5)


def _run_fields(run: Run) -> list[tuple[str, object]]:
    return [
        ("status", run.status),
        ("agent", run.agent),
        ("model", run.model),
        ("turns", run.turn),
        ("polls", run.poll_count),
        ("tokens in/out/cached", f"{run.input_tokens}/{run.output_tokens}/{run.cached_tokens}"),
        ("cost", f"${run.cost_usd:.4f}"),
        ("created", run.created_at.isoformat()),
        ("finished", run.finished_at.isoformat() if run.finished_at else "-"),
    ]


def render_run(
    run: Run,
    calls: list[ToolCall],
    tokens: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> str:
    """One run: its fields, its error, and every tool call (secret arguments masked). A call
    that waits for approval gets Approve and Reject forms when `tokens` holds its form token
    (`auth.form_token`); `notice` says why the last decision was refused."""
    fields = _run_fields(run)
    shown_notice = f'<p id="notice">{escape(notice)}</p>' if notice else ""
    error = (
        f'<h2>Error</h2><p id="run-error" class="error">{escape(run.error)}</p>'
        if run.error
        else ""
    )
    waiting = (
        '<p id="waiting-note">This run waits: approve or reject each call that waits for '
        "approval; a call that waits for an output is run by the caller, who submits it "
        "(<code>runq runs submit-outputs</code> or the API).</p>"
        if run.status == "requires_action"
        else ""
    )
    body = (
        shown_notice
        + _table(("field", "value"), [_cells(k, v) for k, v in fields], "run")
        + error
        + "<h2>Tool calls</h2>"
        + waiting
        + _table(
            ("call", "tool", "status", "arguments", "ms", "attempts", "error", "decision", ""),
            [_call_row(run.id, c, (tokens or {}).get(c.call_id)) for c in calls],
            "tool-calls",
        )
        + '<p><a href="../">back</a></p>'
    )
    return _page(f"run {run.id}", body)


def _call_row(run_id: str, call: ToolCall, token: str | None) -> str:
    decision = call.decision or ""
    if call.decision_reason:
        decision += f": {call.decision_reason}"
    values = (
        call.call_id,
        call.name,
        call.status,
        shown_arguments(call),
        call.duration_ms,
        call.attempts,
        scrubbed_text(call.error, call.name, call.arguments) or "",
        decision,
    )
    cells = "".join(f"<td>{escape(str(v))}</td>" for v in values)
    forms = _decision_forms(run_id, call.call_id, token) if token else ""
    return (
        f'<tr class="{escape(call.status)}" data-call-id="{escape(call.call_id)}">'
        f'{cells}<td class="actions">{forms}</td></tr>'
    )


def _decision_forms(run_id: str, call_id: str, token: str) -> str:
    """Approve, and Reject with its reason (required: the model is told it). Relative to
    the run page (`runs/{run_id}`), like its other links."""
    action = f"{quote(run_id, safe='')}/tool_calls/{quote(call_id, safe='')}"
    hidden = f'<input type="hidden" name="token" value="{escape(token)}">'
    return (
        f'<form method="post" action="{escape(action)}/approve" class="approve">{hidden}'
        '<button type="submit">Approve</button></form>'
        f'<form method="post" action="{escape(action)}/reject" class="reject">{hidden}'
        '<input name="reason" required maxlength="2000" '
        'placeholder="why (told to the model)" aria-label="reason for rejecting">'
        '<button type="submit">Reject</button></form>'
    )
