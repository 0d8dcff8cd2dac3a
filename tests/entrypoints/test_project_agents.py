"""`runq` run from a project's folder finds the project's own agent module, as `celery -A
config` does (issue 16: `runq serve` could not import a module named in RUNQ_AGENT_MODULES
that sat in the current folder, because a console script's sys.path starts elsewhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.entrypoints

AGENT_MODULE = """
from workers.agents import Agent, register_agent

register_agent(Agent(name="billing-helper", model="gpt-5.4-mini", instructions="Help.", tools=()))
"""


def test_runq_finds_an_agent_module_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "my_agents.py").write_text(AGENT_MODULE)
    runq = Path(sys.executable).with_name("runq")
    env = dict(os.environ, RUNQ_AGENT_MODULES='["my_agents"]', RUNQ_ENVIRONMENT="dev")
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(runq), "agents", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [agent["name"] for agent in json.loads(done.stdout)] == ["billing-helper"]
