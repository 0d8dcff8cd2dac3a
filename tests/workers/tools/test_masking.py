"""Secret tool arguments as every door shows them (workers/tools/masking.py)."""

from __future__ import annotations

import json

import pytest

from workers.tools.masking import SECRET_MASK, masked_arguments, scrubbed_text
from workers.tools.registry import ToolRegistry, build_tool_spec


def login(user: str, password: str, pin: int = 0) -> str:
    return "ok"


def weather(location: str) -> str:
    return "sunny"


@pytest.fixture
def registry() -> ToolRegistry:
    tools = ToolRegistry()
    tools.register(build_tool_spec(login, secret_args=("password", "pin")))
    tools.register(build_tool_spec(weather))
    return tools


def test_secret_values_are_masked_and_the_rest_is_kept(registry):
    shown = masked_arguments(
        "login", '{"user": "ann", "password": "hunter22", "pin": 1234}', registry
    )
    assert json.loads(shown) == {"user": "ann", "password": SECRET_MASK, "pin": SECRET_MASK}


def test_a_tool_without_secrets_is_shown_as_it_is(registry):
    assert masked_arguments("weather", '{"location": "Paris"}', registry) == '{"location": "Paris"}'


@pytest.mark.parametrize("arguments", ['{"password": "hunter22"', '["hunter22"]', "hunter22"])
def test_unreadable_arguments_of_a_tool_with_secrets_are_masked_whole(registry, arguments):
    assert masked_arguments("login", arguments, registry) == SECRET_MASK


def test_a_tool_this_process_does_not_know_shows_no_value(registry):
    # Its module is not loaded here (or the model made the name up): any argument could be a
    # secret, so only the names are shown.
    shown = masked_arguments("transfer", '{"iban": "DE89370400440532013000"}', registry)
    assert json.loads(shown) == {"iban": SECRET_MASK}


def test_an_output_or_error_that_quotes_a_secret_value_is_scrubbed(registry):
    arguments = '{"user": "ann", "password": "hunter22", "pin": 98765}'
    error = "InvalidToolArguments: 'hunter22' is too weak; pin 98765 locked for ann"
    assert scrubbed_text(error, "login", arguments, registry) == (
        f"InvalidToolArguments: '{SECRET_MASK}' is too weak; pin {SECRET_MASK} locked for ann"
    )
    assert scrubbed_text(None, "login", arguments, registry) is None
    assert scrubbed_text("Paris: sunny", "weather", '{"location": "Paris"}', registry) == (
        "Paris: sunny"
    )
