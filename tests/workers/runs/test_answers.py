"""The response cache as the run steps use it: hits skip the provider; impure runs are not kept."""

from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, DictCache, insert_run, make_context, memory_engine
from workers.db import store
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest
from workers.runs.context import Nothing
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.tool_calls import execute_tool_call
from workers.tools.registry import tool

S = ProviderStatus


def finish_one_run(ctx, engine, input_text, calls=()):
    run_id = insert_run(engine, input_text=input_text, use_cache=True)
    start_run(ctx, run_id)
    if calls:
        poll_run(ctx, run_id, 1)
        for call in calls:
            execute_tool_call(ctx, run_id, call.call_id)
        submit_outputs(ctx, run_id, 1)
        poll_run(ctx, run_id, 3)
    else:
        poll_run(ctx, run_id, 1)
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


def test_a_repeated_request_is_answered_from_the_cache_without_the_provider():
    engine, cache = memory_engine(), DictCache()
    provider = scripted(
        [
            ProviderState(S.QUEUED, "resp_1"),
            ProviderState(S.COMPLETED, "resp_1", output_text="42"),
        ]
    )
    ctx = make_context(engine, provider, Clock(), cache=cache)
    first = finish_one_run(ctx, engine, "What is six times seven?")
    assert (first.status, first.cache_hit) == ("completed", False)

    repeat = insert_run(engine, input_text="What is six times seven?", use_cache=True)
    assert start_run(ctx, repeat) == Nothing("answered from the cache")
    with Session(engine) as session:
        run = store.get_run(session, run_id=repeat)
    assert (run.status, run.result_text, run.cache_hit) == ("completed", "42", True)
    assert provider.methods() == ["create", "retrieve"]  # nothing for the repeat


def test_a_run_that_used_a_tool_with_side_effects_is_not_cached():
    @tool(name="send_email_test_only")
    def send_email(to: str) -> str:
        """Send an email (a side effect)."""
        return "sent"

    from workers.agents import Agent, register_agent

    register_agent(Agent(name="mailer-test", model="m", tools=("send_email_test_only",)))
    engine, cache = memory_engine(), DictCache()
    call = ToolCallRequest("call_1", "send_email_test_only", '{"to": "a@b.c"}')
    provider = scripted(
        [
            ProviderState(S.REQUIRES_TOOLS, "resp_1", tool_calls=(call,)),
            ProviderState(S.QUEUED, "resp_2"),
            ProviderState(S.COMPLETED, "resp_2", output_text="Sent."),
        ]
    )
    ctx = make_context(engine, provider, Clock(), cache=cache)
    run_id = insert_run(engine, agent="mailer-test", input_text="mail a@b.c", use_cache=True)
    start_run(ctx, run_id)
    execute_tool_call(ctx, run_id, "call_1")
    submit_outputs(ctx, run_id, 1)
    poll_run(ctx, run_id, 2)
    with Session(engine) as session:
        assert store.get_run(session, run_id=run_id).status == "completed"
    assert cache.entries == {}


def test_pure_tools_do_not_stop_caching_and_bypass_skips_the_cache():
    engine, cache = memory_engine(), DictCache()
    call = ToolCallRequest("call_1", "get_weather", '{"location": "Oslo"}')
    provider = scripted(
        [
            ProviderState(S.REQUIRES_TOOLS, "resp_1", tool_calls=(call,)),
            ProviderState(S.QUEUED, "resp_2"),
            ProviderState(S.COMPLETED, "resp_2", output_text="Cold."),
            ProviderState(S.QUEUED, "resp_3"),
        ]
    )
    ctx = make_context(engine, provider, Clock(), cache=cache)
    run_id = insert_run(engine, input_text="weather in Oslo", use_cache=True)
    start_run(ctx, run_id)
    execute_tool_call(ctx, run_id, "call_1")
    submit_outputs(ctx, run_id, 1)
    poll_run(ctx, run_id, 2)
    assert len(cache.entries) == 1
    gets = cache.gets
    bypass = insert_run(engine, input_text="weather in Oslo", use_cache=False)
    start_run(ctx, bypass)
    assert cache.gets == gets and provider.methods()[-1] == "create"


def test_an_answer_is_replayed_only_to_the_key_that_paid_for_it():
    engine, cache = memory_engine(), DictCache()
    provider = scripted(
        [
            ProviderState(S.QUEUED, "resp_1"),
            ProviderState(S.COMPLETED, "resp_1", output_text="secret plan"),
            ProviderState(S.QUEUED, "resp_2"),
        ]
    )
    ctx = make_context(engine, provider, Clock(), cache=cache)
    question = "What did tenant A ask?"
    first = insert_run(engine, input_text=question, use_cache=True, owner_key_id="key_a")
    start_run(ctx, first)
    poll_run(ctx, first, 1)

    # Another key asking the same thing goes to the provider (no hit, no oracle)
    other = insert_run(engine, input_text=question, use_cache=True, owner_key_id="key_b")
    assert start_run(ctx, other) != Nothing("answered from the cache")
    # The owner itself still gets its cached answer
    again = insert_run(engine, input_text=question, use_cache=True, owner_key_id="key_a")
    assert start_run(ctx, again) == Nothing("answered from the cache")
    with Session(engine) as session:
        assert store.get_run(session, run_id=other).cache_hit is False
        assert store.get_run(session, run_id=again).result_text == "secret plan"
