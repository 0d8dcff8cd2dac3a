"""The front door's settings (issue 8): each variable reaches its group, and the callback
signing secret must be real outside dev."""

from __future__ import annotations

import pytest

from config.settings import PLACEHOLDER_CALLBACK_SECRET, load_settings
from workers.errors import ConfigError

VARIABLES = [
    "RUNQ_API_MAX_BODY_BYTES",
    "RUNQ_EVENTS_TTL_S",
    "RUNQ_EVENTS_MAX_LEN",
    "RUNQ_CALLBACK_SECRET",
    "RUNQ_CALLBACK_ALLOW_PRIVATE",
    "RUNQ_CALLBACK_RETRY_FIRST_S",
    "RUNQ_CALLBACK_GIVE_UP_S",
    "RUNQ_CALLBACK_TIMEOUT_S",
    "OPENAI_WEBHOOK_SECRET",
    "RUNQ_WEBHOOK_POLL_FIRST_S",
    "RUNQ_ENVIRONMENT",
    "OPENAI_API_KEY",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The suite's own environment (tests/conftest.py); tests of an unset one delete it.
    monkeypatch.setenv("RUNQ_ENVIRONMENT", "dev")


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("RUNQ_API_MAX_BODY_BYTES", "1024", lambda s: s.api.max_body_bytes),
        ("RUNQ_EVENTS_TTL_S", "60", lambda s: s.api.events_ttl_s),
        ("RUNQ_EVENTS_MAX_LEN", "50", lambda s: s.api.events_max_len),
        (
            "RUNQ_CALLBACK_SECRET",
            "whsec_" + "c" * 40,
            lambda s: s.callbacks.secret.get_secret_value(),
        ),
        ("RUNQ_CALLBACK_ALLOW_PRIVATE", "true", lambda s: s.callbacks.allow_private),
        ("RUNQ_CALLBACK_RETRY_FIRST_S", "0.5", lambda s: s.callbacks.retry_first_s),
        ("RUNQ_CALLBACK_GIVE_UP_S", "60", lambda s: s.callbacks.give_up_s),
        ("RUNQ_CALLBACK_TIMEOUT_S", "3", lambda s: s.callbacks.timeout_s),
        ("OPENAI_WEBHOOK_SECRET", "whsec_x", lambda s: s.webhooks.secret.get_secret_value()),
        ("RUNQ_WEBHOOK_POLL_FIRST_S", "12", lambda s: s.webhooks.poll_first_s),
    ],
)
def test_each_front_door_variable_reaches_its_group(monkeypatch, variable, value, read):
    monkeypatch.setenv(variable, value)
    got = read(load_settings())
    expected = value == "true" if isinstance(got, bool) else type(got)(value)
    assert got == expected


def test_defaults_refuse_private_callbacks_and_leave_webhooks_off():
    settings = load_settings()
    assert settings.callbacks.allow_private is False
    assert settings.webhooks.secret is None
    assert settings.callbacks.secret.get_secret_value() == PLACEHOLDER_CALLBACK_SECRET


def test_the_placeholder_callback_secret_is_refused_outside_dev(monkeypatch):
    monkeypatch.setenv("RUNQ_ENVIRONMENT", "production")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123")
    with pytest.raises(ConfigError, match="RUNQ_CALLBACK_SECRET"):
        load_settings().require_deployable()
    monkeypatch.setenv("RUNQ_CALLBACK_SECRET", "whsec_" + "b" * 40)
    assert load_settings().environment == "production"


def test_an_unset_environment_is_production_and_says_so(monkeypatch):
    # Issue 16: the default was dev, so a deploy that forgot its secrets signed callbacks
    # with the placeholder printed in config/settings.py.
    monkeypatch.delenv("RUNQ_ENVIRONMENT")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123")
    with pytest.raises(ConfigError, match=r"RUNQ_CALLBACK_SECRET is not set \(RUNQ_ENVIRONMENT is"):
        load_settings().require_deployable()
    monkeypatch.setenv("RUNQ_CALLBACK_SECRET", "whsec_" + "b" * 40)
    assert load_settings().environment == "production"


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_abc",  # decodes to 2 bytes
        "whsec_",
        "abc" + "A" * 40,  # no whsec_ prefix
        "whsec_" + "A" * 30 + "!!!!",  # not base64
        "whsec_" + "A" * 31,  # bad padding
    ],
)
@pytest.mark.parametrize("environment", ["dev", "production"])
def test_a_malformed_callback_secret_is_refused_in_every_environment(
    monkeypatch, secret, environment
):
    monkeypatch.setenv("RUNQ_ENVIRONMENT", environment)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123")
    monkeypatch.setenv("RUNQ_CALLBACK_SECRET", secret)
    with pytest.raises(ConfigError, match="RUNQ_CALLBACK_SECRET is malformed") as caught:
        load_settings()
    assert secret == "whsec_" or secret not in str(caught.value)  # never echoed
