"""The run page's Approve and Reject buttons in a real headless Chromium (Debian's, driven by
playwright): the dashboard on a real uvicorn in a thread, runs stepped to where they wait
(scripted provider, SQLite), what runs next recorded instead of sent to a broker."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from config.settings import get_settings
from gateway.dashboard.router import build_dashboard_router
from tests.gateway.conftest import LOOKUP, REFUND, WEATHER
from tests.integration.operate_fixtures import CHROMIUM, CHROMIUM_FLAGS, wait_http
from tests.ports import free_port
from workers import wiring
from workers.db import store
from workers.runs.context import FanOut, Nothing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

OPERATOR = {"username": "admin", "password": "s3cret-pass"}


@pytest.fixture
def dashboard_url(seed_run, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("RUNQ_OPERATOR_PASSWORD", OPERATOR["password"])
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(build_dashboard_router())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/", timeout_s=20)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    get_settings.cache_clear()


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium for this test alone: playwright's sync API holds an asyncio loop on
    this thread while it is open, which later tests' asyncio.run() would trip over."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (`make browser` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


def decision_of(run_id: str, call_id: str) -> tuple[str, str | None, str | None]:
    with wiring.new_session() as session:
        call = store.get_tool_call(session, run_id=run_id, call_id=call_id)
        assert call is not None
        return call.status, call.decision, call.decision_reason


def test_an_operator_approves_and_rejects_in_the_browser(
    dashboard_url, browser, waiting_run, sent, tmp_path
):
    approved_run = waiting_run([WEATHER, REFUND])
    rejected_run = waiting_run([REFUND, LOOKUP])
    context = browser.new_context(http_credentials=OPERATOR)
    page = context.new_page()

    # Given the front page lists both runs as waiting, when the operator opens the first...
    page.goto(f"{dashboard_url}/")
    waiting = page.locator("#waiting tr[data-run-id]")
    assert {waiting.nth(i).get_attribute("data-run-id") for i in range(waiting.count())} == {
        approved_run,
        rejected_run,
    }
    page.locator(f'#waiting tr[data-run-id="{approved_run}"] a').first.click()
    page.wait_for_selector("#waiting-note")
    refund = page.locator('#tool-calls tr[data-call-id="call_refund"]')
    assert "awaiting_approval" in refund.inner_text() and "4111-SECRET" not in page.content()
    page.screenshot(path=str(tmp_path / "waiting.png"), full_page=True)

    # ...and clicks Approve, the call is approved and the turn's tools are sent.
    with page.expect_navigation():
        refund.locator("form.approve button").click()
    assert page.url == f"{dashboard_url}/runs/{approved_run}"
    cells = refund.locator("td")
    assert cells.nth(2).inner_text() == "pending" and cells.nth(7).inner_text() == "approved"
    assert page.locator("#tool-calls form").count() == 0
    assert decision_of(approved_run, "call_refund") == ("pending", "approved", None)
    assert sent == [FanOut(approved_run, 1, ("call_weather", "call_refund"), due_recorded=True)]
    page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)

    # Reject asks for a reason: the browser does not send the form without one.
    page.goto(f"{dashboard_url}/runs/{rejected_run}")
    reject = page.locator('#tool-calls tr[data-call-id="call_refund"] form.reject')
    reject.locator("button").click()
    assert page.url == f"{dashboard_url}/runs/{rejected_run}"
    assert decision_of(rejected_run, "call_refund")[0] == "awaiting_approval"
    reject.locator('input[name="reason"]').fill("refunds over 20 need a manager")
    with page.expect_navigation():
        reject.locator("button").click()
    row = page.locator('#tool-calls tr[data-call-id="call_refund"]').inner_text()
    assert "rejected: refunds over 20 need a manager" in row
    assert decision_of(rejected_run, "call_refund") == (
        "failed",
        "rejected",
        "refunds over 20 need a manager",
    )
    # The lookup still waits for the caller, so nothing more is sent for this run yet.
    assert sent[1:] == [Nothing("1 tool calls of turn 1 still wait")]
    page.screenshot(path=str(tmp_path / "rejected.png"), full_page=True)
    context.close()
