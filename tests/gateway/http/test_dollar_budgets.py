"""Dollar budgets at the front door: `max_cost_usd` on `POST /v1/runs`, the price check at
create, `GET /v1/spend` (a key sees only its own counters), `runq keys create --max-usd`,
`runq keys budget`, `runq spend`, and a price table that is not JSON."""

from __future__ import annotations

import json

import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import workers.demo_agent  # noqa: F401  (registered once at import)
from gateway.cli import app
from workers.limits.spend import Scope
from workers.limits.spend_store import RedisSpend

runner = CliRunner()
PRICES = json.dumps({"gpt-5.4-mini": {"input_per_mtok": 0.25, "output_per_mtok": 2.0}})
LATER = "2099-01-01T00:00:00Z"  # a run_at run sends nothing until due: no broker message


@pytest.fixture
def env(tmp_path, monkeypatch, redis_server, real_redis):
    from workers import wiring

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("RUNQ_MAX_RUN_AT_DAYS", "36500")
    monkeypatch.delenv("RUNQ_MODEL_PRICES", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    wiring.reset()
    yield monkeypatch
    wiring.reset()


def make_keys(*specs: list[str]) -> dict[str, dict[str, str]]:
    headers = {}
    for spec in specs:
        made = runner.invoke(app, ["keys", "create", *spec, "--json"])
        assert made.exit_code == 0, made.output
        headers[spec[0]] = {"authorization": f"Bearer {json.loads(made.output)['key']}"}
    return headers


def run_body(**fields) -> dict:
    return {"agent": "assistant", "input": "Weather in Oslo?", "run_at": LATER} | fields


@pytest.mark.parametrize("value", [-1, 0, 1e9])
def test_a_negative_zero_or_absurd_run_budget_is_a_422_that_names_it(env, value):
    keys = make_keys(["a"])
    from gateway.http.app import create_app

    with TestClient(create_app()) as http:
        refused = http.post("/v1/runs", json=run_body(max_cost_usd=value), headers=keys["a"])
    assert refused.status_code == 422
    assert "max_cost_usd must be" in refused.text


def test_a_budgeted_run_on_a_model_with_no_price_is_refused_at_create(env):
    keys = make_keys(["a"], ["b", "--max-usd-day", "5"])
    from gateway.http.app import create_app

    with TestClient(create_app()) as http:
        own = http.post("/v1/runs", json=run_body(max_cost_usd=1), headers=keys["a"])
        keyed = http.post("/v1/runs", json=run_body(), headers=keys["b"])
        free = http.post("/v1/runs", json=run_body(), headers=keys["a"])
    assert own.status_code == 422 and "has no price in RUNQ_MODEL_PRICES" in own.text
    assert "max_cost_usd" in own.text
    assert keyed.status_code == 422 and "key 'b''s max_usd_day" in keyed.text
    assert free.status_code == 201, free.text  # no budget: no price needed


def test_a_priced_budgeted_run_is_created_with_its_budget(env):
    env.setenv("RUNQ_MODEL_PRICES", PRICES)
    keys = make_keys(["a"])
    from gateway.http.app import create_app

    with TestClient(create_app()) as http:
        created = http.post("/v1/runs", json=run_body(max_cost_usd=0.5), headers=keys["a"])
    assert created.status_code == 201, created.text
    assert created.json()["max_cost_usd"] == 0.5


def test_spend_shows_a_key_only_its_own_counters(env, real_redis: redis.Redis):
    keys = make_keys(["a", "--max-usd", "10", "--max-usd-day", "1"], ["b"])
    listed = {
        k["name"]: k for k in json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)
    }
    from workers import wiring
    from workers.db import key_store

    with wiring.new_session() as session:
        ids = {name: key_store.find_key_by_name(session, name=name).id for name in listed}
    spend = RedisSpend(real_redis, prefix="runq")
    for name, usd in (("a", 250_000), ("b", 999_000)):
        scopes = (
            Scope(f"key:{ids[name]}", 0, 0, "key"),
            Scope(f"key:{ids[name]}:day:2026-12-06", 0, 60, "key/day"),
        )
        spend.hold(f"h-{name}", scopes, usd, now_ms=1, expires_ms=10**13)
        spend.settle(f"h-{name}", scopes, usd, now_ms=2)
    from gateway.http.app import create_app

    with TestClient(create_app()) as http:
        mine = http.get("/v1/spend", headers=keys["a"])
    assert mine.status_code == 200, mine.text
    lines = {line["scope"]: line for line in mine.json()["lines"]}
    assert set(lines) == {f"key:{ids['a']}", f"key:{ids['a']}:day:2026-12-06"}
    assert lines[f"key:{ids['a']}"] == {
        "scope": f"key:{ids['a']}",
        "spent_usd": 0.25,
        "held_usd": 0.0,
        "limit_usd": 10.0,
    }
    assert lines[f"key:{ids['a']}:day:2026-12-06"]["limit_usd"] == 1.0

    operator = json.loads(runner.invoke(app, ["spend", "--json"]).output)
    assert {line["scope"] for line in operator} >= {f"key:{ids['a']}", f"key:{ids['b']}"}

    # and the operators' /metrics shows every counter, with its limit where it has one
    env.setenv("RUNQ_OPERATOR_PASSWORD", "s3cret-pass")
    wiring.reset()
    with TestClient(create_app()) as http:
        scraped = http.get("/metrics", auth=("admin", "s3cret-pass")).text
    assert f'runq_spend_usd{{scope="key:{ids["b"]}"}} 0.999' in scraped
    assert f'runq_spend_limit_usd{{scope="key:{ids["a"]}"}} 10.0' in scraped
    assert f'runq_spend_held_usd{{scope="key:{ids["a"]}"}} 0.0' in scraped


def test_keys_budget_sets_and_clears_limits_and_refuses_bad_ones(env):
    make_keys(["a"])
    ok = runner.invoke(app, ["keys", "budget", "a", "--max-usd-month", "20", "--on-budget", "wait"])
    assert ok.exit_code == 0, ok.output
    assert "per month $20.00; over budget: wait" in ok.output
    [listed] = json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)
    assert (listed["max_usd"], listed["max_usd_month"], listed["on_budget"]) == (None, 20.0, "wait")
    assert "$20.00" in runner.invoke(app, ["keys", "list"]).output  # the table wraps
    bad = runner.invoke(app, ["keys", "budget", "a", "--max-usd", "-5"])
    assert bad.exit_code == 2 and "max_usd must be a positive number" in bad.output
    policy = runner.invoke(app, ["keys", "budget", "a", "--on-budget", "later"])
    assert policy.exit_code == 2 and "on_budget must be one of fail, wait" in policy.output
    missing = runner.invoke(app, ["keys", "budget", "nobody", "--max-usd", "1"])
    assert missing.exit_code == 7


def test_a_key_is_not_created_with_a_bad_budget(env):
    refused = runner.invoke(app, ["keys", "create", "x", "--max-usd-day", "0"])
    assert refused.exit_code == 2 and "max_usd_day must be a positive number" in refused.output
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).output) == []


def test_a_price_table_that_is_not_json_is_a_config_error_naming_it(monkeypatch):
    from config.settings import load_settings
    from workers.errors import ConfigError

    monkeypatch.setenv("RUNQ_MODEL_PRICES", "gpt-5.4: 1.25")
    with pytest.raises(ConfigError, match="RUNQ_MODEL_PRICES is not valid JSON"):
        load_settings()
