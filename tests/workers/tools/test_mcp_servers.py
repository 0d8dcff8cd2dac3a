"""The pure half of MCP tools: server declarations, names, schemas and results."""

from __future__ import annotations

import pytest

from workers.tools.mcp_servers import (
    McpCallFailed,
    McpServer,
    find_server_tool,
    model_tool_name,
    parameters_schema,
    render_result,
)

DOCS = McpServer("docs", url="http://127.0.0.1:8765/mcp")
FILES = McpServer("files", command=["python", "-m", "files_mcp"])


def test_a_command_list_becomes_a_tuple_so_the_server_stays_hashable():
    assert FILES.command == ("python", "-m", "files_mcp")
    assert hash(FILES) == hash(McpServer("files", command=("python", "-m", "files_mcp")))
    assert FILES.target == "python -m files_mcp"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "docs"}, "exactly one of url= or command="),
        ({"name": "docs", "url": "http://x/mcp", "command": ["x"]}, "exactly one of"),
        ({"name": "a__b", "url": "http://x/mcp"}, "single '_'"),
        ({"name": "", "url": "http://x/mcp"}, "must be 1-30"),
        ({"name": "docs", "url": "ftp://x/mcp"}, "url must be http(s)://"),
        ({"name": "docs", "url": "http://x/mcp", "timeout_s": 0}, "timeout_s must be positive"),
    ],
)
def test_a_bad_server_declaration_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        McpServer(**kwargs)


def test_tool_names_are_prefixed_with_the_server_and_split_back():
    assert model_tool_name(DOCS, "search") == "docs__search"
    assert find_server_tool([FILES, DOCS], "docs__search") == (DOCS, "search")
    # A tool name with the separator in it still goes to the server named before the first.
    assert find_server_tool([DOCS], "docs__a__b") == (DOCS, "a__b")


@pytest.mark.parametrize("name", ["get_weather", "other__search", "docs__", "docs"])
def test_names_of_no_declared_server_are_not_mcp_tools(name):
    assert find_server_tool([DOCS], name) is None


@pytest.mark.parametrize("tool_name", ["read.file", "x" * 70, "with space"])
def test_a_tool_name_no_provider_accepts_gets_no_model_name(tool_name):
    assert model_tool_name(DOCS, tool_name) is None


def test_an_object_schema_is_kept_without_its_meta_schema_key():
    listed = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
    }
    schema = parameters_schema(listed)
    assert schema == {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    assert "$schema" in listed  # a copy was changed, not the listing


@pytest.mark.parametrize("listed", [{}, {"type": "string"}, {"type": "object"}])
def test_missing_or_non_object_schemas_become_an_empty_object_schema(listed):
    assert parameters_schema(listed) == {"type": "object", "properties": {}}


def test_text_blocks_are_joined_and_other_blocks_named():
    content = [
        {"type": "text", "text": "first"},
        {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        {"type": "resource", "resource": {"uri": "file:///a", "text": "inline"}},
    ]
    assert render_result("docs__x", content, None, is_error=False) == (
        "first\n[image image/png]\ninline"
    )


def test_structured_content_is_the_output_when_there_is_no_content():
    assert render_result("docs__x", [], {"result": 3}, is_error=False) == '{"result": 3}'


def test_an_error_result_raises_with_the_servers_message_for_the_model():
    content = [{"type": "text", "text": "no capital known for 'x'"}]
    with pytest.raises(McpCallFailed, match=r"'docs__x' answered with an error: no capital"):
        render_result("docs__x", content, None, is_error=True)


def test_a_stdio_servers_calls_get_longer_to_close_than_an_http_ones():
    assert DOCS.tool_timeout_s == DOCS.timeout_s + 2
    assert FILES.tool_timeout_s == FILES.timeout_s + 8
