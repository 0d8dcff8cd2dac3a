"""The dashboard's Approve and Reject forms: operators' auth, the form token against
cross-site posts, the decision recorded and what runs next sent, refusals shown on the page.
Runs are stepped to where they wait (scripted provider, SQLite); sends are recorded."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import get_settings
from gateway.dashboard.auth import form_token
from gateway.dashboard.router import build_dashboard_router
from tests.gateway.conftest import LOOKUP, REFUND, WEATHER
from workers import wiring
from workers.db import store
from workers.runs.context import FanOut, Later, StepName

OPERATOR = ("admin", "s3cret-pass")


@pytest.fixture
def dashboard(seed_run, monkeypatch):
    monkeypatch.setenv("RUNQ_OPERATOR_PASSWORD", OPERATOR[1])
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(build_dashboard_router())
    with TestClient(app, base_url="http://dash.test") as client:
        yield client
    get_settings.cache_clear()


def call_of(run_id: str, call_id: str):
    with wiring.new_session() as session:
        return store.get_tool_call(session, run_id=run_id, call_id=call_id)


def post(client, run_id, call_id, verdict, token=None, **form):
    form["token"] = form_token(run_id, call_id) if token is None else token
    url = f"/runs/{run_id}/tool_calls/{call_id}/{verdict}"
    return client.post(url, data=form, auth=OPERATOR)


def test_the_run_page_offers_approve_and_reject_only_for_calls_that_wait_for_a_person(
    dashboard, waiting_run
):
    run_id = waiting_run([WEATHER, REFUND, LOOKUP])

    page = dashboard.get(f"/runs/{run_id}", auth=OPERATOR).text

    forms = re.findall(r'<form method="post" action="([^"]+)"', page)
    assert forms == [
        f"{run_id}/tool_calls/call_refund/approve",
        f"{run_id}/tool_calls/call_refund/reject",
    ]
    assert 'name="reason" required' in page and 'id="waiting-note"' in page
    assert form_token(run_id, "call_refund") in page and "4111-SECRET" not in page


def test_approve_records_the_decision_sends_the_tools_and_shows_the_call_approved(
    dashboard, waiting_run, sent
):
    run_id = waiting_run([WEATHER, REFUND])

    answer = post(dashboard, run_id, "call_refund", "approve")

    assert answer.status_code == 200 and answer.history[0].status_code == 303
    assert str(answer.url) == f"http://dash.test/runs/{run_id}"
    assert sent == [FanOut(run_id, 1, ("call_weather", "call_refund"), due_recorded=True)]
    call = call_of(run_id, "call_refund")
    assert (call.status, call.decision, call.decided_by) == ("pending", "approved", "")
    assert "<td>approved</td>" in answer.text and "<form" not in answer.text


def test_reject_needs_a_reason_and_the_model_is_told_it(dashboard, waiting_run, sent):
    run_id = waiting_run([REFUND])

    missing = post(dashboard, run_id, "call_refund", "reject", reason="  ")
    assert missing.status_code == 422 and "a rejection needs a reason" in missing.text
    assert call_of(run_id, "call_refund").status == "awaiting_approval" and sent == []

    answer = post(dashboard, run_id, "call_refund", "reject", reason="not <today>")

    assert answer.status_code == 200 and "rejected: not &lt;today&gt;" in answer.text
    assert sent == [Later(StepName.SUBMIT, (run_id, 1))]
    assert call_of(run_id, "call_refund").decision_reason == "not <today>"


def test_a_decision_taken_already_is_refused_on_the_page(dashboard, waiting_run, sent):
    run_id = waiting_run([REFUND])
    post(dashboard, run_id, "call_refund", "approve")

    again = post(dashboard, run_id, "call_refund", "reject", reason="changed my mind")

    assert again.status_code == 409 and 'id="notice"' in again.text
    assert "already approved" in again.text and len(sent) == 1


@pytest.mark.parametrize(
    ("token", "headers", "auth", "code"),
    [
        ("", {}, OPERATOR, 403),  # no token: a form another site made
        ("0" * 64, {}, OPERATOR, 403),
        (None, {"sec-fetch-site": "cross-site"}, OPERATOR, 403),
        (None, {}, None, 401),
        (None, {}, ("admin", "wrong"), 401),
    ],
)
def test_a_decision_needs_the_operator_and_the_page_s_token(
    dashboard, waiting_run, sent, token, headers, auth, code
):
    run_id = waiting_run([REFUND])
    form = {"token": form_token(run_id, "call_refund") if token is None else token}
    url = f"/runs/{run_id}/tool_calls/call_refund/approve"

    answer = dashboard.post(url, data=form, headers=headers, auth=auth)

    assert answer.status_code == code
    assert call_of(run_id, "call_refund").status == "awaiting_approval" and sent == []


def test_a_token_is_for_one_call_only(dashboard, waiting_run, sent):
    run_id = waiting_run([REFUND, LOOKUP])
    other = form_token(run_id, "call_lookup")
    assert post(dashboard, run_id, "call_refund", "approve", token=other).status_code == 403


def test_an_unknown_run_or_call_is_404(dashboard, waiting_run, sent):
    run_id = waiting_run([REFUND])
    assert post(dashboard, run_id, "call_nope", "approve").status_code == 404
    assert post(dashboard, "run_nope", "call_refund", "approve").status_code == 404


def test_the_front_page_lists_the_calls_that_wait(dashboard, waiting_run):
    run_id = waiting_run([WEATHER, REFUND, LOOKUP])

    page = dashboard.get("/", auth=OPERATOR).text

    waiting = page.split('id="waiting"')[1].split("</table>")[0]
    assert f'href="runs/{run_id}"' in waiting
    assert waiting.count(f'data-run-id="{run_id}"') == 2  # the refund and the lookup
    assert "approval" in waiting and "output" in waiting and "4111-SECRET" not in page
    assert "<td>requires_action</td>" in page.split('id="by-status"')[1]
