"""An agent's MCP tools: listed from its servers, registered as tool specs, called by hosts.

A worker lists a server's tools (`tools/list`) when it first needs them, for a turn's
request or a call, and reuses the listing for the server's `list_ttl_s`; a failed listing is
retried after RETRY_FAILED_LIST_S, and meanwhile the last good one (if any) still stands.
Each listed tool becomes a `ToolSpec` in the worker's registry whose function is an async
`tools/call` on that server, so a call goes through the usual tools path: claimed before it
runs (at most once), run in a tool host under the tool timeout, retried and breaker-guarded
like any tool. A server that is down, hangs, sends something that is not JSON-RPC, or
answers with an error result raises `McpCallFailed` with a clear message, which the model
gets as the call's error output: the run goes on.

Each list or call opens its own connection (a stdio server is started for it): simple, and
nothing is shared between a worker and its tool hosts. Needs the `mcp` extra.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from workers.tools.mcp_servers import (
    ListedTool,
    McpCallFailed,
    McpServer,
    find_server_tool,
    model_tool_name,
    parameters_schema,
    render_result,
)
from workers.tools.registry import ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import CallToolResult

log = logging.getLogger("runq.tools")

RETRY_FAILED_LIST_S = 5.0
"""A server that could not be listed is asked again after this long, not at every turn."""

_MAX_LIST_PAGES = 20
"""A server whose listing never ends is not followed forever."""

T = TypeVar("T")
Fetch = Callable[[McpServer], list[ListedTool]]


def offered_tools(
    registry: ToolRegistry,
    own_tools: Sequence[str],
    servers: Sequence[McpServer],
    *,
    calling: str | None = None,
) -> tuple[str, ...]:
    """The agent's own tools, then its servers' tools, each of those registered in `registry`.

    `calling` names a call about to run: if it belongs to one of `servers` but the server
    cannot be listed now, it is registered unlisted (any arguments), so that the call goes to
    the server and fails there with a clear reason rather than as an unknown tool."""
    names = list(own_tools)
    for server in servers:
        names += _registered_tools(registry, server, _listings.tools_of(server) or [])
    if calling is not None and calling not in names:
        found = find_server_tool(servers, calling)
        if found is not None:
            server, tool_name = found
            names += _registered_tools(registry, server, [_unlisted(tool_name)])
    # A server that lists a name twice must not make the provider refuse the request.
    return tuple(dict.fromkeys(names))


def _registered_tools(
    registry: ToolRegistry, server: McpServer, tools: Collection[ListedTool]
) -> list[str]:
    names = []
    for listed in tools:
        name = model_tool_name(server, listed.name)
        if name is None:
            log.warning(
                "MCP server %r: tool %r skipped: %r is not a valid function name",
                server.name,
                listed.name,
                f"{server.name}__{listed.name}",
            )
        elif _register(registry, build_spec(server, listed, name)):
            names.append(name)
    return names


def build_spec(server: McpServer, listed: ListedTool, name: str) -> ToolSpec:
    """The tool spec of one listed tool: its function calls the tool on `server`."""

    async def call_on_server(**arguments: Any) -> str:
        return await call_tool(server, listed.name, name, arguments)

    # The registry tells functions apart by module and name: one per server and tool.
    call_on_server.__module__ = f"mcp:{server.name}@{server.target}"
    call_on_server.__qualname__ = name
    return ToolSpec(
        name=name,
        description=listed.description or f"{listed.name} (MCP server {server.name})",
        parameters=parameters_schema(listed.input_schema),
        fn=call_on_server,
        is_async=True,
        timeout_s=server.tool_timeout_s,
    )


def _register(registry: ToolRegistry, spec: ToolSpec) -> bool:
    """Register `spec` unless the same tool is there already; False if the registry refused
    it (a name another function owns, an invalid schema)."""
    if spec.name in registry:
        known = registry.get(spec.name)
        same = (known.description, known.parameters, known.timeout_s) == (
            spec.description,
            spec.parameters,
            spec.timeout_s,
        )
        if same and known.fn.__module__ == spec.fn.__module__:
            return True  # a new spec object would make the tool hosts fork again
    try:
        registry.register(spec)
    except ValueError as exc:
        log.warning("MCP tool %r skipped: %s", spec.name, exc)
        return False
    return True


def _unlisted(tool_name: str) -> ListedTool:
    return ListedTool(tool_name, f"{tool_name} (not listed)", {"type": "object"})


@dataclass(slots=True)
class _Listing:
    tools: list[ListedTool] | None
    fetched_s: float
    failed: bool


class ToolListings:
    """Each server's listed tools, kept for its `list_ttl_s` (thread-safe)."""

    def __init__(self, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._by_server: dict[McpServer, _Listing] = {}

    def tools_of(self, server: McpServer) -> list[ListedTool] | None:
        """The server's tools; None if it was never listed (the failure is logged)."""
        now_s = self._clock()
        with self._lock:
            known = self._by_server.get(server)
        if known is not None:
            fresh_s = RETRY_FAILED_LIST_S if known.failed else server.list_ttl_s
            if now_s - known.fetched_s < fresh_s:
                return known.tools
        try:
            listing = _Listing(self._fetch(server), now_s, failed=False)
        except Exception as exc:  # any failure to list means "no new listing", never a crash
            log.warning("MCP server %r: cannot list its tools: %s", server.name, describe(exc))
            listing = _Listing(known.tools if known else None, now_s, failed=True)
        with self._lock:
            self._by_server[server] = listing
        return listing.tools

    def forget(self) -> None:
        """Drop every listing (tests)."""
        with self._lock:
            self._by_server.clear()


def fetch_tools(server: McpServer) -> list[ListedTool]:
    """List the server's tools now (blocking, at most `timeout_s`); raises McpCallFailed."""
    return asyncio.run(_fetch_tools(server))


async def _fetch_tools(server: McpServer) -> list[ListedTool]:
    async def list_all(client: Client) -> list[ListedTool]:
        tools: list[ListedTool] = []
        cursor: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools += [ListedTool(t.name, t.description or "", t.input_schema) for t in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    return await _with_client(server, list_all, calling=False)


async def call_tool(
    server: McpServer, tool_name: str, model_name: str, arguments: dict[str, Any]
) -> str:
    """Call one tool on the server and render its result for the model; raises
    McpCallFailed (the message is for the model) for every way it can go wrong."""

    async def call(client: Client) -> CallToolResult:
        return await client.call_tool(tool_name, arguments)

    result = await _with_client(server, call, calling=True)
    blocks = [block.model_dump(mode="json", by_alias=True) for block in result.content]
    return render_result(model_name, blocks, result.structured_content, is_error=result.is_error)


async def _with_client(
    server: McpServer, work: Callable[[Client], Awaitable[T]], *, calling: bool
) -> T:
    """Connect, do `work`, disconnect, all within `server.timeout_s`; every failure comes out
    as McpCallFailed."""
    try:
        from mcp import Client, StdioServerParameters, stdio_client
    except ImportError:
        raise McpCallFailed(
            "the mcp package is not installed on this worker (pip install 'runq[mcp]')"
        ) from None
    # A stdio server's stderr goes to the worker's own: Celery's sys.stderr is a logging
    # proxy with no file descriptor to hand a child process.
    target = server.url or stdio_client(
        StdioServerParameters(command=server.command[0], args=list(server.command[1:])),
        errlog=sys.__stderr__ or sys.stderr,
    )
    # A stdio server's line that is not JSON-RPC reaches only the message handler (the
    # request would wait for its timeout): note it and stop at once.
    garbage: list[Exception] = []
    try:
        with anyio.CancelScope() as scope:

            async def on_message(message: object) -> None:
                if isinstance(message, Exception):
                    garbage.append(message)
                    scope.cancel()

            with anyio.fail_after(server.timeout_s):
                async with Client(
                    target, read_timeout_seconds=server.timeout_s, message_handler=on_message
                ) as client:
                    return await work(client)
    except Exception as exc:
        raise McpCallFailed(f"{_where(server)} {describe(exc, server, calling=calling)}") from None
    what = _invalid_text(garbage[0]) if garbage else "(nothing)"
    raise McpCallFailed(f"{_where(server)} sent a line that is not JSON-RPC: {what}")


def _where(server: McpServer) -> str:
    return f"MCP server {server.name!r} ({server.target})"


def describe(exc: BaseException, server: McpServer | None = None, *, calling: bool = False) -> str:
    """What went wrong, in words (the MCP and HTTP errors behind anyio's exception groups)."""
    leaf = _leaf(exc)
    if isinstance(leaf, McpCallFailed):
        return str(leaf)  # says it all, and may be about a missing mcp package
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED, PARSE_ERROR, REQUEST_TIMEOUT
    from pydantic import ValidationError

    timeout_s = f" within {server.timeout_s:g} s" if server is not None else ""
    maybe_ran = "; the call may or may not have taken effect" if calling else ""
    if isinstance(leaf, TimeoutError) or (
        isinstance(leaf, MCPError) and leaf.code == REQUEST_TIMEOUT
    ):
        return f"did not answer{timeout_s}{maybe_ran}"
    if isinstance(leaf, MCPError) and leaf.code == PARSE_ERROR:
        return f"sent a reply that is not valid JSON-RPC: {_first_line(leaf.message)[:200]}"
    if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
        return f"closed the connection: {leaf.message}{maybe_ran}"
    if isinstance(leaf, MCPError):
        return f"answered with error {leaf.code}: {_first_line(leaf.message)}"
    if isinstance(leaf, ValidationError):
        return f"sent a reply that is not valid MCP: {_invalid_text(leaf)}"
    return _transport_failure(leaf, maybe_ran)


def _transport_failure(leaf: BaseException, maybe_ran: str) -> str:
    import httpx2

    reason = _first_line(str(leaf)).rstrip(".") or type(leaf).__name__
    if isinstance(leaf, httpx2.HTTPStatusError):
        return f"answered HTTP {leaf.response.status_code}"
    if isinstance(leaf, FileNotFoundError | PermissionError):  # a stdio server's command
        return f"could not be started: {leaf.strerror or leaf}"
    if isinstance(leaf, OSError | httpx2.ConnectError):  # never reached: nothing ran
        return f"is unreachable: {reason}"
    if isinstance(leaf, httpx2.TransportError):  # reached, then lost: it may have run
        return f"dropped the connection: {reason}{maybe_ran}"
    return f"failed: {type(leaf).__name__}: {_first_line(str(leaf))}"


def _invalid_text(exc: Exception) -> str:
    """A pydantic error as one line: what was wrong, and the start of what came."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or not exc.errors():
        return _first_line(str(exc))[:200]
    first = exc.errors()[0]
    return f"{first['msg']} (got {str(first.get('input'))[:80]!r})"


def _leaf(exc: BaseException) -> BaseException:
    """The first exception that is not a group (anyio's task groups wrap the real one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


_listings = ToolListings(fetch_tools)


def forget_listings() -> None:
    """Make every worker-side listing be fetched again (tests)."""
    _listings.forget()
