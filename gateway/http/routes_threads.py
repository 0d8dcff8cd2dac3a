"""`/v1/threads`: a thread's history, for the key that owns it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from gateway.http.auth import ReaderDep, SessionDep
from gateway.http.routes_runs import ERRORS, require_thread_name
from workers.public.records import run_pages
from workers.public.schemas import ThreadPublic
from workers.public.thread_names import scoped_thread_key
from workers.public.views import thread_public

router = APIRouter(prefix="/v1/threads", tags=["threads"])


# `:path`: a thread key may hold "/" (`team/user-42`); sent raw or as %2F, it arrives whole.
@router.get("/{thread_key:path}", response_model=ThreadPublic, responses=ERRORS)
def get_thread(thread_key: str, caller: ReaderDep, session: SessionDep) -> ThreadPublic:
    """The thread's runs, oldest first, with their tool calls and answers."""
    require_thread_name(thread_key)
    external_key = scoped_thread_key(caller.key_id, thread_key)
    thread = run_pages.find_thread(session, external_key=external_key)
    if thread is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no thread with key {thread_key!r}")
    return thread_public(session, thread)
