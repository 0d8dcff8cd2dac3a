"""Each process takes the first free metrics port from RUNQ_METRICS_PORT; 0 turns it off."""

import socket
import urllib.request

import workers.observability.metrics  # noqa: F401  (the families the server exposes)
from workers.observability.exporter import PORTS_TO_TRY, serve_process_metrics


def test_zero_means_no_metrics_server():
    assert serve_process_metrics(0) is None


def test_a_taken_port_is_skipped_and_the_next_free_one_serves_metrics():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        base = taken.getsockname()[1]
        port = serve_process_metrics(base, addr="127.0.0.1")
    assert port is not None and base < port < base + PORTS_TO_TRY
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        assert b"# TYPE runq_runs_total counter" in reply.read()
