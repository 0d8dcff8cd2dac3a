"""/v1/conversations: create, retrieve, update, delete, and the items inside one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.errors import bad_request, not_found
from simulator.gate import admit, read_json, state_of
from simulator.items import Item, new_id, normalize_input, page
from simulator.render import render_conversation, render_deleted
from simulator.request_fields import metadata_of
from simulator.respond import settle_due
from simulator.state import ConversationRecord, SimulatorState

router = APIRouter(prefix="/v1/conversations")

# Limits are per (key, model) and conversation calls name no model, so they share one bucket.
LIMIT_BUCKET = "conversations"
MAX_ITEMS_PER_CALL = 20


@router.post("")
async def create_conversation(request: Request) -> JSONResponse:
    """Create a conversation, optionally seeded with up to 20 items."""
    body = await read_json(request)
    admit(request, model=LIMIT_BUCKET, tokens=0)
    items = _new_items(body.get("items", []), allow_empty=True)
    state = state_of(request)
    with state.lock:
        record = ConversationRecord(
            id=new_id("conv"),
            created_at=int(state.clock()),
            metadata=metadata_of(body),
            items=items,
        )
        state.conversations[record.id] = record
        _count_received(state, items)
        state.stats.conversations_created += 1
        return JSONResponse(render_conversation(record))


@router.get("/{conversation_id}")
async def retrieve_conversation(request: Request, conversation_id: str) -> JSONResponse:
    """The conversation object (its items are listed separately)."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        return JSONResponse(render_conversation(_find(state, conversation_id)))


@router.post("/{conversation_id}")
async def update_conversation(request: Request, conversation_id: str) -> JSONResponse:
    """Replace the conversation's metadata."""
    body = await read_json(request)
    admit(request, model=LIMIT_BUCKET, tokens=0)
    if "metadata" not in body:
        raise bad_request(
            "Missing required parameter: 'metadata'.",
            param="metadata",
            code="missing_required_parameter",
        )
    metadata = metadata_of(body)
    state = state_of(request)
    with state.lock:
        record = _find(state, conversation_id)
        record.metadata = metadata
        return JSONResponse(render_conversation(record))


@router.delete("/{conversation_id}")
async def delete_conversation(request: Request, conversation_id: str) -> JSONResponse:
    """Delete a conversation; responses that used it keep their own copies of its items."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        _find(state, conversation_id)
        del state.conversations[conversation_id]
    return JSONResponse(render_deleted(conversation_id, "conversation.deleted"))


@router.post("/{conversation_id}/items")
async def create_items(request: Request, conversation_id: str) -> JSONResponse:
    """Append 1 to 20 items; the reply lists the created items in order."""
    body = await read_json(request)
    admit(request, model=LIMIT_BUCKET, tokens=0)
    items = _new_items(body.get("items"), allow_empty=False)
    state = state_of(request)
    with state.lock:
        _find(state, conversation_id).items.extend(items)
        _count_received(state, items)
    return JSONResponse(page(items, limit=MAX_ITEMS_PER_CALL, order="asc", after=None))


@router.get("/{conversation_id}/items")
async def list_items(
    request: Request,
    conversation_id: str,
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
) -> JSONResponse:
    """One page of the conversation's items (newest first unless order=asc)."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        items = list(_find(state, conversation_id).items)
    return JSONResponse(page(items, limit=limit, order=order, after=after))


@router.get("/{conversation_id}/items/{item_id}")
async def retrieve_item(request: Request, conversation_id: str, item_id: str) -> JSONResponse:
    """One item of the conversation."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        record = _find(state, conversation_id)
        return JSONResponse(record.items[_item_index(record, item_id)])


@router.delete("/{conversation_id}/items/{item_id}")
async def delete_item(request: Request, conversation_id: str, item_id: str) -> JSONResponse:
    """Remove one item; like OpenAI, the reply is the parent conversation."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        record = _find(state, conversation_id)
        del record.items[_item_index(record, item_id)]
        return JSONResponse(render_conversation(record))


def _find(state: SimulatorState, conversation_id: str) -> ConversationRecord:
    # Background responses append their items when they finish, which nobody may have
    # polled yet; apply that first so readers see what OpenAI would show.
    settle_due(state, state.clock())
    record = state.conversations.get(conversation_id)
    if record is None:
        raise not_found(f"Conversation with id '{conversation_id}' not found.")
    return record


def _item_index(record: ConversationRecord, item_id: str) -> int:
    for index, item in enumerate(record.items):
        if item["id"] == item_id:
            return index
    raise not_found(f"Item with id '{item_id}' not found in conversation '{record.id}'.")


def _new_items(value: Any, *, allow_empty: bool) -> list[Item]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS_PER_CALL:
        raise bad_request("'items' must be an array of at most 20 items.", param="items")
    if not value and not allow_empty:
        raise bad_request("'items' must hold at least one item.", param="items")
    return normalize_input(value, param="items")


def _count_received(state: SimulatorState, items: list[Item]) -> None:
    outputs = sum(1 for item in items if item["type"] == "function_call_output")
    state.stats.tool_outputs_submitted += outputs
