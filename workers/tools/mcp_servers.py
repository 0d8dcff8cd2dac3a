"""MCP servers an agent names, and the pure half of offering their tools to its model.

    Agent(..., mcp_servers=(McpServer("docs", url="http://docs-mcp:8000/mcp"),
                            McpServer("files", command=("python", "-m", "files_mcp"))))

A listed tool becomes a runq function tool named `<server>__<tool>` (`docs__search`). The
prefix is always added: two servers may list the same tool name; a server's tool must never
take the name of one of the agent's own `@tool` functions (the registry is one namespace per
process); and a tools worker can tell which server a call goes to from the name alone, even
when it cannot list that server right now. No I/O here (see `mcp_tools`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.tools.registry import TOOL_NAME_PATTERN

SEPARATOR = "__"
"""Between the server's name and the tool's, in the name the model sees."""

HTTP_CLOSE_GRACE_S = 2.0
STDIO_CLOSE_GRACE_S = 8.0
"""A call's tool timeout is its server's timeout_s plus this: the MCP client gives up first,
with a message that says why, and the tool host's kill stays the backstop. A stdio server
needs longer to be stopped (the SDK closes its stdin, waits 2 s, SIGTERMs, waits 2 s, then
SIGKILLs), and a host killed first would leave it running."""

# A server name never holds the separator, so `<server>__<tool>` splits one way only.
_SERVER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_)){0,29}$")


class McpCallFailed(Exception):
    """An MCP tool call gave no usable output: the message is what the model is told."""


@dataclass(frozen=True, slots=True)
class McpServer:
    """One MCP server: Streamable HTTP at `url`, or a local process on stdio (`command`)."""

    name: str
    """Prefix of its tools' names: letters, digits, `-` and single `_`, at most 30."""
    url: str | None = None
    """Streamable HTTP endpoint, e.g. `http://127.0.0.1:8765/mcp`."""
    command: tuple[str, ...] = ()
    """A program and its arguments, started for each list or call and spoken to on stdio."""
    timeout_s: float = 10.0
    """How long listing the tools, or one call, may take (the tool timeout of its calls)."""
    list_ttl_s: float = 300.0
    """How long a process reuses the listed tools before it asks the server again."""

    def __post_init__(self) -> None:
        # A list is accepted for convenience; the tuple keeps the server hashable.
        object.__setattr__(self, "command", tuple(self.command))
        if not _SERVER_NAME.fullmatch(self.name):
            raise ValueError(
                f"MCP server name {self.name!r} must be 1-30 letters, digits, '-' or single "
                f"'_' (it prefixes its tools' names, before {SEPARATOR!r})"
            )
        if (self.url is None) == (not self.command):
            raise ValueError(f"MCP server {self.name!r}: give exactly one of url= or command=")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"MCP server {self.name!r}: url must be http(s)://, not {self.url!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"MCP server {self.name!r}: timeout_s must be positive")

    @property
    def tool_timeout_s(self) -> float:
        """The tool timeout of its calls: `timeout_s` and the time to close the connection."""
        grace_s = HTTP_CLOSE_GRACE_S if self.url is not None else STDIO_CLOSE_GRACE_S
        return self.timeout_s + grace_s

    @property
    def target(self) -> str:
        """Where it is, for messages: its URL or its command line."""
        return self.url if self.url is not None else " ".join(self.command)


@dataclass(frozen=True, slots=True)
class ListedTool:
    """One tool as an MCP server lists it (`tools/list`)."""

    name: str
    description: str
    input_schema: Mapping[str, Any]


def model_tool_name(server: McpServer, tool_name: str) -> str | None:
    """The name the model sees for a server's tool; None when no provider would take it."""
    name = f"{server.name}{SEPARATOR}{tool_name}"
    return name if TOOL_NAME_PATTERN.fullmatch(name) else None


def find_server_tool(servers: Iterable[McpServer], model_name: str) -> tuple[McpServer, str] | None:
    """The server and the server's own tool name behind a model-facing name, if any."""
    prefix, separator, tool_name = model_name.partition(SEPARATOR)
    if not separator or not tool_name:
        return None
    server = next((s for s in servers if s.name == prefix), None)
    return None if server is None else (server, tool_name)


def parameters_schema(input_schema: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema of a function tool's arguments, from an MCP tool's `inputSchema`.

    MCP requires an object schema, but servers send `{}` or omit `properties`; function
    tools need both `type: object` and `properties`. `$schema` is dropped: some providers
    refuse keys they do not know at the top."""
    schema = copy.deepcopy(dict(input_schema))
    schema.pop("$schema", None)
    if schema.get("type") != "object":
        return {"type": "object", "properties": {}}
    schema.setdefault("properties", {})
    return schema


def render_result(
    model_name: str,
    content: Sequence[Mapping[str, Any]],
    structured: object,
    *,
    is_error: bool,
) -> str:
    """The output the model gets for a `tools/call` result, from its content blocks (as
    JSON dicts) and structured content. An error result raises McpCallFailed."""
    text = "\n".join(_block_text(block) for block in content)
    if is_error:
        raise McpCallFailed(
            f"MCP tool {model_name!r} answered with an error: {text or '(no message)'}"
        )
    if text:
        return text
    # Content is required, but a server may send only structured content.
    return json.dumps(structured, ensure_ascii=False) if structured is not None else ""


def _block_text(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "resource" and "text" in (block.get("resource") or {}):
        return str(block["resource"]["text"])
    # Images, audio and binary resources cannot go into a function output: say what it was.
    mime = block.get("mimeType") or block.get("mime_type") or ""
    return f"[{kind} {mime}]".replace(" ]", "]")
