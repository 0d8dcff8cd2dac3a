"""The thin client against the served API: sync and async, every method."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from runq_client import ApiError, AsyncClient, Client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_the_sync_client_creates_waits_lists_follows_and_cancels(api):
    with Client(api.url, api.key) as runq:
        key = f"client-{uuid.uuid4().hex[:8]}"
        run = runq.create(
            "responses-agent",
            "What's the weather in Paris?",
            idempotency_key=key,
            metadata={"a": "b"},
        )
        assert (
            runq.create(
                "responses-agent",
                "What's the weather in Paris?",
                idempotency_key=key,
                metadata={"a": "b"},
            ).id
            == run.id
        )
        events = list(runq.events(run.id))
        done = runq.wait(run.id, timeout_s=60)
        assert done.status == "completed" and done.output_text
        assert events[-1].type == "run.completed" and events[-1].data["id"] == run.id
        assert runq.get(run.id) == done
        assert run.id in {r.id for r in runq.list(idempotency_key=key).data}

        slow = runq.create("responses-agent", "Think about this for a long time. #slow=10000")
        assert runq.cancel(slow.id).status == "cancelled"
        with pytest.raises(ApiError) as raised:
            runq.cancel(slow.id)
        assert raised.value.status_code == 409


def test_the_async_client_does_the_same(api):
    async def scenario() -> tuple[str, list[str]]:
        async with AsyncClient(api.url, api.key) as runq:
            run = await runq.create("responses-agent", "What's the weather in Oslo?")
            types = [event.type async for event in runq.events(run.id)]
            done = await runq.wait(run.id, timeout_s=60)
            assert (await runq.get(run.id)).status == done.status
            assert run.id in {r.id for r in (await runq.list(limit=100)).data}
            return done.status, types

    status, types = asyncio.run(scenario())
    assert status == "completed" and types[-1] == "run.completed"
