"""The integration tier's MCP agents, on devstack MCP servers at ports this session picks.

The ports go into the environment before the fleet starts (this module is imported at
collection, through `agents`), so the workers, which import it too, declare the same URLs.
`test_mcp_tools` starts the servers; the workers list their tools only when a run needs them.
"""

from __future__ import annotations

import os
import sys

from tests.ports import free_port
from workers.agents import Agent, register_agent
from workers.tools.mcp_servers import McpServer

PORTS_ENV = "RUNQ_IT_MCP_PORTS"
if PORTS_ENV not in os.environ:
    os.environ[PORTS_ENV] = f"{free_port()} {free_port()}"
LIVE_PORT, DOOMED_PORT = (int(port) for port in os.environ[PORTS_ENV].split())

register_agent(
    Agent(
        name="mcp-agent",
        model="gpt-test",
        provider="responses",
        tools=("get_weather",),
        mcp_servers=(McpServer("devstack", url=f"http://127.0.0.1:{LIVE_PORT}/mcp", timeout_s=5),),
        max_output_tokens=256,
    )
)

# Its server is stopped half-way through a test: listed before, unreachable when called.
register_agent(
    Agent(
        name="mcp-doomed",
        model="gpt-test",
        provider="responses",
        mcp_servers=(
            McpServer("doomed", url=f"http://127.0.0.1:{DOOMED_PORT}/mcp", list_ttl_s=3600),
        ),
        max_output_tokens=256,
    )
)

# Started for each list and call, on stdio (the devstack server's `garble` answers garbage).
register_agent(
    Agent(
        name="mcp-stdio",
        model="gpt-test",
        provider="responses",
        mcp_servers=(
            McpServer(
                "local",
                command=(sys.executable, "-m", "devstack.mcp_server", "--stdio"),
                timeout_s=10,
            ),
        ),
        max_output_tokens=256,
    )
)
