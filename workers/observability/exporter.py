"""Each worker process serves its own `/metrics` on a port of its own.

A port per process, not prometheus-client's multiprocess mode: runq workers use the threads
pool (one process per worker), and the multiprocess mode needs a shared directory and
cleanup on every restart. With RUNQ_METRICS_PORT=P a process takes the first free port from
P to P+31: in containers every worker gets P; on one host the second worker gets P+1, and so
on. Scrape each worker (Kubernetes pod annotations or a compose service DNS name).
"""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger("runq.metrics")

PORTS_TO_TRY = 32


def serve_process_metrics(base_port: int, addr: str = "0.0.0.0") -> int | None:
    """Serve this process's metrics on the first free port from `base_port`; None if off."""
    if base_port <= 0:
        return None
    for port in range(base_port, base_port + PORTS_TO_TRY):
        try:
            start_http_server(port, addr=addr)
        except OSError:
            continue
        log.info("metrics on :%d/metrics", port, extra={"event": "metrics_server"})
        return port
    log.warning("no free metrics port in %d..%d", base_port, base_port + PORTS_TO_TRY - 1)
    return None
