"""`runq serve`, started with the README's line, as a user meets it: its logs, its body limit
with real HTTP clients, `/readyz` and `/metrics`, its start without Redis, and `runq keys`
with `--json` (the README's snippet included)."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, create_engine

from devstack.embedded_redis import start_embedded_redis
from tests.entrypoints.commands import README, ROOT, bash_lines, every_entrypoint, with_option
from tests.entrypoints.conftest import OPERATOR_PASSWORD, Services, Started, start, wait_until
from tests.ports import free_port
from workers.db import fleet_store
from workers.db.key_store import KEY_PREFIX

pytestmark = [pytest.mark.entrypoints, pytest.mark.slow, pytest.mark.timeout(120)]

SERVE = next(e for e in every_entrypoint() if e.source == "README.md" and e.kind == "api")
LEAKED = "sk-entrypoints-SECRET-provider-key-0b7d52"
MAX_BODY = 1024
SERVE_ENV = {
    "OPENAI_API_KEY": LEAKED,
    "RUNQ_LOG_FORMAT": "json",
    "RUNQ_API_MAX_BODY_BYTES": str(MAX_BODY),
    # Loading the agents, it logs the key through uvicorn.error (see leaky_agent_module).
    "RUNQ_AGENT_MODULES": '["tests.entrypoints.leaky_agent_module", "workers.demo_agent"]',
    "PYTHONPATH": str(ROOT),
}


def serving(services: Services, workdir: Path, **changes: str) -> Started:
    started = start(SERVE, workdir, services.env | SERVE_ENV | changes)
    wait_until("/healthz", started, lambda: status_of(f"{url(started)}/healthz") == 200, 90)
    return started


def url(started: Started) -> str:
    return f"http://127.0.0.1:{started.port}"


def status_of(address: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(address, headers=headers or {})) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0


def stop(started: Started) -> None:
    started.process.terminate()
    assert started.process.wait(timeout=30) == 0, started.log[-3000:]


@pytest.fixture(scope="module")
def serve(services: Services) -> Iterator[Started]:
    started = serving(services, services.tmp / f"serve-{uuid.uuid4().hex[:6]}")
    yield started
    if started.process.poll() is None:
        stop(started)


def create_key(env: dict[str, str], name: str) -> subprocess.CompletedProcess[str]:
    args = ["runq", "keys", "create", name, "--json"]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_connection_close_client_gets_413_for_an_oversized_body_not_a_reset(serve):
    # urllib sends `Connection: close` and writes its whole body before reading the answer;
    # past the socket buffers (a few MB) a server that closes without reading it resets.
    request = urllib.request.Request(
        f"{url(serve)}/v1/runs",
        data=json.dumps({"agent": "assistant", "input": "x" * 8_000_000}).encode(),
        headers={"content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert f"over {MAX_BODY} bytes" in json.loads(refused.value.read())["error"]


def test_a_chunked_body_over_the_limit_gets_413_not_400(serve):
    connection = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
    chunks = (b'{"agent": "assistant", "input": "' + b"y" * 512 for _ in range(8))
    connection.request(
        "POST",
        "/v1/runs",
        body=chunks,
        headers={"content-type": "application/json"},
        encode_chunked=True,
    )
    reply = connection.getresponse()
    assert reply.status == 413, reply.read()
    connection.close()


def test_a_chunked_body_under_the_limit_still_reaches_the_api(serve):
    connection = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
    body = json.dumps({"agent": "assistant", "input": "hi"}).encode()
    connection.request("POST", "/v1/runs", body=iter([body]), encode_chunked=True)
    reply = connection.getresponse()
    assert reply.status == 401, reply.read()  # parsed, then asked for a key: not 400/413
    connection.close()


def test_uvicorn_lines_are_in_runq_format_and_scrubbed(serve):
    assert status_of(f"{url(serve)}/healthz") == 200  # one access line at least
    wait_until("access line", serve, lambda: "uvicorn.access" in serve.log, 30)
    log = serve.log
    assert LEAKED not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    leaked = [line for line in lines if "a library logged a key" in line["message"]]
    assert leaked and leaked[0]["logger"] == "uvicorn.error", log[-3000:]
    assert "[redacted]" in leaked[0]["message"]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access and "GET /healthz" in access[0]["message"]
    assert not [line for line in log.splitlines() if line.startswith("INFO:")], log[-3000:]


def test_metrics_show_the_fleets_run_outcomes_and_every_queue(serve, services):
    token = base64.b64encode(f"admin:{OPERATOR_PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"{url(serve)}/metrics", headers={"authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        text = reply.read().decode()
    engine = create_engine(services.env["DATABASE_URL"])
    with Session(engine) as session:
        ended = fleet_store.count_ended_runs(session)
    engine.dispose()
    assert text.count("# TYPE runq_runs_total counter") == 1
    for (agent, status), count in ended.items():
        assert f'runq_runs_total{{agent="{agent}",status="{status}"}} {float(count)}' in text
    for queue in ("runs", "tools", "callbacks"):
        assert f'runq_queue_depth{{queue="{queue}"}}' in text


def test_keys_json_errors_are_json_and_the_readme_snippet_survives_a_taken_name(serve):
    name = f"billing-{uuid.uuid4().hex[:6]}"
    assert create_key(serve.env, name).returncode == 0
    taken = create_key(serve.env, name)
    assert (taken.returncode, taken.stdout) == (2, "")
    error = json.loads(taken.stderr)
    assert error["exit_code"] == 2 and "already exists" in error["error"]
    snippet = next(line for line in bash_lines(README.read_text()) if "runq keys create" in line)
    script = snippet.replace("billing", name) + '\necho "KEY=[$KEY]"'
    done = subprocess.run(
        ["bash", "-c", script], env=serve.env, capture_output=True, text=True, timeout=60
    )
    assert "KEY=[]" in done.stdout and "jq: error" not in done.stderr, done.stderr
    fresh = subprocess.run(
        ["bash", "-c", script.replace(name, f"{name}-new")],
        env=serve.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"KEY=[{KEY_PREFIX}" in fresh.stdout, fresh.stderr


def test_readyz_says_only_ready_publicly_and_details_with_a_key(serve, services):
    assert status_of(f"{url(serve)}/readyz") == 200
    with urllib.request.urlopen(f"{url(serve)}/readyz", timeout=10) as reply:
        assert json.load(reply) == {"status": "ready"}


def test_readyz_names_redis_without_credentials_when_it_is_down(services):
    broker = start_embedded_redis(data_dir=services.tmp)
    redis.Redis(port=broker.port).config_set("requirepass", "pw-entrypoints-7c")
    broker_url = f"redis://:pw-entrypoints-7c@127.0.0.1:{broker.port}/0"
    started = serving(
        services, services.tmp / f"serve-{uuid.uuid4().hex[:6]}", REDIS_URL=broker_url
    )
    key = json.loads(create_key(started.env, f"probe-{uuid.uuid4().hex[:6]}").stdout)["key"]
    broker.stop()
    try:
        readyz = f"{url(started)}/readyz"
        with pytest.raises(urllib.error.HTTPError) as public:
            urllib.request.urlopen(readyz, timeout=30)
        assert public.value.code == 503
        assert json.loads(public.value.read()) == {"status": "not ready"}
        request = urllib.request.Request(readyz, headers={"authorization": f"Bearer {key}"})
        with pytest.raises(urllib.error.HTTPError) as detailed:
            urllib.request.urlopen(request, timeout=30)
        body = json.loads(detailed.value.read())
        assert detailed.value.code == 503 and body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith(f"redis at redis://127.0.0.1:{broker.port}/0")
        assert "pw-entrypoints-7c" not in json.dumps(body)
    finally:
        stop(started)


@pytest.mark.parametrize(
    ("redis_url", "code", "says"),
    [("", 9, "REDIS_URL is not set"), (f"redis://127.0.0.1:{free_port()}/0", 8, "cannot reach")],
    ids=["unset", "down"],
)
def test_serve_without_redis_exits_in_one_line(services, tmp_path, redis_url, code, says):
    args = with_option(list(SERVE.args), "--port", str(free_port()))  # the README's line
    env = services.env | {"REDIS_URL": redis_url}
    done = subprocess.run(
        args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0] and "Traceback" not in output, output
