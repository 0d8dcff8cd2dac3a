"""All configuration, read from the environment in one place.

Standard names where they exist (`REDIS_URL`, `DATABASE_URL`, `OPENAI_API_KEY`,
`OPENAI_BASE_URL`); everything of ours is `RUNQ_*`. With nothing set, a fresh checkout runs:
the demo starts an embedded Redis and the simulator, and the database is a SQLite file.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The simulator accepts any key; this one marks "no real key configured".
SIMULATOR_API_KEY = "sk-runq-simulator"


# Signs callbacks in a fresh checkout; refused outside dev so nobody ships it.
PLACEHOLDER_CALLBACK_SECRET = "whsec_cnVucS1kZXYtY2FsbGJhY2stc2VjcmV0LWNoYW5nZXRoaXM="


class ModelLimits(BaseModel):
    """The provider's limits for one model (0 = no limit on that dimension)."""

    requests_per_min: int = Field(0, ge=0)
    tokens_per_min: int = Field(0, ge=0)


class ModelPrice(BaseModel):
    """US dollars per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class Settings(BaseSettings):
    """runq settings. Every field can be set by the env var named in its alias."""

    model_config = SettingsConfigDict(env_prefix="RUNQ_", extra="ignore", populate_by_name=True)

    environment: str = Field("dev", description="dev | test | production")

    # -- connections (standard variable names) ------------------------------------------
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    cache_redis_url: str | None = Field(
        None,
        description="Separate Redis for the response cache, which may evict; the broker must not.",
    )
    database_url: str = Field(
        "sqlite:///runq.db", validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    openai_api_key: SecretStr = Field(
        SecretStr(SIMULATOR_API_KEY),
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )

    # -- provider calls -------------------------------------------------------------------
    provider_timeout_s: float = 30.0
    provider_max_attempts: int = Field(5, description="Transient provider errors per step.")
    provider_sdk_retries: int = Field(
        0,
        description="The SDK's own retry loop. Keep 0: runq retries without blocking a worker; "
        "the limiter benchmark sets 2 to measure the naive setup.",
    )

    # -- polling (seconds) ------------------------------------------------------------------
    poll_first_s: float = 0.5
    poll_factor: float = 1.5
    poll_cap_s: float = 5.0
    retry_first_s: float = 1.0
    retry_cap_s: float = 30.0

    # -- runs -------------------------------------------------------------------------------
    run_deadline_s: float = Field(900.0, description="A run still going after this ends expired.")
    max_turns: int = Field(10, description="Tool round trips before a looping run is failed.")
    reaper_stale_s: float = Field(120.0, description="No progress for this long: reschedule.")

    # -- celery -----------------------------------------------------------------------------
    visibility_timeout_s: int = Field(
        600, description="Broker redelivery of unacked messages; must exceed every countdown."
    )
    agent_modules: list[str] = Field(
        default_factory=list,
        description="Modules to import at start-up that declare agents and tools (JSON list).",
    )
    tool_grace_s: float = Field(
        30.0, description="A call still 'running' this long past its timeout was interrupted."
    )

    # -- limits and cache (issue 3 grows these) -----------------------------------------------
    default_requests_per_min: int = Field(0, description="Per API key and model; 0 = no limit.")
    default_tokens_per_min: int = Field(0, description="Per API key and model; 0 = no limit.")
    model_limits: dict[str, ModelLimits] = Field(
        default_factory=dict,
        description='Per-model limits, JSON: {"gpt-5.4": {"requests_per_min": 500, ...}}.',
    )
    redis_prefix: str = "runq"
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description='Prices for cost accounting, JSON: {"gpt-5.4": {"input_per_mtok": 1.25, '
        '"output_per_mtok": 10}}; models without a price cost 0.',
    )
    provider_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Named API keys for agents that use their own (Agent.api_key_name), JSON.",
    )
    tool_retries: int = Field(2, ge=0, description="Extra tries for tools marked retryable.")
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open a tool.")
    breaker_cooldown_s: float = Field(30.0, gt=0, description="How long an open tool rests.")
    thread_retention_s: float = Field(30 * 24 * 3600.0, description="Idle threads archived after.")
    default_max_output_tokens: int = 1024
    cache_ttl_s: int = 3600

    # -- the front door (issue 8): HTTP API, run events, callbacks -------------------------
    api_max_body_bytes: int = Field(256 * 1024, gt=0, description="Larger bodies answer 413.")
    events_ttl_s: int = Field(24 * 3600, gt=0, description="A run's event stream lives this long.")
    events_max_len: int = Field(1000, gt=0, description="Events kept per run (oldest dropped).")
    callback_secret: SecretStr = Field(
        SecretStr(PLACEHOLDER_CALLBACK_SECRET),
        description="Signs callbacks (Standard Webhooks, whsec_<base64>); set it outside dev.",
    )
    callback_allow_private: bool = Field(
        False, description="Allow callback URLs on loopback/private networks (tests only)."
    )
    openai_webhook_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_WEBHOOK_SECRET", "openai_webhook_secret"),
        description="Verifies POST /v1/webhooks/openai (whsec_…); unset: webhooks are refused.",
    )
    webhook_poll_first_s: float = Field(
        30.0, gt=0, description="Agents with provider_webhooks: first poll of a turn (fallback)."
    )
    callback_retry_first_s: float = Field(5.0, gt=0, description="First callback retry delay.")
    callback_give_up_s: float = Field(3600.0, gt=0, description="Callbacks retried this long.")
    callback_timeout_s: float = Field(10.0, gt=0, description="One callback POST's timeout.")

    @property
    def broker_url(self) -> str:
        """Broker URL; without REDIS_URL there is nothing shared to talk to."""
        if not self.redis_url:
            raise ValueError(
                "REDIS_URL is not set. Point it at your Redis (redis://host:6379/0), "
                "or run `runq demo`, which starts an embedded Redis for you."
            )
        return self.redis_url

    @property
    def uses_simulator_key(self) -> bool:
        return self.openai_api_key.get_secret_value() == SIMULATOR_API_KEY

    @model_validator(mode="after")
    def _reject_placeholders_outside_dev(self) -> Settings:
        if self.environment == "production" and self.uses_simulator_key:
            raise ValueError("OPENAI_API_KEY must be set to a real key in production")
        secret = self.callback_secret.get_secret_value()
        if self.environment != "dev" and secret == PLACEHOLDER_CALLBACK_SECRET:
            raise ValueError("RUNQ_CALLBACK_SECRET must be set (whsec_<base64>) outside dev")
        if self.poll_cap_s * 4 >= self.visibility_timeout_s:
            raise ValueError(
                "RUNQ_VISIBILITY_TIMEOUT_S must comfortably exceed the poll cap, or the broker "
                "redelivers countdown messages that are still waiting"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
