"""The compose files, read as data (there is no Docker engine here): the production shape
the README promises, and only commands the test suite runs outside Docker.

Checked properties (the README's "Operating a fleet" lists them too):
  services: redis, cache, postgres, migrate, worker-runs, worker-tools, worker-callbacks, beat,
  api, flower (callbacks apart from tools: a slow receiver stalls only callbacks)
  broker Redis: noeviction, AOF, a volume, a password; cache Redis: allkeys-lru + maxmemory
  PostgreSQL: a volume; migrate: one-shot `runq migrate`, the runq services wait for it
  workers: threads pool, their own node name, healthcheck `celery inspect ping` of that name
  beat: one replica; healthchecks on every long-running service; depends_on service_healthy
  stop_grace_period >= the provider timeout on workers
  secrets `${VAR:?set VAR}`; no simulator key, no dev environment, no simulator in production
  compose.dev.yml: the simulator (with a healthcheck), dev environment, simulator base URL
  Dockerfile: installs from requirements.lock
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DEV = yaml.safe_load((ROOT / "compose.dev.yml").read_text())
SERVICES = PRODUCTION["services"]
RUNQ_SERVICES = [name for name, s in SERVICES.items() if s.get("image") == "runq:latest"]
REQUIRED_SECRETS = (
    "RUNQ_CALLBACK_SECRET",
    "OPENAI_API_KEY",
    "REDIS_PASSWORD",
    "POSTGRES_PASSWORD",
    "RUNQ_OPERATOR_PASSWORD",
)

# Every command a runq container runs, and the test that runs it outside Docker (the
# entrypoints tier reads the compose file and starts each service's command as written).
RUN_BY_TESTS = {
    "runq migrate": "tests/entrypoints/test_every_entrypoint.py",
    "celery -A config worker -Q runs --pool threads": "tests/entrypoints/test_every_entrypoint.py",
    "celery -A config worker -Q tools": "tests/entrypoints/test_every_entrypoint.py",
    "celery -A config worker -Q callbacks": "tests/entrypoints/test_every_entrypoint.py",
    "celery -A config beat": "tests/entrypoints/test_every_entrypoint.py",
    "celery -A config inspect ping -d": "tests/entrypoints/test_every_entrypoint.py",
    "runq flower": "tests/entrypoints/test_every_entrypoint.py (and test_operate.py)",
    "runq serve": "tests/entrypoints/test_every_entrypoint.py",
    "python -m simulator": "devstack/local_stack.py (every fleet)",
}


def command_line(service: dict[str, Any]) -> str:
    return shlex.join(service["command"])


def runs_a_tested_command(line: str) -> bool:
    return any(line.startswith(prefix) for prefix in RUN_BY_TESTS)


def test_the_production_file_has_every_service_and_no_simulator():
    assert set(SERVICES) == {
        "redis",
        "cache",
        "postgres",
        "migrate",
        "worker-runs",
        "worker-tools",
        "worker-callbacks",
        "beat",
        "api",
        "flower",
    }


def test_the_broker_redis_never_evicts_keeps_an_aof_on_a_volume_and_has_a_password():
    redis = SERVICES["redis"]
    line = command_line(redis)
    assert "--maxmemory-policy noeviction" in line and "--appendonly yes" in line
    assert "--requirepass" in line
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert ":@redis:6379" not in PRODUCTION["x-runq"]["environment"]["REDIS_URL"]


def test_the_cache_redis_evicts_least_recently_used_under_a_cap():
    line = command_line(SERVICES["cache"])
    assert "--maxmemory-policy allkeys-lru" in line and "--maxmemory 256mb" in line
    assert "cache:6379" in PRODUCTION["x-runq"]["environment"]["RUNQ_CACHE_REDIS_URL"]


def test_postgres_keeps_its_data_on_a_volume_and_migrate_runs_once_first():
    assert any("/var/lib/postgresql/data" in v for v in SERVICES["postgres"]["volumes"])
    assert SERVICES["migrate"]["command"] == ["runq", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in RUNQ_SERVICES:
        if name != "migrate":
            condition = SERVICES[name]["depends_on"]["migrate"]["condition"]
            assert condition == "service_completed_successfully"


@pytest.mark.parametrize(
    ("name", "queue"),
    [("worker-runs", "runs"), ("worker-tools", "tools"), ("worker-callbacks", "callbacks")],
)
def test_workers_use_threads_and_are_pinged_by_their_own_node_name(name, queue):
    worker = SERVICES[name]
    args = worker["command"]
    assert args[args.index("-Q") + 1] == queue
    assert args[args.index("--pool") + 1] == "threads" and int(args[args.index("-c") + 1]) >= 16
    node = args[args.index("--hostname") + 1]
    assert node == f"{name}@%h"
    probe = worker["healthcheck"]["test"][1]
    assert probe.startswith("celery -A config inspect ping -d")
    assert f"-d {name}@$$HOSTNAME" in probe
    grace = worker["stop_grace_period"]
    assert int(grace.rstrip("s")) >= 30  # the default provider timeout


def test_every_worker_exposes_its_metrics_port():
    port = PRODUCTION["x-runq"]["environment"]["RUNQ_METRICS_PORT"]
    workers = [name for name in RUNQ_SERVICES if name.startswith("worker-")]
    assert workers
    for name in workers:
        assert port in [str(p) for p in SERVICES[name].get("expose", [])], name


def test_there_is_exactly_one_beat():
    assert SERVICES["beat"]["deploy"]["replicas"] == 1
    assert SERVICES["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_every_long_running_service_has_a_healthcheck_and_waits_for_healthy_ones():
    for name, service in SERVICES.items():
        if name == "migrate":
            continue  # one-shot: the others wait for it to exit 0 instead
        assert service["healthcheck"]["test"], name
        for dependency, rule in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency == "migrate" else None
            assert rule["condition"] == (expected or "service_healthy"), (name, dependency)


def test_secrets_are_required_and_nothing_defaults_to_dev_or_the_simulator():
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in REQUIRED_SECRETS:
        assert f"${{{variable}:?set {variable}}}" in text, variable
        assert not re.search(rf"\${{{variable}:-", text), variable
    assert "sk-runq-simulator" not in text and "simulator" not in SERVICES
    assert PRODUCTION["x-runq"]["environment"]["RUNQ_ENVIRONMENT"] == "production"
    assert ":-dev" not in text


def test_the_dev_override_adds_the_simulator_and_dev_settings():
    dev = DEV["services"]
    assert dev["simulator"]["command"][:3] == ["python", "-m", "simulator"]
    assert dev["simulator"]["healthcheck"]["test"]
    assert dev["worker-runs"]["depends_on"]["simulator"]["condition"] == "service_healthy"
    for name in (
        "migrate",
        "worker-runs",
        "worker-tools",
        "worker-callbacks",
        "beat",
        "api",
        "flower",
    ):
        assert dev[name]["environment"]["RUNQ_ENVIRONMENT"] == "dev"
        assert dev[name]["environment"]["OPENAI_BASE_URL"] == "http://simulator:8800/v1"
    dev_env = (ROOT / "compose.dev.env").read_text()
    assert "OPENAI_API_KEY=sk-runq-simulator" in dev_env and "RUNQ_ENVIRONMENT=dev" in dev_env


def test_every_runq_command_in_either_file_is_one_the_tests_run():
    services = {**SERVICES, **{f"dev:{k}": v for k, v in DEV["services"].items()}}
    for name, service in services.items():
        if "command" in service and service.get("image") == "runq:latest":
            assert runs_a_tested_command(command_line(service)), name
        probe = service.get("healthcheck", {}).get("test", [])
        if probe[:1] == ["CMD-SHELL"] and probe[1].startswith("celery"):
            assert runs_a_tested_command(probe[1]), name


def test_the_image_installs_from_the_lock_file():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile
    assert (ROOT / "requirements.lock").read_text().count("==") > 20
