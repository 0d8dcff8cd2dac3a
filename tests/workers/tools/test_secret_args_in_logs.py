"""A tool's secret arguments never reach a log line, even when the tool (or a library it
calls) logs them itself (issue 16: secret_args were masked only on the dashboard)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.observability.log_format import REDACTED, SecretScrubber, build_formatter
from workers.tools.invoke import invoke_tool
from workers.tools.registry import ToolRegistry, build_tool_spec

SECRET = "pw-9c1e-very-private"
log = logging.getLogger("a_users_tool")


def login(user: str, password: str) -> str:
    log.warning("logging in %s with %s", user, password)  # a careless tool
    if password == "wrong-password":
        raise PermissionError(f"bad password {password!r} for {user}")
    return "ok"


async def login_async(user: str, password: str) -> str:
    await asyncio.sleep(0)
    log.warning("async login %s with %s", user, password)
    return "ok"


class _LogFile:
    """A log file read back whole: tools run in a forked child (`invoke_tool`), which
    writes through the inherited descriptor, so an in-memory stream would miss its lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def getvalue(self) -> str:
        return self.path.read_text()


@pytest.fixture
def lines(tmp_path: Path) -> Iterator[_LogFile]:
    """Every line logged, through a handler set up as a worker's is (JSON, scrubber)."""
    path = tmp_path / "worker.log"
    stream = path.open("a", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter("json"))
    handler.addFilter(SecretScrubber([]))
    log.addHandler(handler)
    yield _LogFile(path)
    log.removeHandler(handler)
    stream.close()


@pytest.fixture
def registry() -> ToolRegistry:
    tools = ToolRegistry()
    tools.register(build_tool_spec(login, secret_args=("password",)))
    tools.register(build_tool_spec(login_async, secret_args=("password",)))
    return tools


@pytest.mark.parametrize("name", ["login", "login_async"])
def test_a_tool_logging_its_own_secret_argument_is_scrubbed(registry, lines, name):
    arguments = json.dumps({"user": "ann", "password": SECRET})
    result = invoke_tool(registry, name, arguments, timeout_s=5)
    assert not result.is_error, result.error
    written = lines.getvalue()
    assert "ann" in written and REDACTED in written  # the line was written, scrubbed
    assert SECRET not in written


def test_the_value_is_hidden_only_while_the_tool_runs(registry, lines):
    with pytest.raises(PermissionError):
        registry.get("login").fn(user="ann", password="wrong-password")
    assert "wrong-password" not in lines.getvalue() and REDACTED in lines.getvalue()
    log.warning("afterwards: %s", "wrong-password")  # hiding ended with the call
    assert "afterwards: wrong-password" in lines.getvalue()


def test_the_registered_tool_keeps_its_name_schema_and_hints(registry):
    spec = registry.get("login")
    assert spec.fn.__name__ == "login" and spec.fn.__wrapped__ is login
    assert set(spec.parameters["properties"]) == {"user", "password"}
    assert not spec.is_async and registry.get("login_async").is_async
    registry.register(spec)  # registering the same spec again does not wrap it twice
    assert registry.get("login").fn.__wrapped__ is login
