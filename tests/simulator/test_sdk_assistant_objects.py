"""Assistants, threads and messages through the official SDK: list, retrieve, delete, paging,
404s, the optional beta header; also rate limits on run polls and cancelling a queued run.
Warnings: see `test_sdk_assistants`."""

from __future__ import annotations

import openai
import pytest

from tests.simulator.sim import Sim
from tests.simulator.test_sdk_assistants import MODEL, assistant_id, poll, start

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated$:DeprecationWarning"),
]


def test_assistants_list_retrieve_delete(sim: Sim) -> None:
    beta = sim.client.beta
    first, second = assistant_id(sim, name="a"), assistant_id(sim, name="b")
    assert [a.id for a in beta.assistants.list(order="asc").data] == [first, second]
    assert [a.id for a in beta.assistants.list(limit=1).data] == [second]
    assert beta.assistants.retrieve(first).name == "a"
    deleted = beta.assistants.delete(first)
    assert (deleted.id, deleted.object, deleted.deleted) == (first, "assistant.deleted", True)
    with pytest.raises(openai.NotFoundError):
        beta.assistants.retrieve(first)


def test_thread_delete_and_message_paging(sim: Sim) -> None:
    beta = sim.client.beta
    thread = beta.threads.create(
        messages=[{"role": "user", "content": text} for text in ("one", "two", "three")]
    )
    newest_first = beta.threads.messages.list(thread.id, limit=2)
    assert newest_first.has_more is True
    after = beta.threads.messages.list(thread.id, limit=2, after=newest_first.data[-1].id)
    assert [m.content[0].text.value for m in after.data] == ["one"]  # type: ignore[union-attr]
    message = beta.threads.messages.retrieve(after.data[0].id, thread_id=thread.id)
    assert message.thread_id == thread.id and message.run_id is None
    assert beta.threads.delete(thread.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        beta.threads.retrieve(thread.id)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/assistants/asst_missing",
        "/v1/threads/thread_missing",
        "/v1/threads/thread_missing/runs/run_missing",
    ],
)
def test_unknown_ids_are_404(sim: Sim, path: str) -> None:
    reply = sim.http.get(path, headers={"Authorization": "Bearer k"})
    assert reply.status_code == 404
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


def test_the_beta_header_is_not_required(sim: Sim) -> None:
    reply = sim.http.post(
        "/v1/assistants", json={"model": MODEL}, headers={"Authorization": "Bearer k"}
    )
    assert reply.status_code == 200
    assert reply.json()["object"] == "assistant"


def test_run_polls_count_against_rpm(sim: Sim) -> None:
    run = start(sim, "hi")
    sim.configure(rpm=1)
    poll(sim, run, 0)
    with pytest.raises(openai.RateLimitError):
        poll(sim, run, 0)


def test_a_run_cancelled_while_queued_never_started_and_frees_the_thread(sim: Sim) -> None:
    run = start(sim, "hi")
    sim.client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    cancelled = poll(sim, run, 5)
    assert (cancelled.status, cancelled.started_at) == ("cancelled", None)
    assert cancelled.usage is not None and cancelled.usage.total_tokens == 0  # nothing ran
    again = sim.client.beta.threads.runs.create(run.thread_id, assistant_id=run.assistant_id)
    assert again.status == "queued"
