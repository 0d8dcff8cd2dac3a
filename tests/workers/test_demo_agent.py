"""The demo tools: deterministic, schema-valid, registered on the default registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]  # ships no type information
import pytest

from workers.demo_agent import get_weather, search_documents
from workers.tools.invoke import invoke_tool
from workers.tools.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]
BUILTIN_NAMES = ["get_weather", "search_documents"]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtins_are_registered_pure_with_valid_schemas(name: str) -> None:
    spec = default_registry.get(name)
    (schema,) = default_registry.function_schemas([name])

    assert spec.pure is True
    assert spec.description
    jsonschema.Draft202012Validator.check_schema(schema["parameters"])
    assert schema["parameters"]["additionalProperties"] is False


def test_get_weather_is_deterministic_and_shaped() -> None:
    first = get_weather("Paris")
    again = get_weather("  paris ")

    assert set(first) == {"location", "temperature", "unit", "conditions"}
    assert first["unit"] == "fahrenheit"
    assert {k: v for k, v in first.items() if k != "location"} == {
        k: v for k, v in again.items() if k != "location"
    }
    assert get_weather("Paris", "celsius") == get_weather("Paris", unit="celsius")
    cities = ["Paris", "Oslo", "Lima", "Cairo", "Perth"]
    assert len({get_weather(city)["temperature"] for city in cities}) > 1


@pytest.mark.parametrize("location", ["Paris", "Tokyo", "Reykjavík", ""])
def test_get_weather_units_agree(location: str) -> None:
    celsius = get_weather(location, "celsius")["temperature"]
    fahrenheit = get_weather(location, "fahrenheit")["temperature"]

    assert isinstance(celsius, int)
    assert -10 <= celsius <= 35
    assert fahrenheit == round(celsius * 9 / 5 + 32)


def test_search_ranks_by_word_overlap_and_is_deterministic() -> None:
    result = search_documents("Redis rate limit token bucket")

    assert result == search_documents("Redis rate limit token bucket")
    results = result["results"]
    assert isinstance(results, list)
    assert results[0]["id"] == "doc-4"
    assert all(set(r) == {"id", "title", "snippet", "score"} for r in results)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert len(results) <= 5


@pytest.mark.parametrize(("max_results", "expected_len"), [(1, 1), (0, 1), (100, 8)])
def test_search_max_results_is_clamped(max_results: int, expected_len: int) -> None:
    # Between them these words appear in every one of the 8 documents in the corpus.
    result = search_documents("runq Celery Redis tool model task", max_results=max_results)

    assert len(result["results"]) == expected_len  # type: ignore[arg-type]


def test_search_with_no_matching_words_returns_no_results() -> None:
    assert search_documents("the of and")["results"] == []
    assert search_documents("kubernetes")["results"] == []


def test_builtins_through_invoke_tool() -> None:
    weather = invoke_tool(
        default_registry, "get_weather", '{"location": "Paris"}', allowed_names=BUILTIN_NAMES
    )
    search = invoke_tool(
        default_registry, "search_documents", '{"query": "celery queues", "max_results": 2}'
    )

    assert json.loads(weather.output) == get_weather("Paris")
    assert json.loads(search.output) == search_documents("celery queues", 2)
    assert not weather.is_error
    assert not search.is_error


USER_TOOLS = '''
from workers.tools.registry import tool


@tool
def get_weather(city: str) -> str:
    """The user's own get_weather: another signature, same name as the demo's."""
    return city
'''


def test_user_tools_may_take_the_demo_tools_names(tmp_path) -> None:
    # A fresh interpreter: this one has the demo agent loaded already.
    (tmp_path / "my_tools.py").write_text(USER_TOOLS)
    code = (
        "import sys; from workers.agent_modules import load_agent_modules; "
        "from workers.tools.registry import default_registry; "
        "load_agent_modules(['my_tools']); "
        "assert 'workers.demo_agent' not in sys.modules; "
        "print(default_registry.get('get_weather').parameters['required'])"
    )
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['city']"


def test_no_agent_modules_loads_the_demo_agent() -> None:
    from workers.agent_modules import load_agent_modules
    from workers.agents import agent_names

    load_agent_modules([])
    assert "assistant" in agent_names()
