"""What one MCP tool call costs a tools worker, next to a plain `@tool` doing the same work.

Each call goes through `invoke_tool`, as a tools worker runs it (argument check, a kept tool
host, the output rendered): a local function, an MCP tool over Streamable HTTP (the devstack
server on a port) and one over stdio (a server process started for each call). An MCP call
opens its own connection each time (nothing is shared between a worker and its hosts), so
this is that choice's price. Also the listing (`tools/list`) a worker does once per server
per `list_ttl_s`.

    python -m bench.mcp_calls [--calls 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from devstack.embedded_redis import free_port
from devstack.mcp_server import start_http_server, stop_http_server
from workers.tools.invoke import invoke_tool
from workers.tools.mcp_servers import McpServer
from workers.tools.mcp_tools import fetch_tools, offered_tools
from workers.tools.registry import ToolRegistry, tool


def timed_ms(fn: Callable[[], object], times: int) -> list[float]:
    took = []
    for _ in range(times):
        started_s = time.perf_counter()
        fn()
        took.append((time.perf_counter() - started_s) * 1000)
    return took


def call_of(registry: ToolRegistry, name: str, allowed: tuple[str, ...]) -> Callable[[], object]:
    def call() -> object:
        result = invoke_tool(registry, name, '{"a": 2, "b": 40}', allowed_names=allowed)
        if result.output != "42":
            raise RuntimeError(f"{name}: {result.output}")
        return result

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description="MCP tool calls against a local @tool")
    parser.add_argument("--calls", type=int, default=40, help="calls per HTTP and local row")
    args = parser.parse_args()
    stdio_calls = max(3, args.calls // 4)  # each starts a Python process: fewer

    registry = ToolRegistry()

    @tool(registry=registry)
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    port = free_port()
    process = start_http_server(port)
    try:
        http = McpServer("http", url=f"http://127.0.0.1:{port}/mcp")
        stdio = McpServer("stdio", command=(sys.executable, "-m", "devstack.mcp_server", "--stdio"))
        allowed = offered_tools(registry, ("add",), [http, stdio])
        rows = [
            ("@tool (local function)", timed_ms(call_of(registry, "add", allowed), args.calls)),
            (
                "MCP over Streamable HTTP",
                timed_ms(call_of(registry, "http__add", allowed), args.calls),
            ),
            ("MCP over stdio", timed_ms(call_of(registry, "stdio__add", allowed), stdio_calls)),
            ("tools/list, HTTP", timed_ms(lambda: fetch_tools(http), args.calls)),
            ("tools/list, stdio", timed_ms(lambda: fetch_tools(stdio), stdio_calls)),
        ]
    finally:
        stop_http_server(process)

    baseline = statistics.median(rows[0][1])
    table = Table(title="One call through invoke_tool (tool host kept), milliseconds")
    for column in ("what", "calls", "p50 ms", "p90 ms", "p50 vs @tool"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, took in rows:
        p50 = statistics.median(took)
        p90 = statistics.quantiles(took, n=10)[-1] if len(took) > 1 else took[0]
        table.add_row(name, str(len(took)), f"{p50:.1f}", f"{p90:.1f}", f"{p50 / baseline:.1f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
