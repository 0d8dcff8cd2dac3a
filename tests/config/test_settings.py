"""Each settings group reads the variable the README documents, and every validator says
which setting is wrong."""

from __future__ import annotations

import pytest

from config.settings import SIMULATOR_API_KEY, Settings, load_settings
from workers.errors import ConfigError

ALL_VARIABLES = [
    "REDIS_URL",
    "RUNQ_CACHE_REDIS_URL",
    "RUNQ_REDIS_PREFIX",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "RUNQ_PROVIDER_TIMEOUT_S",
    "RUNQ_PROVIDER_MAX_ATTEMPTS",
    "RUNQ_PROVIDER_SDK_RETRIES",
    "RUNQ_PROVIDER_KEYS",
    "RUNQ_MODEL_PRICES",
    "RUNQ_LANE_PRICE_MULTIPLIERS",
    "RUNQ_BATCH_COLLECT_EVERY_S",
    "RUNQ_BATCH_RETRIES",
    "RUNQ_DEFAULT_MAX_OUTPUT_TOKENS",
    "RUNQ_POLL_FIRST_S",
    "RUNQ_POLL_FACTOR",
    "RUNQ_POLL_CAP_S",
    "RUNQ_RETRY_FIRST_S",
    "RUNQ_RETRY_CAP_S",
    "RUNQ_RUN_DEADLINE_S",
    "RUNQ_MAX_TURNS",
    "RUNQ_SWEEP_EVERY_S",
    "RUNQ_RECOVERY_GRACE_S",
    "RUNQ_SWEEP_BATCH",
    "RUNQ_MAX_RECOVERIES",
    "RUNQ_MAX_DELIVERIES",
    "RUNQ_AGENT_MISSING_RETRIES",
    "RUNQ_AGENT_MISSING_RETRY_S",
    "RUNQ_VISIBILITY_TIMEOUT_S",
    "RUNQ_AGENT_MODULES",
    "RUNQ_THREAD_RETENTION_S",
    "RUNQ_DEFAULT_REQUESTS_PER_MIN",
    "RUNQ_DEFAULT_TOKENS_PER_MIN",
    "RUNQ_MODEL_LIMITS",
    "RUNQ_CACHE_TTL_S",
    "RUNQ_TOOL_RETRIES",
    "RUNQ_TOOL_GRACE_S",
    "RUNQ_BREAKER_FAILURES",
    "RUNQ_BREAKER_COOLDOWN_S",
    "RUNQ_ENVIRONMENT",
    "RUNQ_MAX_RUN_AT_DAYS",
    "RUNQ_RUN_AT_SLACK_S",
    "RUNQ_SCHEDULE_EVERY_S",
    "RUNQ_SCHEDULE_MISSED_AFTER_S",
    "RUNQ_SCHEDULE_BATCH",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The suite's own environment (tests/conftest.py); tests of an unset one delete it.
    monkeypatch.setenv("RUNQ_ENVIRONMENT", "dev")


def test_defaults_make_a_fresh_checkout_run():
    settings = Settings()
    assert settings.redis.url is None
    assert settings.database.url == "sqlite:///runq.db"
    assert settings.uses_simulator_key
    assert (settings.polling.first_s, settings.polling.factor, settings.polling.cap_s) == (
        0.5,
        1.5,
        5.0,
    )


# What the JSON-valued variables below must parse to.
JSON_VALUES = {
    '{"team": "sk-team"}': "sk-team",
    '{"m": {"input_per_mtok": 1, "output_per_mtok": 2}}': 2.0,
    '["my.agents"]': ["my.agents"],
    '{"m": {"requests_per_min": 5}}': 5,
    '{"flex": 0.4}': 0.4,
}


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("REDIS_URL", "redis://r:6379/0", lambda s: s.redis.url),
        ("RUNQ_CACHE_REDIS_URL", "redis://c:6379/0", lambda s: s.redis.cache_url),
        ("RUNQ_REDIS_PREFIX", "team-a", lambda s: s.redis.prefix),
        ("DATABASE_URL", "postgresql+psycopg://u@h/runq", lambda s: s.database.url),
        ("OPENAI_API_KEY", "sk-real", lambda s: s.provider.api_key.get_secret_value()),
        ("OPENAI_BASE_URL", "http://vllm:8000/v1", lambda s: s.provider.base_url),
        ("RUNQ_PROVIDER_TIMEOUT_S", "12.5", lambda s: s.provider.timeout_s),
        ("RUNQ_PROVIDER_MAX_ATTEMPTS", "7", lambda s: s.provider.max_attempts),
        ("RUNQ_PROVIDER_SDK_RETRIES", "2", lambda s: s.provider.sdk_retries),
        (
            "RUNQ_PROVIDER_KEYS",
            '{"team": "sk-team"}',
            lambda s: s.provider.keys["team"].get_secret_value(),
        ),
        (
            "RUNQ_MODEL_PRICES",
            '{"m": {"input_per_mtok": 1, "output_per_mtok": 2}}',
            lambda s: s.provider.prices["m"].output_per_mtok,
        ),
        ("RUNQ_DEFAULT_MAX_OUTPUT_TOKENS", "256", lambda s: s.provider.default_max_output_tokens),
        ("RUNQ_POLL_FIRST_S", "0.25", lambda s: s.polling.first_s),
        ("RUNQ_POLL_FACTOR", "2", lambda s: s.polling.factor),
        ("RUNQ_POLL_CAP_S", "3", lambda s: s.polling.cap_s),
        ("RUNQ_RETRY_FIRST_S", "0.5", lambda s: s.polling.retry_first_s),
        ("RUNQ_RETRY_CAP_S", "9", lambda s: s.polling.retry_cap_s),
        ("RUNQ_RUN_DEADLINE_S", "60", lambda s: s.runs.deadline_s),
        ("RUNQ_MAX_TURNS", "4", lambda s: s.runs.max_turns),
        ("RUNQ_SWEEP_EVERY_S", "1", lambda s: s.runs.sweep_every_s),
        ("RUNQ_RECOVERY_GRACE_S", "3", lambda s: s.runs.recovery_grace_s),
        ("RUNQ_SWEEP_BATCH", "50", lambda s: s.runs.sweep_batch),
        ("RUNQ_MAX_RECOVERIES", "7", lambda s: s.runs.max_recoveries),
        ("RUNQ_MAX_DELIVERIES", "2", lambda s: s.runs.max_deliveries),
        ("RUNQ_AGENT_MISSING_RETRIES", "4", lambda s: s.runs.agent_missing_retries),
        ("RUNQ_AGENT_MISSING_RETRY_S", "0.5", lambda s: s.runs.agent_missing_retry_s),
        ("RUNQ_VISIBILITY_TIMEOUT_S", "900", lambda s: s.runs.visibility_timeout_s),
        ("RUNQ_AGENT_MODULES", '["my.agents"]', lambda s: s.runs.agent_modules),
        ("RUNQ_THREAD_RETENTION_S", "60", lambda s: s.runs.thread_retention_s),
        ("RUNQ_DEFAULT_REQUESTS_PER_MIN", "300", lambda s: s.limits.default_requests_per_min),
        ("RUNQ_DEFAULT_TOKENS_PER_MIN", "9000", lambda s: s.limits.default_tokens_per_min),
        (
            "RUNQ_MODEL_LIMITS",
            '{"m": {"requests_per_min": 5}}',
            lambda s: s.limits.model_limits["m"].requests_per_min,
        ),
        ("RUNQ_CACHE_TTL_S", "60", lambda s: s.cache.ttl_s),
        ("RUNQ_TOOL_RETRIES", "0", lambda s: s.tools.retries),
        ("RUNQ_TOOL_GRACE_S", "5", lambda s: s.tools.grace_s),
        ("RUNQ_BREAKER_FAILURES", "3", lambda s: s.tools.breaker_failures),
        ("RUNQ_BREAKER_COOLDOWN_S", "10", lambda s: s.tools.breaker_cooldown_s),
        ("RUNQ_MAX_RUN_AT_DAYS", "30", lambda s: s.schedules.max_run_at_days),
        ("RUNQ_RUN_AT_SLACK_S", "2", lambda s: s.schedules.run_at_slack_s),
        ("RUNQ_SCHEDULE_EVERY_S", "5", lambda s: s.schedules.every_s),
        ("RUNQ_SCHEDULE_MISSED_AFTER_S", "120", lambda s: s.schedules.missed_after_s),
        ("RUNQ_SCHEDULE_BATCH", "10", lambda s: s.schedules.batch),
        ("RUNQ_BATCH_COLLECT_EVERY_S", "5", lambda s: s.runs.batch_collect_every_s),
        ("RUNQ_BATCH_RETRIES", "0", lambda s: s.runs.batch_retries),
        ("RUNQ_LIMIT_HEADROOM_MS", "250", lambda s: s.limits.limit_headroom_ms),
        (
            "RUNQ_LANE_PRICE_MULTIPLIERS",
            '{"flex": 0.4}',
            lambda s: s.provider.lane_price_multipliers["flex"],
        ),
    ],
)
def test_each_documented_variable_reaches_its_group(monkeypatch, variable, value, read):
    monkeypatch.setenv(variable, value)
    got = read(load_settings())
    if value in JSON_VALUES:
        assert got == JSON_VALUES[value]
    else:
        assert got == (value if isinstance(got, str) else type(got)(value))


def test_unparseable_json_names_the_setting(monkeypatch):
    monkeypatch.setenv("RUNQ_MODEL_LIMITS", "not json")
    with pytest.raises(ConfigError, match="model_limits"):
        load_settings()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('{"turbo": 0.5}', "unknown lane 'turbo'; lanes are: interactive, standard, flex, batch"),
        ('{"flex": 0}', "lane 'flex' needs a multiplier > 0"),
    ],
)
def test_a_bad_lane_multiplier_says_which(monkeypatch, value, says):
    monkeypatch.setenv("RUNQ_LANE_PRICE_MULTIPLIERS", value)
    with pytest.raises(ConfigError, match=says):
        load_settings()


def test_a_value_out_of_range_names_the_field(monkeypatch):
    monkeypatch.setenv("RUNQ_MAX_TURNS", "0")
    with pytest.raises(ConfigError, match="max_turns"):
        load_settings()


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_the_simulator_key_is_refused_outside_dev(monkeypatch, environment):
    monkeypatch.setenv("RUNQ_ENVIRONMENT", environment)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        load_settings().require_deployable()


def test_a_real_key_passes_outside_dev(monkeypatch):
    monkeypatch.setenv("RUNQ_ENVIRONMENT", "production")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123")
    monkeypatch.setenv("RUNQ_CALLBACK_SECRET", "whsec_" + "a" * 40)  # also required (issue 8)
    settings = load_settings()
    assert not settings.uses_simulator_key
    assert settings.provider.api_key.get_secret_value() != SIMULATOR_API_KEY


def test_the_visibility_timeout_must_exceed_the_poll_cap(monkeypatch):
    monkeypatch.setenv("RUNQ_POLL_CAP_S", "200")
    with pytest.raises(ConfigError, match="RUNQ_VISIBILITY_TIMEOUT_S"):
        load_settings()


def test_broker_url_without_redis_says_what_to_do():
    with pytest.raises(ConfigError, match="REDIS_URL is not set"):
        _ = Settings().broker_url


def test_secrets_never_print():
    settings = Settings()
    assert SIMULATOR_API_KEY not in repr(settings)
