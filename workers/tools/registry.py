"""Tools by name: the `@tool` decorator, `ToolSpec` and the registry that holds them.

    @tool(timeout_s=5.0, pure=True)
    def get_weather(location: Annotated[str, "City name"]) -> dict[str, object]:
        \"\"\"Current weather for a city.\"\"\"

The decorator reads the JSON schema from the type hints (see `hint_schema`) and the
description from the docstring's first paragraph, registers a `ToolSpec`, and returns the
function unchanged so it can still be called directly.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast, overload

import jsonschema  # type: ignore[import-untyped]  # ships no type information

from workers.errors import UnknownTool
from workers.observability.log_format import hidden
from workers.tools.hint_schema import build_parameters_schema, describe_function

log = logging.getLogger("runq.tools")

# The function-name rule of the OpenAI APIs, which is also the strictest among providers.
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One callable tool: what the model is told about it and how runq runs it."""

    name: str
    """What the model calls it; letters, digits, `_` and `-`, at most 64 characters."""
    description: str
    """Told to the model: when to use the tool and what it returns."""
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""
    fn: Callable[..., Any]
    """The function that does the work, called with keyword arguments."""
    is_async: bool
    """`fn` returns an awaitable (an `async def`)."""
    timeout_s: float = 10.0
    """How long one call may run: then its process is killed and the model gets a timeout
    error."""
    retryable: bool = False
    """A call that raised or timed out gets RUNQ_TOOL_RETRIES more tries, if the tool is also
    `idempotent`: a tool that failed part-way may have had its effect, so any other is never
    run again (its error output tells the model it may or may not have run)."""
    idempotent: bool = False
    """Safe to execute again: a call cut off by a lost worker is re-run (at-least-once)
    instead of being answered "interrupted". Leave False for anything with effects that
    must not happen twice (a payment): such calls run at most once."""
    pure: bool = False
    """No side effects; safe to cache answers that used it."""
    secret_args: frozenset[str] = frozenset()
    """Arguments that carry secrets: shown as `***` wherever a call is shown, and scrubbed
    from every log line while the tool runs."""
    needs_approval: bool | Callable[[dict[str, Any]], bool] = False
    """A person approves each call before it runs (True), or the calls whose arguments the
    predicate returns True for: the run waits in `requires_action`, holding no worker."""
    caller_executed: bool = False
    """runq never runs it: the caller does, and submits the output (the run waits in
    `requires_action`). Declared with `caller_tool(...)`; `fn` is never called."""

    def approval_needed(self, arguments: str) -> bool:
        """Whether a call with these (JSON) arguments waits for a person. A predicate that
        raises, or arguments that are not a JSON object, need approval: when in doubt, ask."""
        if not callable(self.needs_approval):
            return self.needs_approval
        try:
            parsed = json.loads(arguments or "{}")
            return not isinstance(parsed, dict) or bool(self.needs_approval(parsed))
        except Exception:  # a user's predicate: any failure is "ask a person"
            log.warning("tool %s: approval predicate failed; asking for approval", self.name)
            return True

    def longest_run_s(self, retries: int) -> float:
        """How long one call may hold its worker: every try that it may get, each stopped at
        the timeout (only an idempotent tool is tried again)."""
        tries = 1 + (retries if self.retryable and self.idempotent else 0)
        return tries * self.timeout_s

    def __post_init__(self) -> None:
        if not TOOL_NAME_PATTERN.fullmatch(self.name):
            raise ValueError(
                f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-' "
                "(the providers' function-name rule)"
            )
        if not self.timeout_s > 0:
            raise ValueError(
                f"tool {self.name!r}: timeout_s must be positive, not {self.timeout_s}"
            )


class ToolRegistry:
    """Tool specs by name."""

    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> ToolSpec:
        """Add `spec`; raises ValueError if its schema is invalid or its name belongs to another
        function (re-registering the same module-level function, as a reload does, replaces it)."""
        try:
            jsonschema.validators.validator_for(spec.parameters).check_schema(spec.parameters)
        except jsonschema.SchemaError as exc:
            raise ValueError(
                f"tool {spec.name!r}: invalid parameters schema: {exc.message}"
            ) from exc
        existing = self._specs.get(spec.name)
        if existing is not None and _origin(existing.fn) != _origin(spec.fn):
            raise ValueError(
                f"tool name {spec.name!r} is already taken by {_origin(existing.fn)}; "
                f"pick another name for {_origin(spec.fn)}"
            )
        if spec.secret_args:
            spec = replace(spec, fn=_hiding_secret_arguments(spec.fn, spec.secret_args))
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> ToolSpec:
        """The spec called `name`, or UnknownTool listing the names that exist."""
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(self.names()) or "(none)"
            raise UnknownTool(f"no tool named {name!r}; known tools: {known}") from None

    def names(self) -> list[str]:
        """Every registered tool name, sorted."""
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def function_schemas(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """Provider-neutral function declarations for `names`, in that order.

        Each is `{"name", "description", "parameters", "strict": False}`; adapters reshape it
        for their API. Raises UnknownTool for a name that is not registered.
        """
        return [
            {
                "name": spec.name,
                "description": spec.description,
                # A copy, so an adapter that edits its payload cannot change the registry.
                "parameters": copy.deepcopy(spec.parameters),
                "strict": False,
            }
            for spec in (self.get(name) for name in names)
        ]


default_registry = ToolRegistry()
"""The registry the built-in and the user's `@tool` functions go into."""


def build_tool_spec(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = 10.0,
    retryable: bool = False,
    pure: bool = False,
    idempotent: bool = False,
    secret_args: Iterable[str] = (),
    needs_approval: bool | Callable[[dict[str, Any]], bool] = False,
) -> ToolSpec:
    """A spec for `fn` with its schema read from its type hints; raises TypeError if it can't."""
    return ToolSpec(
        name=name if name is not None else fn.__name__,
        description=description if description is not None else describe_function(fn),
        parameters=build_parameters_schema(fn),
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        timeout_s=timeout_s,
        retryable=retryable,
        pure=pure,
        idempotent=idempotent,
        secret_args=frozenset(secret_args),
        needs_approval=needs_approval,
    )


@overload
def tool(fn: F) -> F: ...


@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = 10.0,
    retryable: bool = False,
    pure: bool = False,
    idempotent: bool = False,
    secret_args: Iterable[str] = (),
    needs_approval: bool | Callable[[dict[str, Any]], bool] = False,
    registry: ToolRegistry = default_registry,
) -> Callable[[F], F]: ...


def tool(
    fn: F | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = 10.0,
    retryable: bool = False,
    pure: bool = False,
    idempotent: bool = False,
    secret_args: Iterable[str] = (),
    needs_approval: bool | Callable[[dict[str, Any]], bool] = False,
    registry: ToolRegistry = default_registry,
) -> F | Callable[[F], F]:
    """Register a function as a tool; use bare (`@tool`) or with options (`@tool(pure=True)`).

    `needs_approval=True` (or a predicate on the arguments dict) makes each call wait for a
    person's approval before it runs. The function is returned unchanged. Its schema errors
    are raised here, at import time.
    """

    def decorate(target: F) -> F:
        registry.register(
            build_tool_spec(
                target,
                name=name,
                description=description,
                timeout_s=timeout_s,
                retryable=retryable,
                pure=pure,
                idempotent=idempotent,
                secret_args=secret_args,
                needs_approval=needs_approval,
            )
        )
        return target

    return decorate if fn is None else decorate(fn)


def caller_tool(
    name: str,
    description: str,
    parameters: dict[str, Any] | None = None,
    *,
    registry: ToolRegistry = default_registry,
) -> ToolSpec:
    """Declare a tool that the caller runs, not runq: a name, what it does, and its
    arguments' JSON schema. A call to it pauses the run in `requires_action` until the
    caller submits its output (`POST /v1/runs/{id}/submit_tool_outputs`)."""

    def never_run(**_: Any) -> Any:
        raise RuntimeError(f"tool {name!r} is executed by the caller, never by a worker")

    never_run.__module__ = f"caller_tool:{name}"
    never_run.__qualname__ = name
    schema = parameters if parameters is not None else {"type": "object", "properties": {}}
    spec = ToolSpec(
        name=name,
        description=description,
        parameters=schema,
        fn=never_run,
        is_async=False,
        caller_executed=True,
    )
    return registry.register(spec)


def _hiding_secret_arguments(fn: Callable[..., Any], secret: frozenset[str]) -> Callable[..., Any]:
    """`fn`, with the values of its `secret` arguments scrubbed from every log line while it
    runs (the tool's own lines, a library's, a traceback's). Signature and hints are kept."""
    if getattr(fn, "_runq_hides", None) == secret:
        return fn  # registered again (dataclasses.replace of a registered spec)

    def values(kwargs: dict[str, Any]) -> list[str]:
        return [str(v) for k, v in kwargs.items() if k in secret and v is not None]

    wrapped: Any
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            with hidden(values(kwargs)):
                return await fn(*args, **kwargs)

    else:

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with hidden(values(kwargs)):
                return fn(*args, **kwargs)

    wrapped._runq_hides = secret
    return cast(Callable[..., Any], wrapped)


def _origin(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"
