"""Runtime knobs of the simulator; `/_sim/config` changes them while it runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SimulatorConfig:
    """Behaviour of the fake provider. Mutable on purpose: tests and demos retune a live server."""

    latency_ms: int = 300
    """How long a background response takes to reach a terminal status (20 % of it queued)."""
    fault_5xx_rate: float = 0.0
    """Fraction of /v1 requests answered 500 server_error, drawn from random.Random(seed)."""
    quota_exhausted: bool = False
    """Answer every /v1 request 429 insufficient_quota, as an account with no credit would."""
    rpm: int = 0
    """Requests per minute per (API key, model); 0 means no limit."""
    tpm: int = 0
    """Tokens per minute per (API key, model); 0 means no limit."""
    delay_ms: int = 0
    """Extra wall-clock delay added to every request, to exercise client timeouts."""
    seed: int = 0
    """Seed of the fault-injection RNG, so a failing demo run can be replayed."""
    webhook_url: str = ""
    """Where to POST a signed `response.<status>` webhook when a background response ends."""
    webhook_secret: str = ""
    """The `whsec_…` secret that signs those webhooks (Standard Webhooks, as OpenAI's)."""
    latency_jitter: float = 0.0
    """Each model turn takes `latency_ms` times a factor drawn uniformly from 1 ± this (0 to 1),
    from random.Random(seed): real turns vary, and a fixed latency flatters a fixed poll delay."""
    flex_unavailable_rate: float = 0.0
    """Fraction of `service_tier="flex"` creates refused 429 `resource_unavailable` (flex
    had no capacity), drawn from random.Random(seed)."""
    batch_latency_ms: int = 1000
    """How long a batch takes from create to its end (real ones take minutes to 24 h)."""
    batch_outcome: str = "completed"
    """How batches end: completed, failed or expired (to exercise runq's failure path)."""
    sync_latency: bool = False
    """Synchronous responses wait out the turn's latency before answering, as a real model does
    (off by default so tests of the sync surface stay instant)."""


_NON_NEGATIVE_INTS = ("latency_ms", "rpm", "tpm", "delay_ms", "batch_latency_ms")
_BATCH_OUTCOMES = ("completed", "failed", "expired")


def apply_overrides(config: SimulatorConfig, changes: Mapping[str, Any]) -> SimulatorConfig:
    """Return a copy of `config` with `changes` applied; ValueError names the first bad field."""
    known = {field.name for field in dataclasses.fields(SimulatorConfig)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
    for name in _NON_NEGATIVE_INTS:
        if name in changes:
            _require_int(name, changes[name], minimum=0)
    if "seed" in changes:
        _require_int("seed", changes["seed"], minimum=None)
    for name in ("fault_5xx_rate", "latency_jitter", "flex_unavailable_rate"):
        if name in changes:
            _require_fraction(name, changes[name])
    _require_types(changes)
    updated = dataclasses.replace(config, **changes)
    updated.fault_5xx_rate = float(updated.fault_5xx_rate)
    updated.latency_jitter = float(updated.latency_jitter)
    updated.flex_unavailable_rate = float(updated.flex_unavailable_rate)
    return updated


def _require_types(changes: Mapping[str, Any]) -> None:
    for name in ("webhook_url", "webhook_secret"):
        if name in changes and not isinstance(changes[name], str):
            raise ValueError(f"{name} must be a string")
    if "batch_outcome" in changes and changes["batch_outcome"] not in _BATCH_OUTCOMES:
        raise ValueError(f"batch_outcome must be one of {', '.join(_BATCH_OUTCOMES)}")
    for flag in ("quota_exhausted", "sync_latency"):
        if flag in changes and not isinstance(changes[flag], bool):
            raise ValueError(f"{flag} must be true or false")


def _require_int(name: str, value: object, *, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}")


def _require_fraction(name: str, value: object) -> None:
    # bool is an int subclass; "true" as a rate is a caller mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1")
