"""Ports for the servers tests start, from a band below the kernel's ephemeral range.

A port the kernel hands out as free (bind to port 0) can be taken again before a slow server
binds it: every outgoing connection on the machine draws its local port from that same
range, and with several test processes each running a fleet, a server that took seconds to
import lost its port that way. Ports below the range are never drawn for connections, and
each pytest-xdist process deals from a band of its own.
"""

from __future__ import annotations

import itertools
import os
import socket

BAND_START = 22000
BAND_SIZE = 2000  # five processes' bands end below 32768, where Linux's range starts

XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
"""Which pytest-xdist process this is (0 without xdist): the band each process deals from."""
_band = range(BAND_START + XDIST_INDEX * BAND_SIZE, BAND_START + (XDIST_INDEX + 1) * BAND_SIZE)
_next = itertools.cycle(_band)


def free_port() -> int:
    """The next port of this process's band that nothing listens on."""
    for _ in _band:
        port = next(_next)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_band.start}..{_band.stop - 1}")
