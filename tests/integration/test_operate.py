"""Operating a fleet, on real parts: /metrics of every worker and of the gateway checked
against the database, JSON log lines, no secret in any log line or broker message, the
dashboard and Flower in a real headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import tests.integration.agents  # noqa: F401  (declared before the registry is snapshotted)
from tests.integration.fleet import SECRETS, enqueue_batch, wait_for_batch
from tests.integration.operate_fixtures import BrokerRecorder, http_status, http_text
from workers import wiring
from workers.db import fleet_store, store
from workers.db.models import Run, ToolCall
from workers.observability.exporter import PORTS_TO_TRY

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

OPERATOR = ("admin", SECRETS["RUNQ_OPERATOR_PASSWORD"])
CREDENTIALS = {"username": OPERATOR[0], "password": OPERATOR[1]}
SECRET_CITY = "Zq-SECRET-city-0b7e"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_samples(text: str) -> Samples:
    """{(sample name, sorted labels): value} of one exposition."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape_workers() -> Samples:
    """Every worker's /metrics (one port each from RUNQ_METRICS_PORT), summed."""
    import urllib.request

    base = int(os.environ["RUNQ_METRICS_PORT"])
    total: Samples = defaultdict(float)
    served = 0
    for port in range(base, base + PORTS_TO_TRY):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
                text = reply.read().decode()
        except OSError:
            continue
        if "runq_runs" not in text:
            continue
        served += 1
        for key, value in parse_samples(text).items():
            total[key] += value
    # runs0, runs1, tools and callbacks (callbacks have their own worker since issue 16).
    assert served == 4, f"expected 4 worker processes serving /metrics, found {served}"
    return total


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def worker_log_lines(workdir: Path) -> list[str]:
    # Every worker's log, under whichever name an earlier test restarted the fleet with.
    return [
        line
        for path in sorted(workdir.glob("*.log"))
        if path.name != "simulator.log"
        for line in path.read_text(errors="replace").splitlines()
    ]


@dataclass
class MetricsBatch:
    """A finished batch of the metrics-only agent, with worker scrapes before and after."""

    before: Samples
    after: Samples
    runs: list[Run]
    calls: list[ToolCall]


@pytest.fixture(scope="module")
def metrics_batch(fleet) -> MetricsBatch:
    before = scrape_workers()
    inputs = ["What's the weather in Paris and Oslo?"] * 4
    inputs += ["What's the weather in Rome? #fail", "What's the weather in Rome? #unknown_tool"]
    batch_id = enqueue_batch(inputs, agent="metrics-agent")
    wait_for_batch(batch_id, len(inputs))
    after = scrape_workers()
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    return MetricsBatch(before, after, runs, calls)


def test_worker_metrics_agree_with_the_database(metrics_batch):
    after, runs = metrics_batch.after, metrics_batch.runs
    by_status: dict[str, int] = defaultdict(int)
    for run in runs:
        by_status[run.status] += 1
    assert by_status == {"completed": 5, "failed": 1}
    for status, count in by_status.items():
        assert value(after, "runq_runs_total", agent="metrics-agent", status=status) == count
    assert value(after, "runq_run_duration_seconds_count", agent="metrics-agent") == 6
    requests = {"provider": "responses", "model": "gpt-metrics", "outcome": "ok"}
    assert value(after, "runq_provider_requests_total", kind="create", **requests) == 6
    for kind, field in (("input", "input_tokens"), ("output", "output_tokens")):
        counted = value(after, "runq_tokens_total", model="gpt-metrics", kind=kind)
        assert counted == sum(getattr(run, field) for run in runs) > 0
    cost = value(after, "runq_cost_usd_total", agent="metrics-agent", model="gpt-metrics")
    assert cost == pytest.approx(sum(run.cost_usd for run in runs)) and cost > 0
    assert value(after, "runq_polls_per_turn_count") > 0
    assert value(after, "runq_cache_requests_total", result="bypass") > 0


def test_tool_metrics_agree_with_the_database(metrics_batch):
    labels = {"tool": "get_weather", "outcome": "succeeded"}
    delta = value(metrics_batch.after, "runq_tool_calls_total", **labels) - value(
        metrics_batch.before, "runq_tool_calls_total", **labels
    )
    ran = [c for c in metrics_batch.calls if c.name == "get_weather" and c.status == "succeeded"]
    assert delta == len(ran) == 9
    failed = {"tool": "delete_everything", "outcome": "failed"}
    assert value(metrics_batch.after, "runq_tool_calls_total", **failed) >= 1


def test_the_gateway_serves_fleet_gauges_read_at_scrape_time(metrics_batch, gateway_url):
    assert http_status(f"{gateway_url}/metrics") == 401
    with wiring.new_session() as session:
        active_before = fleet_store.count_active_runs(session)
    gateway = parse_samples(http_text(f"{gateway_url}/metrics", OPERATOR))
    with wiring.new_session() as session:
        active_after = fleet_store.count_active_runs(session)
    for status in ("pending", "in_progress", "requires_tools", "submitting"):
        scraped = value(gateway, "runq_runs_active", status=status)
        assert scraped in (active_before.get(status, 0), active_after.get(status, 0))
    for queue in ("runs", "tools", "callbacks"):
        assert ("runq_queue_depth", (("queue", queue),)) in gateway
    # Runs end in the workers, yet the gateway's runq_runs_total is the fleet's, from the
    # database (it stayed 0 when it was the gateway process's own counter).
    with wiring.new_session() as session:
        ended = fleet_store.count_ended_runs(session)
    for status in ("completed", "failed"):
        scraped = value(gateway, "runq_runs_total", agent="metrics-agent", status=status)
        assert scraped == ended[("metrics-agent", status)] > 0


def test_one_json_line_per_run_transition_and_tool_execution(fleet, metrics_batch):
    lines = [json.loads(line) for line in worker_log_lines(fleet.workdir) if line.startswith("{")]
    failed = next(r for r in metrics_batch.runs if r.status == "failed")
    ended = [
        line
        for line in lines
        if line.get("event") == "run_transition"
        and line.get("run_id") == failed.id
        and line["status"] == "failed"
    ]
    assert len(ended) == 1
    assert {"run_id", "agent", "status", "turn", "duration_s", "time", "level"} <= set(ended[0])
    run_ids = {r.id for r in metrics_batch.runs}
    tools = [t for t in lines if t.get("event") == "tool_execution" and t.get("run_id") in run_ids]
    assert len(tools) == len(metrics_batch.calls)
    assert all({"call_id", "tool", "duration_ms", "status"} <= set(t) for t in tools)
    print("run_transition:", json.dumps(ended[0]))
    print("tool_execution:", json.dumps(tools[0]))


def test_no_secret_reaches_a_log_line_or_a_broker_message(fleet, api):
    inputs = [
        f"What's the weather in {SECRET_CITY} and Oslo?",
        f"What's the weather in {SECRET_CITY}? #fail",
        f"What's the weather in {SECRET_CITY}? #unknown_tool",
        f"What's the weather in {SECRET_CITY}? #bad_args",
    ]
    with BrokerRecorder(fleet.env["REDIS_URL"]) as broker:
        batch_id = enqueue_batch(inputs, agent="keyed-agent")
        # One more through the HTTP API, with a caller's API key (a secret too).
        body = {"agent": "keyed-agent", "input": f"What's the weather in {SECRET_CITY}?"}
        reply = httpx2.post(f"{api.url}/v1/runs", json=body, headers=api.auth(), timeout=10)
        assert reply.status_code in (200, 201, 202), reply.text
        wait_for_batch(batch_id, len(inputs))
        waited = httpx2.get(
            f"{api.url}/v1/runs/{reply.json()['id']}/wait",
            params={"timeout_s": 60},
            headers=api.auth(),
            timeout=70,
        )
        assert waited.json()["status"] == "completed", waited.text
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    assert {r.status for r in runs} == {"completed", "failed"}
    # The secret city really was a tool argument marked secret, and the runs were real.
    assert any(SECRET_CITY in c.arguments and c.name == "get_weather" for c in calls)
    texts = broker.texts()
    assert any("runq.runs.start" in text for text in texts)
    assert any(run.id in text for run in runs for text in texts)
    lines = worker_log_lines(fleet.workdir)
    assert any(runs[0].id in line for line in lines)
    secrets = [*SECRETS.items(), ("secret tool argument", SECRET_CITY), ("API key", api.key)]
    for name, secret in secrets:
        leaks = [line for line in lines if secret in line]
        assert leaks == [], f"{name} in a worker log line: {leaks[:2]}"
        in_broker = [text for text in texts if secret in text]
        assert in_broker == [], f"{name} in a broker message: {in_broker[:2]}"


def test_dashboard_in_headless_chromium_while_runs_go(fleet, gateway_url, chromium, tmp_path):
    inputs = ["What's the weather in Paris? #slow=1500"] * 3
    inputs += ["What's the weather in Rome? #fail", f"What's the weather in {SECRET_CITY}?"]
    batch_id = enqueue_batch(inputs[:4], agent="responses-agent")
    secret_batch = enqueue_batch(inputs[4:], agent="keyed-agent")
    context = chromium.new_context(http_credentials=CREDENTIALS)
    page = context.new_page()
    with wiring.new_session() as session:
        ids = {r.id for r in store.list_runs(session, batch_id=batch_id)}
    page.goto(f"{gateway_url}/")
    running = page.locator("#latest-runs tr[data-run-id]")
    shown = {running.nth(i).get_attribute("data-run-id") for i in range(running.count())}
    assert ids <= shown
    statuses = {
        page.locator(f'tr[data-run-id="{run_id}"] td.status').inner_text() for run_id in ids
    }
    assert statuses & {"pending", "in_progress", "requires_tools", "submitting"}, statuses
    page.screenshot(path=str(tmp_path / "dashboard-running.png"), full_page=True)

    wait_for_batch(batch_id, 4)
    wait_for_batch(secret_batch, 1)
    page.goto(f"{gateway_url}/")
    failed_row = page.locator("#latest-runs tr.failed").first
    assert "server_error" in failed_row.inner_text()
    assert int(page.locator("#by-status tr.failed td").nth(1).inner_text()) >= 1
    assert "hits" in page.locator("#cache").inner_text()
    page.screenshot(path=str(tmp_path / "dashboard-done.png"), full_page=True)
    failed_row.locator("a").click()
    page.wait_for_selector("#run-error")
    assert "server_error" in page.locator("#run-error").inner_text()
    page.screenshot(path=str(tmp_path / "dashboard-failed-run.png"), full_page=True)

    with wiring.new_session() as session:
        [secret_run] = store.list_runs(session, batch_id=secret_batch)
    page.goto(f"{gateway_url}/runs/{secret_run.id}")
    tool_calls = page.locator("#tool-calls").inner_text()
    assert "get_weather" in tool_calls and "***" in tool_calls
    assert SECRET_CITY not in page.content()
    context.close()
    print("screenshots in", tmp_path)


def test_flower_needs_auth_everywhere_and_shows_a_failed_run_as_failure(
    fleet, flower_url, chromium, tmp_path
):
    for path in ("/", "/tasks", "/metrics", "/healthcheck", "/api/tasks", "/api/workers"):
        assert http_status(f"{flower_url}{path}") == 401, path
    assert http_status(f"{flower_url}/metrics", OPERATOR) == 200
    # The compose file's healthcheck for Flower, as written there, passes with the operator's
    # password from the environment.
    probe = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    )["services"]["flower"]
    code = probe["healthcheck"]["test"][3].replace(":5555", f":{flower_url.rsplit(':', 1)[1]}")
    subprocess.run([sys.executable, "-c", code], env=fleet.env, check=True, timeout=30)
    batch_id = enqueue_batch(["What's the weather in Rome? #fail"], agent="responses-agent")
    wait_for_batch(batch_id, 1)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
    assert run.status == "failed"

    context = chromium.new_context(http_credentials=CREDENTIALS)
    page = context.new_page()
    row = page.locator("tr", has_text=run.id).filter(has_text="FAILURE")
    for _ in range(40):
        page.goto(f"{flower_url}/tasks")
        page.wait_for_load_state("networkidle")
        if row.count():
            break
        page.wait_for_timeout(500)
    assert row.count() >= 1, page.locator("table").first.inner_text()
    name, task_id = row.first.inner_text().split("\t")[:2]
    assert name == f"runq.runs.poll {run.id}"
    page.screenshot(path=str(tmp_path / "flower-tasks.png"), full_page=True)
    page.goto(f"{flower_url}/task/{task_id}")
    detail = page.locator("body").inner_text()
    assert "FAILURE" in detail and "RunEnded" in detail and "server_error" in detail
    page.screenshot(path=str(tmp_path / "flower-task.png"), full_page=True)
    context.close()
    print("screenshot in", tmp_path)
