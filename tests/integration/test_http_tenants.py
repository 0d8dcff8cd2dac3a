"""Tenants apart over HTTP, on real uvicorn, real workers, Redis and the simulator: the
response cache, thread names, scopes and rate limits, revoked keys on open streams."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.api_server import Api
from tests.integration.test_http_api import create, wait

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def cache_hit_of(run_id: str) -> bool:
    from workers.db import store
    from workers.wiring import new_session

    with new_session() as session:
        return store.get_run(session, run_id=run_id).cache_hit


def test_one_key_never_gets_another_keys_cached_answer(api: Api):
    # Given tenant A's cacheable run has completed (its answer is in the cache)
    question = f"What's the weather in Paris? ({uuid.uuid4().hex[:8]})"
    first = create(api, input=question, cache=True).json()
    assert wait(api, first["id"])["status"] == "completed"

    # When tenant B asks exactly the same thing of the same agent
    theirs = create(api, api.other_key, input=question, cache=True).json()
    done = wait(api, theirs["id"], api.other_key)

    # Then B's run went to the provider: no cache hit, nothing learnt about A's question
    assert done["status"] == "completed", done
    assert cache_hit_of(theirs["id"]) is False
    # and A asking again is still served from A's own cache entry (the cache works)
    again = create(api, input=question, cache=True).json()
    assert wait(api, again["id"])["status"] == "completed"
    assert cache_hit_of(again["id"]) is True
