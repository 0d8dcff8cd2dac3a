"""The demo agent `assistant` and its two tools, registered on `default_registry`.

Loaded only for the demo (a fresh checkout with no RUNQ_AGENT_MODULES, or `runq demo`), so a
user's own `get_weather` never collides with these; import this module to use both.

Both are deterministic (no clock, no randomness, no network), so demo runs and tests give the
same answers every time, and both are pure, so answers that used them may be cached.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Annotated, Literal

from workers.agents import Agent, register_agent
from workers.tools.registry import tool

_CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "heavy rain", "windy", "snow")
# Fake temperatures span a plausible range for somewhere on Earth: -10 to 35 °C.
_LOWEST_C = -10
_RANGE_C = 46
# search_documents never returns more than this, however many the model asks for.
_MAX_RESULTS = 10
_SNIPPET_CHARS = 120
# Words too common to say anything about which document matches.
_STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "does",
        "do",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
    }
)


@dataclass(frozen=True, slots=True)
class _Document:
    id: str
    title: str
    text: str


_CORPUS = (
    _Document(
        "doc-1",
        "What runq is",
        "runq runs LLM agent runs on a fleet of Celery workers. The model asks for tool calls, "
        "runq executes them and sends the outputs back until the run finishes.",
    ),
    _Document(
        "doc-2",
        "Celery queues in runq",
        "runq routes tasks to two Celery queues: runs for polling and submitting model turns, "
        "and tools for executing tool calls. Scale each worker pool on its own.",
    ),
    _Document(
        "doc-3",
        "Redis as broker",
        "Redis is the Celery broker and result backend. A fresh checkout starts an embedded "
        "Redis server when REDIS_URL is not set.",
    ),
    _Document(
        "doc-4",
        "Shared rate limiting",
        "Every worker takes tokens from one Redis token bucket per model, with a Lua script "
        "that checks requests per minute and tokens per minute atomically.",
    ),
    _Document(
        "doc-5",
        "Response cache",
        "Model responses are cached in Redis under a sha256 key of the canonical request. "
        "Only runs whose tools are all pure may be served from the cache.",
    ),
    _Document(
        "doc-6",
        "Retries and backoff",
        "runq owns retries: a retryable error is tried again after a delay that grows to a "
        "cap with jitter. Tasks wait with countdown, never with sleep.",
    ),
    _Document(
        "doc-7",
        "Writing a tool",
        "Decorate a typed Python function with @tool. The JSON schema comes from its type "
        "hints and the description from its docstring. A failing tool becomes an error output.",
    ),
    _Document(
        "doc-8",
        "Idempotent tasks",
        "Celery tasks run with acks_late, so a task may run twice. Each task checks the run "
        "status in the database first and a tool call that already ran returns its stored output.",
    ),
)


@tool(timeout_s=5.0, pure=True, idempotent=True)
def get_weather(
    location: Annotated[str, "City name, e.g. Paris"],
    unit: Literal["celsius", "fahrenheit"] = "fahrenheit",
) -> dict[str, object]:
    """Get the current weather for a city: temperature, unit and conditions.

    Demo data: the same city always gets the same weather.
    """
    # crc32 rather than hash(): Python salts str hashes per process.
    seed = zlib.crc32(location.strip().lower().encode())
    celsius = _LOWEST_C + seed % _RANGE_C
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {
        "location": location,
        "temperature": temperature,
        "unit": unit,
        "conditions": _CONDITIONS[(seed >> 8) % len(_CONDITIONS)],
    }


@tool(timeout_s=5.0, pure=True, idempotent=True)
def search_documents(
    query: Annotated[str, "What to look for"],
    max_results: Annotated[int, "How many results to return, 1 to 10"] = 5,
) -> dict[str, object]:
    """Search the runq documentation (runq, Celery, Redis, tools, retries) by keywords.

    Returns the best matching documents with a short snippet, best first; an empty list means
    nothing matched, so try other words.
    """
    terms = _words(query)
    scored = []
    for doc in _CORPUS:
        overlap = len(terms & _words(f"{doc.title} {doc.text}"))
        if overlap:
            scored.append((round(overlap / len(terms), 3), doc))
    scored.sort(key=lambda item: (-item[0], item[1].id))
    limit = min(max(max_results, 1), _MAX_RESULTS)
    return {
        "query": query,
        "results": [
            {"id": doc.id, "title": doc.title, "snippet": _snippet(doc.text), "score": score}
            for score, doc in scored[:limit]
        ],
    }


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9_]+", text.lower())) - _STOP_WORDS


def _snippet(text: str) -> str:
    if len(text) <= _SNIPPET_CHARS:
        return text
    return text[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + "..."


register_agent(
    Agent(
        name="assistant",
        model="gpt-5.4-mini",
        instructions=(
            "You are a helpful assistant. Use get_weather for weather questions and "
            "search_documents to look things up; answer briefly."
        ),
        tools=("get_weather", "search_documents"),
        max_output_tokens=512,
    )
)
