"""Run the simulator under uvicorn: quiet by default, because demos hammer it."""

from __future__ import annotations

import uvicorn

from simulator.app import create_app
from simulator.config import SimulatorConfig


def build_server(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8800, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for a fresh simulator; `run()` it, or `serve()` does that for you."""
    uvicorn_config = uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        # One line per request would drown the demo's own output.
        access_log=False,
    )
    return uvicorn.Server(uvicorn_config)


def serve(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8800, log_level: str = "warning"
) -> None:
    """Serve the simulator until interrupted (blocks)."""
    build_server(config, host, port, log_level).run()
