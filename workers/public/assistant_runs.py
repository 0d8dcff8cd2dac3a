"""Runs of stored assistants on threads, for the Assistants-compatible API.

A run's input is the thread's messages that no run has read yet, claimed in the same
commit as the run; it runs as the agent of the assistant's latest version (`asst_…@v3`,
recorded on the run), on runq's default provider. The assistant's function tools that runq
does not run itself are the run's caller tools: a call to one parks the run in
requires_action until the caller submits its output (`workers.public.actions`).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from kombu.exceptions import OperationalError
from sqlmodel import Session

from workers.db import message_store, run_pages, store, thread_store
from workers.db.assistant_store import StoredAssistant, get_version
from workers.db.models import AssistantVersion, Run, Thread, ThreadMessage, new_id, utcnow
from workers.errors import NothingToRun, RunNotFound, ThreadBusy
from workers.public.enqueue import send_start
from workers.runs import ledger
from workers.stored_agents import agent_of, parse_stored_agent_name

log = logging.getLogger("runq.assistants")


def create_run(
    session: Session,
    *,
    thread: Thread,
    assistant: StoredAssistant,
    owner_key_id: str,
    model: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    metadata: dict[str, str] | None = None,
    deadline_s: float,
) -> Run:
    """Record a pending run of `assistant` on `thread` (send it with `start_run`).

    `tools` (function tools as the API shows them) replaces the assistant's for this run.
    ThreadBusy while another run of the thread is active, NothingToRun when the thread has
    no message since its last run."""
    active = thread_store.active_runs_on_thread(session, thread_id=thread.id)
    if active:
        raise ThreadBusy(f"Thread {thread.id} already has an active run {active[0].id}.")
    version = assistant.version
    run_id = new_id("run")
    messages = message_store.take_new_messages(session, thread_id=thread.id, run_id=run_id)
    if not messages:
        session.rollback()
        raise NothingToRun(
            f"Thread {thread.id} has no new message since its last run: add one first."
        )
    agent = agent_of(version)
    run, _ = ledger.open_run(
        session,
        agent=agent.name,
        input_text=run_input(messages),
        provider=agent.provider,
        model=model or version.model,
        deadline_at=utcnow() + timedelta(seconds=deadline_s),
        thread_id=thread.id,
        owner_key_id=owner_key_id,
        metadata_json=json.dumps(metadata or {}),
        caller_tools=_caller_tools_json(version, tools),
        run_id=run_id,
    )
    return run


def start_run(run_id: str) -> None:
    """Send the run's first step. If the broker cannot take it, the run stays pending and the
    recovery sweep starts it, so the caller still gets its run."""
    try:
        send_start(run_id)
    except (OperationalError, OSError) as exc:
        log.warning("run %s: start not sent (%r); the sweep will start it", run_id, exc)


def run_input(messages: list[ThreadMessage]) -> str:
    """One message is the input as it is; several are paragraphs in order, the ones the
    caller wrote as the assistant marked so (the model's own history is upstream)."""
    if len(messages) == 1:
        return messages[0].text
    return "\n\n".join(
        m.text if m.role == "user" else f"(earlier, as the assistant) {m.text}" for m in messages
    )


def _caller_tools_json(version: AssistantVersion, tools: list[dict[str, Any]] | None) -> str:
    server = set(version.server_tools.split(","))
    offered = json.loads(version.tools_json) if tools is None else tools
    declared = [
        {
            "name": tool["function"]["name"],
            "description": tool["function"].get("description") or "",
            "parameters": tool["function"].get("parameters")
            or {"type": "object", "properties": {}},
        }
        for tool in offered
        if tool["function"]["name"] not in server
    ]
    return json.dumps(declared)


def thread_runs(session: Session, *, owner_key_id: str, thread: Thread) -> list[Run]:
    """The key's runs on the thread, oldest first."""
    runs = run_pages.runs_of_thread(session, thread_id=thread.id)
    return [run for run in runs if run.owner_key_id == owner_key_id]


def get_thread_run(session: Session, *, owner_key_id: str, thread: Thread, run_id: str) -> Run:
    """The key's run on this thread, or RunNotFound."""
    run = run_pages.get_owned_run(session, owner_key_id=owner_key_id, run_id=run_id)
    if run.thread_id != thread.id:
        raise RunNotFound(f"No run found with id '{run_id}'.")
    return run


def set_run_metadata(session: Session, *, run: Run, metadata: dict[str, str]) -> None:
    """Replace the run's labels."""
    store.set_run_metadata(session, run_id=run.id, metadata_json=json.dumps(metadata))


def version_of_run(session: Session, run: Run) -> AssistantVersion | None:
    """The assistant version the run ran, or None for a run of a declared agent."""
    stored = parse_stored_agent_name(run.agent)
    if stored is None:
        return None
    return get_version(session, assistant_id=stored[0], version=stored[1])


def assistant_id_of(run: Run) -> str | None:
    """The id of the assistant the run ran, or None for a run of a declared agent."""
    stored = parse_stored_agent_name(run.agent)
    return None if stored is None else stored[0]
