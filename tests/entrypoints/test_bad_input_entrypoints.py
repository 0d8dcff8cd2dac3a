"""`celery -A config worker`, started with the README's line, on a mistake: one line that says
what to fix and a non-zero exit, not a traceback wall or a hundred connection retries."""

from __future__ import annotations

import subprocess

import pytest

from tests.entrypoints.commands import every_entrypoint, with_option
from tests.entrypoints.conftest import TIER_ENV, tier_environment
from tests.ports import free_port

pytestmark = [pytest.mark.entrypoints, pytest.mark.timeout(60)]

README_WORKER = next(
    e
    for e in every_entrypoint()
    if e.source == "README.md" and e.args[:2] == ("celery", "-A") and "worker" in e.args
)
NOBODY_LISTENS = f"redis://127.0.0.1:{free_port()}/0"


def start_worker(args: list[str], **changes: str) -> subprocess.CompletedProcess[str]:
    env = tier_environment(NOBODY_LISTENS, "sqlite:///:memory:", "http://127.0.0.1:9") | changes
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=50, check=False)


@pytest.mark.parametrize(
    ("mistake", "args", "changes", "code", "says"),
    [
        (
            "a queue name no task is sent to",
            with_option(list(README_WORKER.args), "-Q", "runs,rnus"),
            {},
            2,
            "no task is ever sent to queue 'rnus'",
        ),
        ("Redis down", list(README_WORKER.args), {}, 8, "cannot reach Redis at redis://127.0.0.1"),
        (
            "a broken setting",
            list(README_WORKER.args),
            {"RUNQ_POLL_CAP_S": "soon"},
            9,
            "RUNQ_POLL_CAP_S",
        ),
        (
            "REDIS_URL unset",
            list(README_WORKER.args),
            {"REDIS_URL": ""},
            9,
            "REDIS_URL is not set",
        ),
    ],
    ids=["bad queue", "redis down", "broken setting", "no REDIS_URL"],
)
def test_a_worker_that_cannot_start_says_why_in_one_line(mistake, args, changes, code, says):
    assert TIER_ENV["RUNQ_ENVIRONMENT"] == "dev"  # the mistake is the only one
    done = start_worker(args, **changes)
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], output
