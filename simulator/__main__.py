"""`python -m simulator`: serve the OpenAI API TEST DOUBLE on a local port."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from simulator.config import SimulatorConfig
from simulator.server import serve

__all__ = ["build_parser", "config_from_args", "main", "serve"]

DESCRIPTION = """\
Run the runq OpenAI simulator: a TEST DOUBLE of the OpenAI API, NOT the real provider. It
answers from a deterministic script, never calls OpenAI, and needs no real key (any non-empty
Bearer key works). Point the SDK at it with base_url=http://HOST:PORT/v1.
Surfaces: Responses (/v1/responses, sync and background), Conversations (/v1/conversations),
Chat Completions (/v1/chat/completions, no streaming), and the legacy Assistants API
(/v1/assistants, /v1/threads, messages, runs, run steps). Control endpoints: GET /_sim/stats,
GET /_sim/health, POST /_sim/reset, GET|POST /_sim/config.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag maps to a SimulatorConfig field or the listen address."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=DESCRIPTION)
    defaults = SimulatorConfig()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8800, help="port to listen on")
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=defaults.latency_ms,
        help="time a background response or Assistants run turn takes (queued the first 20%%)",
    )
    parser.add_argument(
        "--latency-jitter",
        type=float,
        default=defaults.latency_jitter,
        help="each turn's latency varies uniformly by this fraction either way (0.25 = ±25%%)",
    )
    parser.add_argument(
        "--sync-latency",
        action="store_true",
        help="synchronous responses also take the turn's latency (as a real model does)",
    )
    parser.add_argument(
        "--rpm", type=int, default=defaults.rpm, help="requests/min per API key and model; 0 = off"
    )
    parser.add_argument(
        "--tpm", type=int, default=defaults.tpm, help="tokens/min per API key and model; 0 = off"
    )
    parser.add_argument(
        "--fault-5xx-rate",
        type=float,
        default=defaults.fault_5xx_rate,
        help="fraction of /v1 requests answered with an injected 500 (0 to 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="seed for fault injection (replayable)"
    )
    parser.add_argument(
        "--delay-ms", type=int, default=defaults.delay_ms, help="extra delay on every /v1 request"
    )
    parser.add_argument(
        "--quota-exhausted",
        action="store_true",
        help="answer every /v1 request 429 insufficient_quota",
    )
    parser.add_argument(
        "--log-level", default="warning", help="uvicorn log level (default: warning, quiet)"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the parsed flags describe."""
    return SimulatorConfig(
        latency_ms=args.latency_ms,
        latency_jitter=args.latency_jitter,
        sync_latency=args.sync_latency,
        fault_5xx_rate=args.fault_5xx_rate,
        quota_exhausted=args.quota_exhausted,
        rpm=args.rpm,
        tpm=args.tpm,
        delay_ms=args.delay_ms,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags and serve until interrupted."""
    args = build_parser().parse_args(argv)
    serve(config_from_args(args), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
