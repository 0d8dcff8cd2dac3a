"""Fixtures for the simulator tests: an in-process simulator (see `tests.simulator.sim`)
and the OpenAPI spec registry."""

from __future__ import annotations

from collections.abc import Iterator

import anyio.from_thread
import pytest
from anyio.from_thread import BlockingPortal
from referencing import Registry

from simulator.config import SimulatorConfig
from tests.simulator import openapi_spec
from tests.simulator.sim import Sim


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    with anyio.from_thread.start_blocking_portal() as blocking_portal:
        yield blocking_portal


@pytest.fixture
def sim(portal: BlockingPortal) -> Iterator[Sim]:
    """A fresh simulator with 1 s latency on a fake clock."""
    simulator = Sim(SimulatorConfig(latency_ms=1000), portal)
    yield simulator
    simulator.close()


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The bundled OpenAI spec, widened as `openapi_spec` explains; skips without it."""
    if not openapi_spec.is_available():
        pytest.skip(
            "../shared/reference/openai-openapi.yaml not found: "
            "the spec check needs the shared folder beside the repo"
        )
    return openapi_spec.load_registry()
