"""All configuration, read from the environment in one place.

Standard names where they exist (`REDIS_URL`, `DATABASE_URL`, `OPENAI_API_KEY`,
`OPENAI_BASE_URL`); everything of ours is `RUNQ_*`. With nothing set, a fresh checkout runs:
the demo starts an embedded Redis and the simulator, and the database is a SQLite file.

Settings come in groups (`settings.polling.cap_s`), one small `BaseSettings` per concern;
each field keeps the environment variable name the README documents (`RUNQ_POLL_CAP_S`).
Every default is written here once; the core receives plain values built from these.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from config.errors import ConfigError
from config.signing_secret import is_valid_secret

# The simulator accepts any key; this one marks "no real key configured".
SIMULATOR_API_KEY = "sk-runq-simulator"

# Signs callbacks in a fresh checkout; refused outside dev so nobody ships it.
PLACEHOLDER_CALLBACK_SECRET = "whsec_cnVucS1kZXYtY2FsbGJhY2stc2VjcmV0LWNoYW5nZXRoaXM="

# The only environment where placeholder secrets are allowed. It must be asked for
# (RUNQ_ENVIRONMENT=dev): an unset environment is production, so a deploy that forgot a
# secret refuses to start instead of signing with a key anyone can read in this file.
DEV_ENVIRONMENT = "dev"


def _env(name: str) -> AliasChoices:
    """Read a field from this exact environment variable (the group's prefix does not apply);
    code may still pass the field by its own name."""
    return AliasChoices(name)


def _group(prefix: str = "RUNQ_") -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", populate_by_name=True)


class ModelLimits(BaseModel):
    """The provider's limits for one model (0 = no limit)."""

    requests_per_min: int = Field(0, ge=0)
    tokens_per_min: int = Field(0, ge=0)


class ModelPrice(BaseModel):
    """US dollars per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class RedisSettings(BaseSettings):
    """The broker Redis (never evicts) and, optionally, a separate cache Redis."""

    model_config = _group("RUNQ_REDIS_")

    url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    cache_url: str | None = Field(
        None,
        validation_alias=_env("RUNQ_CACHE_REDIS_URL"),
        description="Separate Redis for the response cache, which may evict; the broker must not.",
    )
    prefix: str = Field("runq", description="Prefix of every key runq writes (RUNQ_REDIS_PREFIX).")


class DatabaseSettings(BaseSettings):
    """The SQL store: SQLite by default, PostgreSQL in production."""

    model_config = _group()

    url: str = Field("sqlite:///runq.db", validation_alias=_env("DATABASE_URL"))


class ProviderSettings(BaseSettings):
    """How runq talks to the model provider."""

    model_config = _group("RUNQ_PROVIDER_")

    api_key: SecretStr = Field(
        SecretStr(SIMULATOR_API_KEY), validation_alias=_env("OPENAI_API_KEY")
    )
    base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    timeout_s: float = Field(
        120.0,
        gt=0,
        description="One provider request, capped by what is left of the run's deadline; above "
        "the slowest turn, so a slow but live turn is never sent twice.",
    )
    max_attempts: int = Field(5, ge=1, description="Transient provider errors per step.")
    sdk_retries: int = Field(
        0,
        ge=0,
        description="The SDK's own retry loop. Keep 0: runq retries without blocking a worker; "
        "the limiter benchmark sets 2 to measure the naive setup.",
    )
    keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Named API keys for agents that use their own (Agent.api_key_name), JSON.",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        validation_alias=_env("RUNQ_MODEL_PRICES"),
        description='Prices for cost accounting, JSON: {"gpt-5.4": {"input_per_mtok": 1.25, '
        '"output_per_mtok": 10, "cached_input_per_mtok": 0.125}}; models without a price cost '
        "0; cached input tokens cost the cached rate (the input rate without one).",
    )
    lane_price_multipliers: dict[str, float] = Field(
        default_factory=dict,
        validation_alias=_env("RUNQ_LANE_PRICE_MULTIPLIERS"),
        description='Each lane\'s price relative to standard, JSON: {"flex": 0.5}; unset lanes '
        "keep the defaults (interactive 2, standard 1, flex 0.5, batch 0.5).",
    )
    default_max_output_tokens: int = Field(
        1024,
        gt=0,
        validation_alias=_env("RUNQ_DEFAULT_MAX_OUTPUT_TOKENS"),
    )

    @field_validator("lane_price_multipliers")
    @classmethod
    def _known_lanes(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_lane_multipliers(value)


# workers.lanes.Lane's names: config imports nothing of the engine, so they are written here
# too (a unit test keeps the two lists equal).
LANE_NAMES = ("interactive", "standard", "flex", "batch")


def _check_lane_multipliers(value: dict[str, float]) -> dict[str, float]:
    for name, multiplier in value.items():
        if name not in LANE_NAMES:
            raise ValueError(f"unknown lane {name!r}; lanes are: {', '.join(LANE_NAMES)}")
        if not multiplier > 0:
            raise ValueError(f"lane {name!r} needs a multiplier > 0, not {multiplier}")
    return value


class PollingSettings(BaseSettings):
    """The poll ladder of a model turn and the retry ladder of transient errors (seconds)."""

    model_config = _group("RUNQ_POLL_")

    first_s: float = Field(0.5, gt=0)
    factor: float = Field(1.5, ge=1)
    cap_s: float = Field(5.0, gt=0)
    retry_first_s: float = Field(1.0, gt=0, validation_alias=_env("RUNQ_RETRY_FIRST_S"))
    retry_cap_s: float = Field(30.0, gt=0, validation_alias=_env("RUNQ_RETRY_CAP_S"))


class RunSettings(BaseSettings):
    """Limits on a run's life, and how stalled or idle work is found."""

    model_config = _group()

    deadline_s: float = Field(
        900.0, gt=0, validation_alias=_env("RUNQ_RUN_DEADLINE_S"),
        description="A run still going after this ends expired.",
    )  # fmt: skip
    max_turns: int = Field(10, ge=1, description="Tool round trips before a looping run fails.")
    sweep_every_s: float = Field(2.0, gt=0, description="How often beat sweeps overdue runs.")
    recovery_grace_s: float = Field(
        5.0, gt=0, description="A run whose next step is this late has its step re-sent."
    )
    sweep_batch: int = Field(500, ge=1, description="Overdue runs re-sent per sweep at most.")
    batch_collect_every_s: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("RUNQ_BATCH_COLLECT_EVERY_S"),
        description="How often beat sends the batch lane's waiting turns as a batch and reads "
        "the open batches.",
    )
    batch_retries: int = Field(
        1,
        ge=0,
        validation_alias=_env("RUNQ_BATCH_RETRIES"),
        description="Times a batch-lane turn is sent again after its batch failed or expired; "
        "then its run fails with the batch's reason.",
    )
    lease_s: float = Field(
        5.0,
        gt=0,
        description="A step waiting on the provider keeps its run due this far ahead, renewed "
        "every half of it: the sweep never re-sends a live step, and finds a dead one's run a "
        "lease plus the grace after its last renewal.",
    )
    max_recoveries: int = Field(
        5, ge=1, description="Re-sends of one step with no progress before the run fails."
    )
    max_deliveries: int = Field(
        3, ge=1, description="Starts of one tool call before the run fails (a poison run)."
    )
    agent_missing_retries: int = Field(
        10, ge=0, description="Hand-backs of a run whose agent a worker lacks, then it fails."
    )
    agent_missing_retry_s: float = Field(3.0, gt=0, description="Delay of each hand-back.")
    visibility_timeout_s: int = Field(
        20,
        gt=0,
        description="Broker redelivery of unacked messages (a killed worker's are back within "
        "this plus kombu's 10 s restore cycle). Broker countdowns stay under half of it: a "
        "longer wait is parked in the database (next_due_at) and the sweep sends it when due.",
    )

    @property
    def max_countdown_s(self) -> float:
        """The longest broker countdown: half the visibility timeout (longer waits park)."""
        return self.visibility_timeout_s / 2

    agent_modules: list[str] = Field(
        default_factory=list,
        description="Modules to import at start-up that declare agents and tools (JSON list).",
    )
    extra_queues: list[str] = Field(
        default_factory=list,
        description="Queues that producers send jobs to by name (send_task(..., queue=...)), "
        "beyond runq's own; a worker may serve them with -Q (JSON list).",
    )
    thread_retention_s: float = Field(30 * 24 * 3600.0, gt=0, description="Idle threads archived.")
    in_flight_target: int = Field(
        0, ge=0, validation_alias=_env("RUNQ_RUNS_IN_FLIGHT_TARGET"),
        description="Runs in flight across the fleet that fair shares aim for: a new run waits "
        "for its key's weighted share of them (0: off, every run starts at once).",
    )  # fmt: skip


class ScheduleSettings(BaseSettings):
    """Runs that wait for time: `run_at` bounds, and the beat job that fires schedules."""

    model_config = _group("RUNQ_SCHEDULE_")

    max_run_at_days: float = Field(
        365.0, gt=0, validation_alias=_env("RUNQ_MAX_RUN_AT_DAYS"),
        description="A run_at further ahead than this is refused (a typo'd year, not a plan).",
    )  # fmt: skip
    run_at_slack_s: float = Field(
        5.0, ge=0, validation_alias=_env("RUNQ_RUN_AT_SLACK_S"),
        description="A run_at this far in the past is taken as now (the caller's clock skew).",
    )  # fmt: skip
    every_s: float = Field(1.0, gt=0, description="How often beat fires the schedules due.")
    missed_after_s: float = Field(
        60.0,
        gt=0,
        description="A tick not fired this long after its time was missed (the fleet was down): "
        "the schedule's `missed` policy decides, instead of firing it late.",
    )
    batch: int = Field(100, ge=1, description="Ticks one beat job fires at most.")


class LimitSettings(BaseSettings):
    """The shared API budget per (API key, model)."""

    model_config = _group()

    default_requests_per_min: int = Field(0, ge=0, description="Per key and model; 0 = no limit.")
    default_tokens_per_min: int = Field(0, ge=0, description="Per key and model; 0 = no limit.")
    model_limits: dict[str, ModelLimits] = Field(
        default_factory=dict,
        description='Per-model limits, JSON: {"gpt-5.4": {"requests_per_min": 500, ...}}.',
    )
    limit_headroom_ms: int = Field(
        1000,
        ge=0,
        le=10_000,
        description="Requests budget kept back: this many ms of refill (1 s = 1/60 of the "
        "burst). A request reaches the provider a varying moment after it took its place in "
        "the budget; the headroom keeps that jitter from earning a 429.",
    )
    spend_hold_grace_s: float = Field(
        300.0,
        gt=0,
        description="A dollar-budget hold outlives its run's deadline by this much, then frees "
        "itself (a worker killed between hold and settle).",
    )
    budget_wait_s: float = Field(
        10.0,
        gt=0,
        le=60,
        description='A run whose key says on_budget "wait" asks for room again after this long.',
    )


class CacheSettings(BaseSettings):
    """The response cache."""

    model_config = _group("RUNQ_CACHE_")

    ttl_s: int = Field(3600, gt=0)


class ToolSettings(BaseSettings):
    """Tool execution: retries, the interrupted-call grace, the circuit breaker."""

    model_config = _group("RUNQ_")

    retries: int = Field(2, ge=0, validation_alias=_env("RUNQ_TOOL_RETRIES"))
    grace_s: float = Field(
        5.0, gt=0, validation_alias=_env("RUNQ_TOOL_GRACE_S"),
        description="A call still 'running' this long past its timeout was interrupted.",
    )  # fmt: skip
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open a tool.")
    breaker_cooldown_s: float = Field(30.0, gt=0, description="How long an open tool rests.")


class OperateSettings(BaseSettings):
    """Operating a fleet: log format, metrics ports, operators' credentials."""

    model_config = _group("RUNQ_")

    log_format: str = Field("text", description="text | json (one JSON object per line).")
    metrics_port: int = Field(
        0, ge=0, description="Workers serve /metrics on the first free port from here; 0 = off."
    )
    operator_user: str = Field(
        "admin", description="Basic-auth user for the dashboard, the gateway's /metrics and Flower."
    )
    operator_password: SecretStr | None = Field(
        None, description="Basic-auth password for operators; unset = dashboard and Flower off."
    )
    otel_endpoint: str | None = Field(
        None,
        validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP collector; set it (and install the tracing extra) to export spans.",
    )

    @field_validator("operator_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `RUNQ_OPERATOR_PASSWORD=` (an empty variable, as compose writes it) must mean "no
        # password", never "the empty password".
        return None if value == "" else value


class ApiSettings(BaseSettings):
    """The HTTP API (`runq serve`) and the run events it streams."""

    model_config = _group("RUNQ_API_")

    max_body_bytes: int = Field(256 * 1024, gt=0, description="Larger bodies answer 413.")
    events_ttl_s: int = Field(
        24 * 3600, gt=0, validation_alias=_env("RUNQ_EVENTS_TTL_S"),
        description="A run's event stream (SSE replay) lives this long after its last event.",
    )  # fmt: skip
    events_max_len: int = Field(
        1000, gt=0, validation_alias=_env("RUNQ_EVENTS_MAX_LEN"),
        description="Events kept per run; the oldest are dropped.",
    )  # fmt: skip
    requests_per_min: int = Field(
        1200, ge=0,
        description="Requests one API key may make a minute (a token bucket in Redis, bursts "
        "up to a minute's worth); over it: 429 with Retry-After. 0 = no limit.",
    )  # fmt: skip
    key_check_s: float = Field(
        2.0, gt=0, le=60,
        description="An open event stream or /wait re-checks its API key this often: a "
        "revoked key is cut within about this long.",
    )  # fmt: skip


class CallbackSettings(BaseSettings):
    """Signed callbacks to the services that submitted runs (Standard Webhooks)."""

    model_config = _group("RUNQ_CALLBACK_")

    secret: SecretStr = Field(
        SecretStr(PLACEHOLDER_CALLBACK_SECRET),
        description="Signs callbacks (whsec_<base64>); the placeholder is refused outside dev.",
    )

    @field_validator("secret")
    @classmethod
    def _well_formed(cls, value: SecretStr) -> SecretStr:
        # A malformed secret would only fail at the first delivery, an hour of retries later.
        if not is_valid_secret(value.get_secret_value()):
            raise ConfigError(
                "RUNQ_CALLBACK_SECRET is malformed: it must be whsec_ followed by the base64 of "
                'at least 24 random bytes (e.g. python -c "import base64, os; '
                "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\")"
            )
        return value

    allow_private: bool = Field(
        False, description="Allow callback URLs on loopback/private networks (tests only)."
    )
    retry_first_s: float = Field(5.0, gt=0, description="First retry delay; it doubles to 5 min.")
    give_up_s: float = Field(3600.0, gt=0, description="Callbacks are retried this long.")
    timeout_s: float = Field(
        10.0, gt=0, description="One delivery in all: connect, send and read together."
    )


class WebhookSettings(BaseSettings):
    """OpenAI webhooks in (`POST /v1/webhooks/openai`)."""

    model_config = _group("RUNQ_WEBHOOK_")

    secret: SecretStr | None = Field(
        None,
        validation_alias=_env("OPENAI_WEBHOOK_SECRET"),
        description="Verifies OpenAI's webhooks (whsec_…); unset, the endpoint answers 404.",
    )
    poll_first_s: float = Field(
        30.0, gt=0, description="Agents with provider_webhooks: a turn's first (fallback) poll."
    )


class Settings(BaseSettings):
    """runq settings, by group. Every field can be set by the env var its group documents."""

    model_config = _group()

    environment: str = Field(
        "production",
        description="dev | test | production. Only an explicit dev allows the simulator key and "
        "the placeholder callback secret; unset means production.",
    )
    redis: RedisSettings = Field(default_factory=RedisSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    polling: PollingSettings = Field(default_factory=PollingSettings)
    runs: RunSettings = Field(default_factory=RunSettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    operate: OperateSettings = Field(default_factory=OperateSettings)

    @property
    def broker_url(self) -> str:
        """Broker URL; without REDIS_URL there is nothing shared to talk to."""
        if not self.redis.url:
            raise ConfigError(
                "REDIS_URL is not set. Point it at your Redis (redis://host:6379/0), "
                "or run `runq demo`, which starts an embedded Redis for you."
            )
        return self.redis.url

    def extra_secrets(self) -> list[SecretStr | None]:
        """Secrets besides the provider keys that must never reach a log line."""
        return [self.operate.operator_password, self.callbacks.secret, self.webhooks.secret]

    @property
    def uses_simulator_key(self) -> bool:
        """True when no real provider key is configured."""
        return self.provider.api_key.get_secret_value() == SIMULATOR_API_KEY

    def require_deployable(self) -> None:
        """Refuse to serve or work with the public placeholders outside an explicit dev.

        Called when a process that serves or works starts (`runq serve`, a worker, beat), not
        when settings are read: importing a module, or a producer that only enqueues, needs
        no provider key or signing secret.
        """
        # The placeholder key only talks to the simulator; anywhere but a developer's machine
        # (test, staging, production) it would send runs nowhere.
        where = (
            f"RUNQ_ENVIRONMENT={self.environment}"
            if "environment" in self.model_fields_set
            else "RUNQ_ENVIRONMENT is not set, so production"
        )
        if self.environment != DEV_ENVIRONMENT and self.uses_simulator_key:
            raise ConfigError(
                f"OPENAI_API_KEY is not set ({where}): set a real provider key, or "
                "RUNQ_ENVIRONMENT=dev to use the simulator key"
            )
        if (
            self.environment != DEV_ENVIRONMENT
            and self.callbacks.secret.get_secret_value() == PLACEHOLDER_CALLBACK_SECRET
        ):
            raise ConfigError(
                f"RUNQ_CALLBACK_SECRET is not set ({where}): set a whsec_<base64> secret of at "
                "least 24 random bytes, or RUNQ_ENVIRONMENT=dev to sign with the public "
                "placeholder"
            )

    @model_validator(mode="after")
    def _check_across_groups(self) -> Settings:
        if max(self.polling.cap_s, self.runs.agent_missing_retry_s) > self.runs.max_countdown_s:
            raise ConfigError(
                "RUNQ_VISIBILITY_TIMEOUT_S must be at least twice RUNQ_POLL_CAP_S and "
                "RUNQ_AGENT_MISSING_RETRY_S, or the broker redelivers countdown messages that "
                "are still waiting"
            )
        return self


def load_settings() -> Settings:
    """Read the settings, turning any bad value into one ConfigError that names it."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise ConfigError(f"invalid setting: {_first_problem(exc)}") from exc


_JSON_VARIABLES = {
    "prices": "RUNQ_MODEL_PRICES",
    "model_limits": "RUNQ_MODEL_LIMITS",
    "keys": "RUNQ_PROVIDER_KEYS",
}
"""The JSON settings, by field name, as the operator spells them."""


def _first_problem(exc: ValidationError | SettingsError) -> str:
    if isinstance(exc, SettingsError):
        # e.g. error parsing value for field "prices" (not JSON): name the variable too.
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
        variable = _JSON_VARIABLES.get(field)
        return str(exc) if variable is None else f"{variable} is not valid JSON ({exc})"
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
