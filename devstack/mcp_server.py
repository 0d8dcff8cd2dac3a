"""A small MCP server to try an agent's MCP tools offline (and for the tests).

    python -m devstack.mcp_server --port 8765   # Streamable HTTP at http://127.0.0.1:8765/mcp
    python -m devstack.mcp_server --stdio       # over stdin/stdout, for `McpServer(command=[...])`

Its tools: `add`, `capital_of` (a fixed table), `wait` (sleeps: a server that hangs),
`fail` (always an error result, `isError`), `crash` (the server exits mid-call: a server
that goes down) and `garble` (over stdio, a line that is not JSON-RPC: a server that answers
garbage). Needs the `mcp` extra (`pip install -e ".[mcp]"`).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

from mcp.server import stdio as mcp_stdio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

CAPITALS = {"france": "Paris", "norway": "Oslo", "japan": "Tokyo", "kenya": "Nairobi"}


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def capital_of(country: str) -> str:
    """The capital city of a country."""
    capital = CAPITALS.get(country.strip().lower())
    if capital is None:
        raise ToolError(f"no capital known for {country!r}")
    return capital


def wait(seconds: float) -> str:
    """Sleep for `seconds`, then say so (a tool that hangs, for timeouts)."""
    # Blocking on purpose: the server's worker thread is stuck, as a hung server's would be.
    time.sleep(seconds)
    return f"waited {seconds:g} s"


def fail(message: str) -> str:
    """Always fails with `message` (an error result the model should see)."""
    # ToolError: the server sends its message (any other exception is hidden).
    raise ToolError(message)


def crash() -> str:
    """Exit the server process at once, without answering (a server that goes down)."""
    os._exit(3)


def garble() -> str:
    """Over stdio, send the client a line that is not JSON-RPC (a server answering garbage)."""
    # The stdio transport moves its wire off fd 1 (so that print() cannot corrupt it): write
    # on that private copy, found through the transport's (private) claim table; over HTTP,
    # this goes to the console.
    claim = mcp_stdio._claims.get(1)
    wire_fd = claim.private_fd if claim is not None and claim.private_fd is not None else 1
    os.write(wire_fd, b"this is not json-rpc\n")
    time.sleep(30)
    return "garbled"


TOOLS = (add, capital_of, wait, fail, crash, garble)


def build_server() -> MCPServer:
    """The server with its tools. Built on demand: MCPServer sets up logging (a rich handler
    on the root logger), which a process that only starts it as a child must not get."""
    server = MCPServer("runq-devstack", instructions="Arithmetic and capitals, for trying runq.")
    for fn in TOOLS:
        server.tool()(fn)
    return server


def start_http_server(port: int, start_timeout_s: float = 20.0) -> subprocess.Popen[bytes]:
    """This server as a child process on 127.0.0.1:`port`, once it accepts connections (for
    tests and the demo); stop it with `.terminate()`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.mcp_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline_s = time.monotonic() + start_timeout_s
    while time.monotonic() < deadline_s:
        if process.poll() is not None:
            raise RuntimeError(f"the devstack MCP server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the devstack MCP server did not listen on {port} in {start_timeout_s:g} s")


def stop_http_server(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """Stop a server from `start_http_server`; killed after `grace_s`, since a graceful stop
    waits for calls in flight (a `wait` call may still be sleeping)."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve over Streamable HTTP on `--port`, or over stdio with `--stdio`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    server = build_server()
    if args.stdio:
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
