"""Request bodies of the Assistants-compatible API, as the official OpenAPI spec names them.

Unknown fields are refused (the spec closes every body with `additionalProperties: false`).
Fields runq does not support are accepted only at their neutral value (null, "auto", false,
empty), so code that sends the SDK's defaults works, and a request that really asks for one
gets a 400 naming the field and saying runq does not have it (`UnsupportedFeature`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.errors import UnsupportedFeature
from workers.public.assistant_threads import NewMessage
from workers.public.schemas import (
    MAX_CALLER_TOOLS,
    MAX_INPUT_CHARS,
    MAX_METADATA_ITEMS,
    FunctionTool,
    MetadataKey,
    MetadataValue,
    ToolOutputIn,
)

Metadata = dict[MetadataKey, MetadataValue]
_HOSTED_TOOLS = ("code_interpreter", "file_search", "retrieval")
_NO_FILES = (
    "runq's Assistants-compatible API has no files or vector stores (so no attachments, "
    "tool_resources, file_search or code_interpreter)"
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _metadata_field() -> Any:
    return Field(default=None, max_length=MAX_METADATA_ITEMS)


class AssistantFields(_Body):
    """What an assistant holds; every field optional (ModifyAssistantRequest)."""

    model: str | None = Field(default=None, min_length=1, max_length=256)
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    instructions: str | None = Field(default=None, max_length=256_000)
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_CALLER_TOOLS)
    metadata: Metadata | None = _metadata_field()
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    response_format: Any = None
    reasoning_effort: Any = None
    tool_resources: Any = None

    def checked(self) -> dict[str, Any]:
        """The fields the caller set, tools normalised; UnsupportedFeature for any runq lacks."""
        refuse_if_set("reasoning_effort", self.reasoning_effort)
        refuse_if_set("tool_resources", self.tool_resources, _NO_FILES)
        changes = self.model_dump(
            exclude_unset=True, exclude={"reasoning_effort", "tool_resources"}
        )
        if "model" in changes and changes["model"] is None:
            del changes["model"]  # an assistant always has a model
        if "tools" in changes:
            changes["tools"] = function_tools(self.tools or [])
        if "metadata" in changes:
            changes["metadata"] = changes["metadata"] or {}
        if self.response_format is not None:
            check_response_format(self.response_format)
        return changes


class AssistantCreate(AssistantFields):
    """CreateAssistantRequest: a model is required."""

    model: str = Field(min_length=1, max_length=256)


class MessageCreate(_Body):
    """CreateMessageRequest: text content only."""

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]
    attachments: list[Any] | None = None
    metadata: Metadata | None = _metadata_field()

    def new_message(self) -> NewMessage:
        """The message to store; UnsupportedFeature for attachments or non-text parts."""
        refuse_if_set("attachments", self.attachments, _NO_FILES)
        return NewMessage(role=self.role, text=text_of(self.content), metadata=self.metadata or {})


class ThreadCreate(_Body):
    """CreateThreadRequest."""

    messages: list[MessageCreate] | None = Field(default=None, max_length=32)
    metadata: Metadata | None = _metadata_field()
    tool_resources: Any = None

    def new_messages(self) -> list[NewMessage]:
        """The thread's first messages."""
        refuse_if_set("tool_resources", self.tool_resources, _NO_FILES)
        return [message.new_message() for message in self.messages or []]


class MetadataUpdate(_Body):
    """ModifyThreadRequest, ModifyMessageRequest, ModifyRunRequest: new labels."""

    metadata: Metadata | None = _metadata_field()
    tool_resources: Any = None


class _RunOptions(_Body):
    """The run fields CreateRunRequest and CreateThreadAndRunRequest share."""

    assistant_id: str = Field(min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_CALLER_TOOLS)
    metadata: Metadata | None = _metadata_field()
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: Any = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None
    tool_resources: Any = None

    def check_supported(self) -> list[dict[str, Any]] | None:
        """The run's own function tools (None: the assistant's); UnsupportedFeature for a
        field that asks for something runq does not do."""
        if self.stream:
            raise UnsupportedFeature(
                "runq does not stream runs (stream=true); create the run, then poll it",
                param="stream",
            )
        refuse_if_set(
            "instructions",
            self.instructions,
            "a run uses its assistant's instructions in runq; update the assistant instead "
            "(a new version)",
        )
        for name in ("temperature", "top_p", "max_prompt_tokens", "max_completion_tokens"):
            refuse_if_set(name, getattr(self, name))
        refuse_if_set("tool_resources", self.tool_resources, _NO_FILES)
        if self.tool_choice not in (None, "auto"):
            refuse_if_set("tool_choice", self.tool_choice, "runq lets the model choose (auto)")
        if self.parallel_tool_calls is False:
            refuse_if_set("parallel_tool_calls", False)
        if self.response_format not in (None, "auto"):
            refuse_if_set("response_format", self.response_format, "set it on the assistant")
        if self.truncation_strategy not in (None, {"type": "auto"}):
            refuse_if_set("truncation_strategy", self.truncation_strategy)
        return None if self.tools is None else function_tools(self.tools)


class RunCreate(_RunOptions):
    """CreateRunRequest."""

    additional_messages: list[MessageCreate] | None = Field(default=None, max_length=32)
    additional_instructions: str | None = None
    reasoning_effort: Any = None

    def check_supported(self) -> list[dict[str, Any]] | None:
        refuse_if_set("additional_instructions", self.additional_instructions)
        refuse_if_set("reasoning_effort", self.reasoning_effort)
        return super().check_supported()


class ThreadAndRunCreate(_RunOptions):
    """CreateThreadAndRunRequest."""

    thread: ThreadCreate | None = None


class ToolOutputs(_Body):
    """SubmitToolOutputsRunRequest: every waiting call's output, in one request."""

    tool_outputs: list[ToolOutputIn] = Field(max_length=MAX_CALLER_TOOLS * 4)
    stream: bool | None = None


def refuse_if_set(param: str, value: Any, why: str = "") -> None:
    """UnsupportedFeature naming `param` unless `value` is empty (None, false, [], {})."""
    if value is None or value is False or value in ([], {}, ""):
        return
    reason = f": {why}" if why else ""
    raise UnsupportedFeature(f"runq does not support '{param}'{reason}", param=param)


def function_tools(tools: list[dict[str, Any]], param: str = "tools") -> list[dict[str, Any]]:
    """`tools` as {"type": "function", "function": {...}} entries, checked; hosted tools are
    UnsupportedFeature, and a bad function a ValueError-like 400 naming its index."""
    checked: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        kind = tool.get("type")
        if kind in _HOSTED_TOOLS:
            raise UnsupportedFeature(
                f"runq does not support {kind} tools ({param}[{index}]): {_NO_FILES}; "
                "function tools are supported",
                param=f"{param}[{index}].type",
            )
        if kind != "function" or not isinstance(tool.get("function"), dict):
            raise InvalidBody(f"{param}[{index}] must be a function tool", f"{param}[{index}]")
        try:
            function = FunctionTool.model_validate({"type": "function", **tool["function"]})
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            raise InvalidBody(
                f"{param}[{index}].function: {message}", f"{param}[{index}]"
            ) from None
        checked.append({"type": "function", "function": function.model_dump(exclude={"type"})})
    names = [tool["function"]["name"] for tool in checked]
    if len(set(names)) != len(names):
        raise InvalidBody("function tool names must be unique", param)
    return checked


def text_of(content: str | list[dict[str, Any]]) -> str:
    """The text of a message's content: a string, or text parts joined by blank lines."""
    if isinstance(content, str):
        texts = [content]
    else:
        texts = []
        for index, part in enumerate(content):
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise UnsupportedFeature(
                    "runq's messages hold text only (no image_file or image_url parts)",
                    param=f"content[{index}]",
                )
            texts.append(part["text"])
    text = "\n\n".join(texts)
    if not text.strip() or len(text) > MAX_INPUT_CHARS or "\x00" in text:
        raise InvalidBody(
            f"content must be 1-{MAX_INPUT_CHARS} characters of text without NUL", "content"
        )
    return text


def check_response_format(value: Any) -> None:
    """ "auto", {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", ...}."""
    if value == "auto":
        return
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidBody("response_format must be 'auto' or a text/json_object/json_schema "
                          "format", "response_format")  # fmt: skip
    if kind == "json_schema" and not isinstance(value.get("json_schema", {}).get("schema"), dict):
        raise InvalidBody("response_format.json_schema.schema must be an object", "response_format")


class InvalidBody(ValueError):
    """A body the spec allows in shape but not in content: a 400 naming `param`."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param
