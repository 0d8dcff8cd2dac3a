"""The command line and the uvicorn wiring, without binding a port."""

from __future__ import annotations

import pytest

from simulator.__main__ import build_parser, config_from_args
from simulator.config import SimulatorConfig
from simulator.server import build_server


def test_help_says_it_is_a_test_double(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    # argparse wraps to the terminal width, so compare with the line breaks folded away.
    text = " ".join(capsys.readouterr().out.split())
    assert "TEST DOUBLE" in text and "NOT the real provider" in text
    for surface in ("/v1/responses", "/v1/conversations", "/v1/chat/completions", "/v1/threads"):
        assert surface in text
    for flag in ("--latency-ms", "--rpm", "--tpm", "--fault-5xx-rate", "--seed", "--port"):
        assert flag in text


def test_flags_map_onto_the_config() -> None:
    flags = "--latency-ms 50 --rpm 60 --tpm 9000 --fault-5xx-rate 0.1 --seed 3 --delay-ms 5"
    args = build_parser().parse_args([*flags.split(), "--quota-exhausted"])
    assert config_from_args(args) == SimulatorConfig(
        latency_ms=50,
        rpm=60,
        tpm=9000,
        fault_5xx_rate=0.1,
        seed=3,
        delay_ms=5,
        quota_exhausted=True,
    )


def test_defaults_match_the_documented_command() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 8800)
    assert config_from_args(args) == SimulatorConfig(latency_ms=300)


def test_server_is_quiet_by_default() -> None:
    server = build_server(SimulatorConfig(), host="127.0.0.1", port=0)
    assert server.config.access_log is False
    assert server.config.log_level == "warning"
