"""Lanes in the run steps: flex falls back to standard, tiers and cache keys reach the
provider, each lane is priced at its multiplier, and the batch lane parks turns for the
collector (a fake Batch API here; the integration test uses the simulator's)."""

from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, Clock, make_context
from workers.db import batch_store, store
from workers.db.batch_store import TurnStatus
from workers.db.models import BatchTurn
from workers.db.statuses import RunStatus
from workers.errors import TierUnavailable
from workers.providers.batch_api import BatchStatus, LineResult
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, Usage
from workers.runs import ledger
from workers.runs.batch_collect import CollectPolicy, collect_batches
from workers.runs.context import Later, Nothing, StepName
from workers.runs.steps import poll_run, start_run
from workers.runs.usage import Price

S = ProviderStatus
PRICES = {"gpt-test": Price(input_per_mtok=1.0, output_per_mtok=10.0, cached_input_per_mtok=0.1)}


def open_run(engine, lane: str) -> str:
    with Session(engine) as session:
        run, _ = ledger.open_run(
            session,
            agent="assistant",
            input_text="Hello",
            provider="responses",
            model="gpt-test",
            deadline_at=NOW + timedelta(seconds=3600),
            lane=lane,
        )
        return run.id


def load(engine, run_id):
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


USAGE = Usage(1000, 100, 400)


def answered(ref: str = "resp_1") -> ProviderState:
    return ProviderState(S.COMPLETED, ref, output_text="Hi.", usage=USAGE)


def priced(ctx):
    return replace(ctx, prices=PRICES)


def test_a_flex_turn_without_capacity_goes_again_at_standard_and_is_priced_so(engine):
    # Given a flex run whose first create finds flex without capacity
    provider = scripted([TierUnavailable("no flex capacity"), ProviderState(S.QUEUED, "resp_1")])
    provider.queue(answered())
    ctx = priced(make_context(engine, provider, Clock()))
    run_id = open_run(engine, "flex")

    # When it starts, then its retry starts
    retry = start_run(ctx, run_id)
    assert isinstance(retry, Later) and retry.task is StepName.START and retry.after_s == 0.0
    assert load(engine, run_id).lane_fallback == "standard"
    poll = start_run(ctx, run_id, *retry.args[1:])
    assert isinstance(poll, Later) and poll.task is StepName.POLL
    assert poll_run(ctx, run_id, *poll.args[1:]) == Nothing("completed")

    # Then the first create asked for flex, the second for the default tier
    tiers = [c.request.service_tier for c in provider.calls if c.method == "create"]
    assert tiers == ["flex", None]
    # and the run is priced at standard: 600 fresh + 400 cached input, 100 output
    run = load(engine, run_id)
    assert run.status == RunStatus.COMPLETED
    assert run.cost_usd == (600 * 1.0 + 400 * 0.1 + 100 * 10.0) / 1_000_000


def test_a_flex_run_with_capacity_is_priced_at_half(engine):
    provider = scripted([ProviderState(S.QUEUED, "resp_1"), answered()])
    ctx = priced(make_context(engine, provider, Clock()))
    run_id = open_run(engine, "flex")
    poll = start_run(ctx, run_id)
    poll_run(ctx, run_id, *poll.args[1:])
    run = load(engine, run_id)
    assert run.lane_fallback is None
    assert run.cost_usd == 0.5 * (600 * 1.0 + 400 * 0.1 + 100 * 10.0) / 1_000_000


def test_an_interactive_run_asks_for_priority_with_its_cache_key(engine):
    provider = scripted([ProviderState(S.QUEUED, "resp_1"), answered()])
    ctx = priced(replace(make_context(engine, provider, Clock()), lane_price_multipliers={}))
    run_id = open_run(engine, "interactive")
    poll = start_run(ctx, run_id)
    poll_run(ctx, run_id, *poll.args[1:])
    request = provider.calls[0].request
    assert request.service_tier == "priority"
    assert request.prompt_cache_key == run_id  # no thread: the run's own id
    assert load(engine, run_id).cost_usd == 2 * (600 + 40 + 1000) / 1_000_000


def test_a_configured_multiplier_replaces_the_default(engine):
    provider = scripted([ProviderState(S.QUEUED, "resp_1"), answered()])
    ctx = priced(make_context(engine, provider, Clock()))
    ctx = replace(ctx, lane_price_multipliers={"flex": 0.25})
    run_id = open_run(engine, "flex")
    poll = start_run(ctx, run_id)
    poll_run(ctx, run_id, *poll.args[1:])
    assert load(engine, run_id).cost_usd == 0.25 * (600 + 40 + 1000) / 1_000_000


class FakeBatchApi:
    """A Batch API double: each batch ends as `outcome` on its first status read."""

    def __init__(self, outcome: str = "completed") -> None:
        self.outcome = outcome
        self.batches: dict[str, list] = {}

    def submit(self, lines, *, metadata):
        batch_id = f"batch_{len(self.batches) + 1}"
        self.batches[batch_id] = list(lines)
        return batch_id

    def status(self, batch_id):
        reason = None if self.outcome == "completed" else "simulated"
        return BatchStatus(batch_id, self.outcome, "file_out", None, reason)

    def results(self, status):
        if status.status != "completed":
            return []
        return [
            LineResult(line.custom_id, response_body(line.body), None)
            for line in self.batches[status.id]
        ]


def response_body(request_body) -> dict:
    assert request_body["background"] is False  # a batch line is never a background response
    return {
        "id": "resp_batched",
        "object": "response",
        "created_at": 1.0,
        "status": "completed",
        "model": request_body["model"],
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Batched.", "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": 1000,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 100,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1100,
        },
    }


def turns(engine, run_id) -> list[BatchTurn]:
    with Session(engine) as session:
        from sqlmodel import select

        return list(session.exec(select(BatchTurn).where(BatchTurn.run_id == run_id)).all())


def test_a_batch_run_waits_for_its_batch_then_completes_at_the_batch_price(engine):
    # Given a batch-lane run that started: its turn is parked, nothing was sent upstream
    provider = scripted([])
    clock = Clock()
    ctx = priced(make_context(engine, provider, clock))
    run_id = open_run(engine, "batch")
    poll = start_run(ctx, run_id)
    assert isinstance(poll, Later) and poll.task is StepName.POLL
    assert poll.after_s == 3600  # no poll ladder: it waits to be woken (or for its deadline)
    assert provider.methods() == []
    [turn] = turns(engine, run_id)
    assert turn.status == TurnStatus.WAITING and load(engine, run_id).provider_ref == turn.id

    # When the collector sends it, and reads the batch on its next pass
    api = FakeBatchApi()
    first = collect_batches(ctx, lambda agent: api, CollectPolicy())
    assert (first.sent, first.answered) == (1, 1)

    # Then the run is due now, and its poll reads the answer
    run = load(engine, run_id)
    assert run.next_due_at == clock() and run.parked
    assert poll_run(ctx, run_id, *poll.args[1:]) == Nothing("completed")
    run = load(engine, run_id)
    assert run.result_text == "Batched." and run.lane == "batch"
    assert run.cost_usd == 0.5 * (1000 * 1.0 + 100 * 10.0) / 1_000_000


def test_a_failed_batch_is_sent_once_more_then_ends_its_run_with_the_reason(engine):
    provider = scripted([])
    ctx = make_context(engine, provider, Clock())
    run_id = open_run(engine, "batch")
    poll = start_run(ctx, run_id)
    api = FakeBatchApi(outcome="failed")

    # The first failure sends the turn again; the second gives up
    first = collect_batches(ctx, lambda agent: api, CollectPolicy(retries=1))
    assert (first.sent, first.sent_again, first.failed) == (1, 1, 0)
    second = collect_batches(ctx, lambda agent: api, CollectPolicy(retries=1))
    assert (second.sent, second.sent_again, second.failed) == (1, 0, 1)
    assert len(api.batches) == 2

    outcome = poll_run(ctx, run_id, *poll.args[1:])
    assert isinstance(outcome, Nothing) and outcome.ended == RunStatus.FAILED
    run = load(engine, run_id)
    assert run.status == RunStatus.FAILED
    assert "batch batch_2 failed: simulated (sent 2 times)" in run.error


def test_a_run_cancelled_while_its_turn_waits_is_left_out_of_the_batch(engine):
    provider = scripted([])
    ctx = make_context(engine, provider, Clock())
    run_id = open_run(engine, "batch")
    start_run(ctx, run_id)
    [turn] = turns(engine, run_id)
    with Session(engine) as session:
        batch_store.cancel(session, turn_id=turn.id)
    api = FakeBatchApi()
    assert collect_batches(ctx, lambda agent: api, CollectPolicy()).sent == 0
    assert api.batches == {}


class RefusingBatchApi(FakeBatchApi):
    """Completes every batch, refusing each line with a 400."""

    def results(self, status):
        return [
            LineResult(line.custom_id, None, "invalid_value: bad request line")
            for line in self.batches[status.id]
        ]


def test_a_line_the_batch_refused_ends_its_run_with_that_lines_error(engine):
    ctx = make_context(engine, scripted([]), Clock())
    run_id = open_run(engine, "batch")
    poll = start_run(ctx, run_id)
    api = RefusingBatchApi()
    done = collect_batches(ctx, lambda agent: api, CollectPolicy())
    assert (done.sent, done.failed, done.sent_again) == (1, 1, 0)
    outcome = poll_run(ctx, run_id, *poll.args[1:])
    assert isinstance(outcome, Nothing) and outcome.ended == RunStatus.FAILED
    assert "the request failed: invalid_value: bad request line" in load(engine, run_id).error
