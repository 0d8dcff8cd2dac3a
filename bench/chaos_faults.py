"""The faults the chaos benchmark injects, each a function of the fleet and the time since
the batch started, called on every tick; each counts what it did into `Faults`."""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.fleet import simulator
from devstack.local_stack import LocalStack


@dataclass
class Faults:
    """What a scenario injected, counted as it happens."""

    counts: Counter[str] = field(default_factory=Counter)
    side_batches: list[str] = field(default_factory=list)
    """Batches a fault enqueued beside the scenario's own (a poison run): waited for too."""
    side_outcomes: list[str] = field(default_factory=list)
    """How those batches' runs ended, for the table."""

    def describe(self) -> str:
        injected = ", ".join(f"{n} {what}" for what, n in self.counts.items()) or "none"
        return "; ".join([injected, *self.side_outcomes])


Injector = Callable[[LocalStack, float, Faults], None]


def no_faults(stack: LocalStack, t_s: float, faults: Faults) -> None:
    """The baseline."""


def sigkill_every(every_s: float, until_s: float, seed: int = 7) -> Injector:
    """SIGKILL a random live worker (of those without the beat) every `every_s` until
    `until_s`."""
    rng = random.Random(seed)

    def inject(stack: LocalStack, t_s: float, faults: Faults) -> None:
        due = min(int(t_s / every_s), int(until_s / every_s))
        while faults.counts["SIGKILLs"] < due:
            # Not the worker with the embedded beat: SIGKILL would orphan its beat process.
            alive = [p for p in stack.workers if p.poll() is None and "-B" not in p.args]
            if not alive:
                return
            rng.choice(alive).send_signal(signal.SIGKILL)
            faults.counts["SIGKILLs"] += 1

    return inject


def redis_restart_at(at_s: float) -> Injector:
    """Kill Redis at `at_s` and start it again empty (no persistence): every message lost."""
    from devstack.embedded_redis import start_embedded_redis

    def inject(stack: LocalStack, t_s: float, faults: Faults) -> None:
        if t_s >= at_s and not faults.counts["Redis restarts (all messages lost)"]:
            port = stack.redis.port
            stack.redis.process.send_signal(signal.SIGKILL)
            stack.redis.process.wait(timeout=10)
            stack.redis = start_embedded_redis(port=port, data_dir=stack.redis.data_dir)
            faults.counts["Redis restarts (all messages lost)"] += 1

    return inject


# (from s, simulator config, what it is): 5xx, then timeouts, then a 429 storm, then calm.
PROVIDER_STORM = [
    (2.0, {"fault_5xx_rate": 0.3}, "s of 30% 5xx"),
    (10.0, {"fault_5xx_rate": 0.0, "delay_ms": 4000}, "s of timeouts"),
    (15.0, {"delay_ms": 0, "rpm": 60}, "s of 429 storm (60 RPM)"),
    (25.0, {"rpm": 0}, ""),
]


def provider_storm(stack: LocalStack, t_s: float, faults: Faults) -> None:
    """Walk through PROVIDER_STORM as time passes."""
    for index, (start_s, config, what) in enumerate(PROVIDER_STORM):
        if t_s >= start_s and faults.counts[f"phase{index}"] == 0:
            simulator(stack, "/_sim/config", config)
            faults.counts[f"phase{index}"] = 1
            if what:
                length_s = PROVIDER_STORM[index + 1][0] - start_s
                faults.counts[what] = int(length_s)


def slow_provider(delay_ms: int) -> Injector:
    """Every provider request answers after `delay_ms`, from the start of the batch."""

    def inject(stack: LocalStack, t_s: float, faults: Faults) -> None:
        if not faults.counts["slow"]:
            simulator(stack, "/_sim/config", {"delay_ms": delay_ms})
            faults.counts["slow"] = 1
            faults.counts["s per provider request"] = delay_ms // 1000

    return inject


def poison_run_at(at_s: float) -> Injector:
    """Enqueue one run at `at_s` whose tool kills its worker half a second into every
    execution (`chaos_crash`), beside the scenario's runs, in a batch of its own."""
    from bench.fleet import enqueue

    def inject(stack: LocalStack, t_s: float, faults: Faults) -> None:
        if t_s >= at_s and not faults.side_batches:
            faults.side_batches.append(enqueue(["use tool chaos_crash"], agent="chaos-poison"))
            faults.counts["poison run (its tool kills its worker)"] = 1

    return inject


def rolling_restart_from(at_s: float) -> Injector:
    """SIGTERM each worker in turn (warm shutdown), restarting it before the next."""

    def inject(stack: LocalStack, t_s: float, faults: Faults) -> None:
        done = faults.counts["workers restarted with SIGTERM"]
        if t_s < at_s or done >= len(stack.workers):
            return
        process = stack.workers[done]
        if process.poll() is None and not faults.counts[f"term{done}"]:
            process.send_signal(signal.SIGTERM)
            faults.counts[f"term{done}"] = 1
        elif process.poll() is not None:
            faults.counts["workers restarted with SIGTERM"] += 1  # the supervisor revives it

    return inject
