"""MCP tools against real servers on real ports: listing, calling through the tool hosts, and
every way a server can fail (down, hanging, garbage, error results) as a clear error output."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack.mcp_server import start_http_server, stop_http_server
from tests.ports import free_port
from workers.tools import mcp_tools
from workers.tools.invoke import invoke_tool
from workers.tools.mcp_servers import ListedTool, McpCallFailed, McpServer
from workers.tools.mcp_tools import (
    ToolListings,
    call_tool,
    describe,
    fetch_tools,
    offered_tools,
)
from workers.tools.registry import ToolRegistry, tool

pytestmark = pytest.mark.timeout(30)

STDIO_DEVSTACK = (sys.executable, "-m", "devstack.mcp_server", "--stdio")


@pytest.fixture(scope="module")
def devstack_url() -> Iterator[str]:
    port = free_port()
    process = start_http_server(port)
    yield f"http://127.0.0.1:{port}/mcp"
    stop_http_server(process)


@pytest.fixture(autouse=True)
def fresh_listings() -> Iterator[None]:
    mcp_tools.forget_listings()
    yield
    mcp_tools.forget_listings()


class _Garbage(BaseHTTPRequestHandler):
    """Answers every request 200 with a body that is not JSON."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b"<html>this is not json</html>"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def garbage_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections and never answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"


def error_message(output: str) -> str:
    return str(json.loads(output)["error"]["message"])


def test_listed_tools_become_prefixed_function_tools_next_to_the_agents_own(devstack_url):
    registry = ToolRegistry()
    server = McpServer("dev", url=devstack_url)

    names = offered_tools(registry, ("own_tool",), [server])

    assert names[:5] == ("own_tool", "dev__add", "dev__capital_of", "dev__wait", "dev__fail")
    [add] = registry.function_schemas(["dev__add"])
    assert add["description"] == "Add two integers."
    assert add["parameters"]["type"] == "object"
    assert add["parameters"]["required"] == ["a", "b"]
    assert registry.get("dev__add").timeout_s == server.tool_timeout_s


def test_a_call_runs_in_a_tool_host_and_its_text_is_the_output(devstack_url):
    registry = ToolRegistry()
    allowed = offered_tools(registry, (), [McpServer("dev", url=devstack_url)])

    result = invoke_tool(registry, "dev__add", '{"a": 2, "b": 40}', allowed_names=allowed)

    assert (result.output, result.is_error) == ("42", False)


def test_arguments_that_break_the_listed_schema_are_refused_before_the_server(devstack_url):
    registry = ToolRegistry()
    allowed = offered_tools(registry, (), [McpServer("dev", url=devstack_url)])

    result = invoke_tool(registry, "dev__add", '{"a": "two"}', allowed_names=allowed)

    assert result.is_error
    assert result.error_type == "InvalidToolArguments"


def test_an_error_result_is_an_error_output_with_the_servers_message(devstack_url):
    registry = ToolRegistry()
    allowed = offered_tools(registry, (), [McpServer("dev", url=devstack_url)])

    result = invoke_tool(
        registry, "dev__capital_of", '{"country": "Atlantis"}', allowed_names=allowed
    )

    assert result.is_error
    assert "'dev__capital_of' answered with an error" in error_message(result.output)
    assert "no capital known for 'Atlantis'" in error_message(result.output)


def test_a_hanging_tool_is_cut_off_at_the_servers_timeout_with_a_clear_message(
    devstack_url, monkeypatch
):
    # Listed without the short timeout, so that only the call can run out of time.
    unhurried = ToolListings(lambda server: fetch_tools(dataclasses.replace(server, timeout_s=10)))
    monkeypatch.setattr(mcp_tools, "_listings", unhurried)
    registry = ToolRegistry()
    allowed = offered_tools(registry, (), [McpServer("dev", url=devstack_url, timeout_s=1)])

    result = invoke_tool(registry, "dev__wait", '{"seconds": 10}', allowed_names=allowed)

    assert result.is_error
    assert error_message(result.output).endswith(
        "did not answer within 1 s; the call may or may not have taken effect"
    )


def test_a_call_to_a_server_that_is_down_is_an_error_output_naming_it(caplog):
    registry = ToolRegistry()
    down = McpServer("down", url=f"http://127.0.0.1:{free_port()}/mcp")

    with caplog.at_level(logging.WARNING, logger="runq.tools"):
        offered = offered_tools(registry, (), [down])
        # The model was shown the tool by a worker that could list it; this one cannot.
        allowed = offered_tools(registry, (), [down], calling="down__add")
    result = invoke_tool(registry, "down__add", '{"a": 1, "b": 2}', allowed_names=allowed)

    assert offered == ()
    assert "MCP server 'down': cannot list its tools" in caplog.text
    assert result.is_error
    assert f"MCP server 'down' ({down.url}) is unreachable" in error_message(result.output)


def test_a_server_that_answers_garbage_gives_a_clear_error(garbage_url):
    server = McpServer("junk", url=garbage_url)

    with pytest.raises(McpCallFailed) as listing:
        fetch_tools(server)
    with pytest.raises(McpCallFailed) as call:
        asyncio.run(call_tool(server, "add", "junk__add", {"a": 1, "b": 2}))

    for failure in (listing.value, call.value):
        assert str(failure).startswith(f"MCP server 'junk' ({garbage_url}) sent a reply that")
        assert "not valid JSON-RPC" in str(failure)


def test_a_stdio_server_that_prints_garbage_fails_at_once_not_at_its_timeout():
    junk = McpServer("junk", command=["sh", "-c", "while read line; do echo garbage; done"])

    with pytest.raises(McpCallFailed, match=r"sent a line that is not JSON-RPC: .*'garbage'"):
        asyncio.run(call_tool(junk, "add", "junk__add", {"a": 1, "b": 2}))


def test_the_devstack_servers_garble_tool_is_garbage_on_the_stdio_wire():
    local = McpServer("local", command=STDIO_DEVSTACK)

    with pytest.raises(McpCallFailed, match=r"not JSON-RPC: .*'this is not json-rpc'"):
        asyncio.run(call_tool(local, "garble", "local__garble", {}))


def test_a_server_that_never_answers_times_out_when_listed(silent_url):
    with pytest.raises(McpCallFailed, match=r"did not answer within 0.5 s$"):
        fetch_tools(McpServer("mute", url=silent_url, timeout_s=0.5))


def test_a_stdio_command_that_does_not_exist_says_so():
    ghost = McpServer("ghost", command=["/nonexistent/mcp-server"])

    with pytest.raises(McpCallFailed, match=r"could not be started: No such file"):
        fetch_tools(ghost)


def test_a_stdio_server_lists_and_calls_like_an_http_one():
    registry = ToolRegistry()
    allowed = offered_tools(registry, (), [McpServer("local", command=STDIO_DEVSTACK)])

    result = invoke_tool(
        registry, "local__capital_of", '{"country": "Kenya"}', allowed_names=allowed
    )

    assert "local__add" in allowed
    assert (result.output, result.is_error) == ("Nairobi", False)


def test_a_stdio_server_starts_under_a_stderr_with_no_file_descriptor():
    # Celery workers replace sys.stderr with a logging proxy that has no fileno() before
    # anything imports the mcp package (whose stdio client takes sys.stderr as its default).
    script = (
        "import io, sys; sys.stderr = io.StringIO()\n"
        "from workers.tools.mcp_servers import McpServer\n"
        "from workers.tools.mcp_tools import fetch_tools\n"
        f"server = McpServer('local', command={STDIO_DEVSTACK!r})\n"
        "print(sorted(listed.name for listed in fetch_tools(server)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert "'add'" in done.stdout


def test_a_name_owned_by_one_of_the_agents_functions_is_not_taken_over(devstack_url, caplog):
    registry = ToolRegistry()

    @tool(name="dev__add", registry=registry)
    def own_add(a: int, b: int) -> int:
        """The agent's own."""
        return a - b

    with caplog.at_level(logging.WARNING, logger="runq.tools"):
        names = offered_tools(registry, (), [McpServer("dev", url=devstack_url)])

    assert "dev__add" not in names
    assert registry.get("dev__add").description == "The agent's own."
    assert "MCP tool 'dev__add' skipped" in caplog.text


class _Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


LISTED = [ListedTool("search", "Search.", {"type": "object"})]


def test_a_listing_is_reused_for_its_ttl_then_fetched_again():
    fetched: list[str] = []
    clock = _Clock()
    listings = ToolListings(lambda s: fetched.append(s.name) or LISTED, clock)
    server = McpServer("docs", url="http://127.0.0.1:1/mcp", list_ttl_s=60)

    listings.tools_of(server)
    clock.now_s = 59.0
    listings.tools_of(server)
    clock.now_s = 60.0
    listings.tools_of(server)

    assert fetched == ["docs", "docs"]


def test_a_failed_listing_keeps_the_last_good_one_and_is_retried_soon():
    answers: list[object] = [LISTED, McpCallFailed("down"), McpCallFailed("down"), []]

    def fetch(_: McpServer) -> list[ListedTool]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    clock = _Clock()
    listings = ToolListings(fetch, clock)
    server = McpServer("docs", url="http://127.0.0.1:1/mcp", list_ttl_s=60)

    assert listings.tools_of(server) == LISTED
    clock.now_s = 60.0
    assert listings.tools_of(server) == LISTED  # failed: the last good listing stands
    clock.now_s = 60.0 + mcp_tools.RETRY_FAILED_LIST_S - 1
    assert listings.tools_of(server) == LISTED  # not asked again yet
    clock.now_s = 60.0 + mcp_tools.RETRY_FAILED_LIST_S
    assert listings.tools_of(server) == LISTED  # asked again: failed again
    clock.now_s += mcp_tools.RETRY_FAILED_LIST_S
    assert listings.tools_of(server) == []
    assert answers == []


def test_runq_imports_and_says_what_is_missing_without_the_mcp_package():
    script = (
        "import sys, asyncio; sys.modules['mcp'] = None\n"
        "import workers.agents, workers.runs.steps\n"
        "from workers.tools.mcp_servers import McpServer, McpCallFailed\n"
        "from workers.tools.mcp_tools import call_tool\n"
        "try:\n"
        "    server = McpServer('x', url='http://127.0.0.1:1/mcp')\n"
        "    asyncio.run(call_tool(server, 'a', 'x__a', {}))\n"
        "except McpCallFailed as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert "the mcp package is not installed" in done.stdout


def test_a_tool_listed_twice_is_offered_once(monkeypatch):
    twice = [ListedTool("search", "Search.", {"type": "object"})] * 2
    monkeypatch.setattr(mcp_tools, "_listings", ToolListings(lambda _: twice))
    registry = ToolRegistry()

    names = offered_tools(registry, (), [McpServer("docs", url="http://127.0.0.1:1/mcp")])

    assert names == ("docs__search",)
    assert [schema["name"] for schema in registry.function_schemas(names)] == ["docs__search"]


def _http_error(status: int) -> Exception:
    import httpx2

    request = httpx2.Request("POST", "http://127.0.0.1:1/mcp")
    response = httpx2.Response(status, request=request)
    return httpx2.HTTPStatusError("bad status", request=request, response=response)


def _describe_cases() -> list[tuple[BaseException, bool, str]]:
    import httpx2
    from mcp import MCPError

    return [
        (TimeoutError(), False, "did not answer within 3 s"),
        (MCPError(-32001, "Request 'tools/call' timed out"), True, "did not answer within 3 s; "),
        (MCPError(-32700, "Failed to parse JSON response: x"), False, "not valid JSON-RPC: Failed"),
        (MCPError(-32000, "Connection closed"), True, "closed the connection: Connection closed; "),
        (MCPError(-32601, "Method not found"), False, "answered with error -32601: Method not"),
        (httpx2.ConnectError("All connection attempts failed"), True, "is unreachable: All conn"),
        (
            httpx2.RemoteProtocolError("Server disconnected."),
            True,
            "connection: Server disconnected; ",
        ),
        (_http_error(503), False, "answered HTTP 503"),
        (FileNotFoundError(2, "No such file or directory"), False, "could not be started: No such"),
        (ValueError("odd"), False, "failed: ValueError: odd"),
        # anyio's task groups wrap the real error, sometimes twice.
        (ExceptionGroup("g", [ExceptionGroup("h", [TimeoutError()])]), False, "did not answer"),
    ]


@pytest.mark.parametrize(("exc", "calling", "expected"), _describe_cases())
def test_every_failure_is_described_in_words(exc, calling, expected):
    server = McpServer("docs", url="http://127.0.0.1:1/mcp", timeout_s=3)

    text = describe(exc, server, calling=calling)

    assert expected in text
    # Only a call that may have reached the server is said to have maybe run.
    assert ("may or may not have taken effect" in text) == expected.endswith("; ")
