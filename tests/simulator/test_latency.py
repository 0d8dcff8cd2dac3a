"""Turn latency: jitter drawn from the seed, and synchronous replies that wait it out."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from anyio.from_thread import BlockingPortal

from simulator.app import create_app
from simulator.config import SimulatorConfig
from simulator.state import SimulatorState
from tests.simulator.sim import FakeClock, PortalTransport


def draws(config: SimulatorConfig, count: int = 200) -> list[int]:
    state = SimulatorState(config=config, clock=FakeClock())
    return [state.draw_latency_ms() for _ in range(count)]


def test_no_jitter_means_the_configured_latency() -> None:
    assert set(draws(SimulatorConfig(latency_ms=2000))) == {2000}


def test_jitter_spreads_within_bounds_and_replays_from_the_seed() -> None:
    config = SimulatorConfig(latency_ms=2000, latency_jitter=0.25, seed=7)
    spread = draws(config)
    assert min(spread) >= 1500 and max(spread) <= 2500
    assert max(spread) - min(spread) > 500  # actually spread, not a constant
    assert draws(config) == spread


class RecordedSleep:
    def __init__(self) -> None:
        self.waits_s: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits_s.append(seconds)


@pytest.fixture
def recorded(portal: BlockingPortal) -> Iterator[tuple[httpx2.Client, RecordedSleep]]:
    sleep = RecordedSleep()
    app = create_app(SimulatorConfig(latency_ms=1500, sync_latency=True), FakeClock(), sleep=sleep)
    with httpx2.Client(transport=PortalTransport(app, portal), base_url="http://sim") as client:
        yield client, sleep


@pytest.mark.parametrize(("background", "waits_s"), [(False, [1.5]), (True, [])])
def test_only_synchronous_creates_wait_out_the_latency(
    recorded: tuple[httpx2.Client, RecordedSleep], background: bool, waits_s: list[float]
) -> None:
    client, sleep = recorded
    body = {"model": "gpt-test", "input": "hi", "background": background}
    reply = client.post("/v1/responses", json=body, headers={"authorization": "Bearer sk-x"})
    assert reply.status_code == 200
    assert reply.json()["status"] == ("queued" if background else "completed")
    assert sleep.waits_s == waits_s
    if not background:  # the provider's own timestamps show how long the turn took
        turn = reply.json()
        assert turn["completed_at"] - turn["created_at"] == pytest.approx(1.5)
