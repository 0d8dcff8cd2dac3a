"""`/openai/v1/threads/{thread_id}/runs` (and `/threads/runs`): create, retrieve, list,
modify, cancel, submit tool outputs, and the run's steps.

A run waiting for the caller's tool outputs is `requires_action` and holds no worker;
`submit_tool_outputs` records every output at once and sends the turn on. Its refusals keep
runq's statuses, in the OpenAI error shape: 404 for a call the run does not have, 409 for
outputs the run no longer waits for, 422 for a set that does not answer exactly the
waiting calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlmodel import Session

from config.settings import get_settings
from gateway.assistants_api.objects import run_object, step_objects
from gateway.assistants_api.pages import Order, page
from gateway.assistants_api.requests import (
    MetadataUpdate,
    RunCreate,
    ThreadAndRunCreate,
    ToolOutputs,
)
from gateway.http.auth import Caller, ReaderDep, SessionDep, SubmitterDep
from tasks.next_step import send
from workers.errors import UnsupportedFeature
from workers.public import assistant_runs, assistant_threads, assistants
from workers.public.actions import submit_tool_outputs
from workers.public.cancel import cancel_run
from workers.public.records import Run, Thread, run_pages

router = APIRouter(prefix="/threads", tags=["runs"])

Limit = Annotated[int, Query(ge=1, le=100)]


def run_starter() -> Callable[[str], None]:
    """How a new run's first step is sent (a dependency: tests record it instead)."""
    return assistant_runs.start_run


def step_sender() -> Callable[[Any], None]:
    """How the step after submitted outputs is sent (a dependency, as `run_starter`)."""
    return send


StarterDep = Annotated[Callable[[str], None], Depends(run_starter)]
SenderDep = Annotated[Callable[[Any], None], Depends(step_sender)]


@router.post("/runs")
def create_thread_and_run(
    body: ThreadAndRunCreate, caller: SubmitterDep, session: SessionDep, start: StarterDep
) -> dict[str, Any]:
    """A new thread with its messages, and a run of the assistant on it."""
    tools = body.check_supported()
    assistant = assistants.get_assistant(
        session, owner_key_id=caller.key_id, assistant_id=body.assistant_id
    )
    thread_body = body.thread
    thread = assistant_threads.create_thread(
        session,
        owner_key_id=caller.key_id,
        metadata=(thread_body.metadata if thread_body else None) or {},
        messages=thread_body.new_messages() if thread_body else [],
    )
    return _start(session, caller, thread, assistant, body, tools, start)


@router.post("/{thread_id}/runs")
def create_run(
    thread_id: str, body: RunCreate, caller: SubmitterDep, session: SessionDep, start: StarterDep
) -> dict[str, Any]:
    """Run the assistant on the thread's messages added since its last run."""
    tools = body.check_supported()
    thread = assistant_threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    assistant = assistants.get_assistant(
        session, owner_key_id=caller.key_id, assistant_id=body.assistant_id
    )
    extra = [message.new_message() for message in body.additional_messages or []]
    assistant_threads.add_messages(session, thread=thread, messages=extra)
    return _start(session, caller, thread, assistant, body, tools, start)


@router.get("/{thread_id}/runs")
def list_runs(
    thread_id: str,
    caller: ReaderDep,
    session: SessionDep,
    limit: Limit = 20,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """The thread's runs, newest first by default."""
    thread = assistant_threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    runs = assistant_runs.thread_runs(session, owner_key_id=caller.key_id, thread=thread)
    calls = run_pages.tool_calls_of(session, run_ids=[run.id for run in runs])
    objects = [
        run_object(run, calls[run.id], assistant_runs.version_of_run(session, run)) for run in runs
    ]
    return page(objects, limit=limit, order=order, after=after, before=before)


@router.get("/{thread_id}/runs/{run_id}")
def retrieve_run(
    thread_id: str, run_id: str, caller: ReaderDep, session: SessionDep
) -> dict[str, Any]:
    """One run: its status, the tool calls it waits for, its error and usage."""
    return _run_body(session, _owned_run(session, caller, thread_id, run_id))


@router.post("/{thread_id}/runs/{run_id}")
def modify_run(
    thread_id: str, run_id: str, body: MetadataUpdate, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Replace the run's metadata."""
    run = _owned_run(session, caller, thread_id, run_id)
    if body.metadata is not None:
        assistant_runs.set_run_metadata(session, run=run, metadata=body.metadata)
    return _run_body(session, _owned_run(session, caller, thread_id, run_id))


@router.post("/{thread_id}/runs/{run_id}/cancel")
def cancel(
    thread_id: str, run_id: str, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Cancel the run at once (runq records it cancelled; no `cancelling` in between)."""
    run = _owned_run(session, caller, thread_id, run_id)
    if not cancel_run(run.id):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"Cannot cancel run with status '{run.status}'."
        )
    return _run_body(session, _owned_run(session, caller, thread_id, run_id))


@router.post("/{thread_id}/runs/{run_id}/submit_tool_outputs")
def submit_outputs(
    thread_id: str,
    run_id: str,
    body: ToolOutputs,
    caller: SubmitterDep,
    session: SessionDep,
    send_next: SenderDep,
) -> dict[str, Any]:
    """The outputs of every tool call the run waits for, in one request."""
    if body.stream:
        raise UnsupportedFeature("runq does not stream runs (stream=true)", param="stream")
    run = _owned_run(session, caller, thread_id, run_id)
    outputs = [(item.tool_call_id, item.output) for item in body.tool_outputs]
    send_next(submit_tool_outputs(run.id, outputs, by=caller.key_id))
    return _run_body(session, _owned_run(session, caller, thread_id, run_id))


@router.get("/{thread_id}/runs/{run_id}/steps")
def list_steps(
    thread_id: str,
    run_id: str,
    caller: ReaderDep,
    session: SessionDep,
    limit: Limit = 20,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """The run's steps: a `tool_calls` step per model turn that called tools, then its
    answer's `message_creation` step."""
    run = _owned_run(session, caller, thread_id, run_id)
    steps = step_objects(run, run_pages.tool_calls_of(session, run_ids=[run.id])[run.id])
    return page(steps, limit=limit, order=order, after=after, before=before)


@router.get("/{thread_id}/runs/{run_id}/steps/{step_id}")
def retrieve_step(
    thread_id: str, run_id: str, step_id: str, caller: ReaderDep, session: SessionDep
) -> dict[str, Any]:
    """One step of the run."""
    run = _owned_run(session, caller, thread_id, run_id)
    for step in step_objects(run, run_pages.tool_calls_of(session, run_ids=[run.id])[run.id]):
        if step["id"] == step_id:
            return step
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"No run step found with id '{step_id}'.")


def _start(
    session: Session,
    caller: Caller,
    thread: Thread,
    assistant: assistants.StoredAssistant,
    body: RunCreate | ThreadAndRunCreate,
    tools: list[dict[str, Any]] | None,
    start: Callable[[str], None],
) -> dict[str, Any]:
    run = assistant_runs.create_run(
        session,
        thread=thread,
        assistant=assistant,
        owner_key_id=caller.key_id,
        model=body.model,
        tools=tools,
        metadata=body.metadata,
        deadline_s=get_settings().runs.deadline_s,
    )
    start(run.id)
    return _run_body(session, run)


def _owned_run(session: Session, caller: Caller, thread_id: str, run_id: str) -> Run:
    # A fresh read: a step or a submit may have moved the run since this session saw it.
    session.expire_all()
    thread = assistant_threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    return assistant_runs.get_thread_run(
        session, owner_key_id=caller.key_id, thread=thread, run_id=run_id
    )


def _run_body(session: Session, run: Run) -> dict[str, Any]:
    calls = run_pages.tool_calls_of(session, run_ids=[run.id])[run.id]
    return run_object(run, calls, assistant_runs.version_of_run(session, run))
