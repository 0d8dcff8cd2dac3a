"""The Conversations API through the official SDK, and responses attached to a conversation."""

from __future__ import annotations

import openai
import pytest
from openai.types.conversations import Message
from openai.types.responses import ResponseFunctionToolCall

from tests.simulator.sim import Sim
from tests.simulator.test_sdk_responses import MODEL, TOOLS, answer, calls_of


def test_conversation_crud(sim: Sim) -> None:
    client = sim.client
    created = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "hello"}], metadata={"k": "v"}
    )
    assert created.id.startswith("conv_") and created.object == "conversation"
    assert client.conversations.retrieve(created.id).metadata == {"k": "v"}
    assert client.conversations.update(created.id, metadata={"k": "w"}).metadata == {"k": "w"}

    added = client.conversations.items.create(
        created.id, items=[{"type": "message", "role": "assistant", "content": "hi!"}]
    )
    assert [item.type for item in added.data] == ["message"]
    listed = client.conversations.items.list(created.id, order="asc")
    messages = [item for item in listed.data if isinstance(item, Message)]
    assert [message.role for message in messages] == ["user", "assistant"]

    first_id = messages[0].id
    item = client.conversations.items.retrieve(first_id, conversation_id=created.id)
    assert item.id == first_id
    parent = client.conversations.items.delete(first_id, conversation_id=created.id)
    assert parent.id == created.id and parent.object == "conversation"
    assert len(client.conversations.items.list(created.id).data) == 1

    deleted = client.conversations.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (
        created.id,
        "conversation.deleted",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(created.id)
    assert sim.stats()["conversations_created"] == 1


def test_items_list_pages_by_last_id(sim: Sim) -> None:
    conversation = sim.client.conversations.create(
        items=[{"role": "user", "content": f"message {n}"} for n in range(5)]
    )
    pages = sim.client.conversations.items.list(conversation.id, limit=2, order="asc")
    texts = [item.content[0].text for item in pages if isinstance(item, Message)]  # type: ignore[union-attr]
    assert texts == [f"message {n}" for n in range(5)]


def test_tool_loop_on_a_conversation(sim: Sim) -> None:
    client = sim.client
    conversation = client.conversations.create()
    # Given a background response on the conversation that calls a tool
    first = client.responses.create(
        model=MODEL,
        conversation=conversation.id,
        input="weather in Paris",
        tools=TOOLS,
        background=True,
    )
    assert first.conversation is not None and first.conversation.id == conversation.id
    sim.clock.advance(1)
    # When it completes, its input and output are in the conversation without being polled
    types = [item.type for item in client.conversations.items.list(conversation.id, order="asc")]
    assert types == ["message", "function_call"]
    calls = calls_of(client.responses.retrieve(first.id))

    # Then sending only the outputs on the conversation finishes the run
    final = client.responses.create(
        model=MODEL, conversation={"id": conversation.id}, input=answer(calls), tools=TOOLS
    )
    assert final.output_text == "Here is what I found: get_weather ok"
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert isinstance(items[1], ResponseFunctionToolCall)
    assert items[1].call_id == calls[0].call_id


def test_failed_response_adds_nothing_to_the_conversation(sim: Sim) -> None:
    conversation = sim.client.conversations.create()
    failed = sim.client.responses.create(
        model=MODEL, conversation=conversation.id, input="hi #fail"
    )
    assert failed.status == "failed"
    assert sim.client.conversations.items.list(conversation.id).data == []


def test_unknown_conversation_is_404(sim: Sim) -> None:
    with pytest.raises(openai.NotFoundError):
        sim.client.responses.create(model=MODEL, conversation="conv_missing", input="hi")
    with pytest.raises(openai.NotFoundError):
        sim.client.conversations.items.list("conv_missing")
