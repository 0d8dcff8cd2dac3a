"""The host server: a small process, forked from the worker once at start, that forks the
worker's tool hosts (see `hosts` for what a host is).

Why: `os.fork` holds the worker's GIL for the whole fork, and forking a busy worker is slow
(~170 MB and 30+ threads: 17 ms median, 645 ms in all for the 36 hosts one 200-run batch of
`bench.peers` made, measured in the tools worker), so every thread of the worker stood still
while a host was made. Each fork also marked every page of the worker copy-on-write again:
the worker then paid a fault and a copy for each page it next wrote. Forked at start, before
the worker connects anywhere or starts its threads, the server stays small and still:
forking it is quick, and none of it runs under the worker's GIL.

The server is the worker as it was at start: its hosts see the memory of that moment, so a
tool registered later runs in a host forked from the worker itself, as do arguments that
cannot be pickled (they are handed over in memory). The server dies with the worker
(PR_SET_PDEATHSIG) and its hosts die with it. It reaps a host only when the worker says it
is done with it: the worker kills a host by pid and process group, which must not be reused
meanwhile.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import threading
from dataclasses import dataclass, field
from typing import NoReturn

from workers.tools.host_process import (
    Call,
    decode_request,
    die_with_parent,
    name_process,
    receive_exactly,
    serve_calls,
)
from workers.tools.registry import ToolSpec

_PID_BYTES = 8
_LENGTH_BYTES = 8

_ANSWER_WITHIN_S = 10.0

SERVER_NAME = b"runq-host-srv"
"""The server's process name (`ps -o comm`, `top`), so that it is not taken for a worker."""


@dataclass(eq=False)
class HostServer:
    """The worker's end of its host server."""

    pid: int
    sock: socket.socket
    known: frozenset[int]
    """The tokens the server can resolve (its copy of the worker's table, at its fork)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fork_host(self, request: bytes) -> tuple[int, socket.socket] | None:
        """A new host that runs the encoded request first: its pid and the worker's end of
        its socket; None if the server is gone."""
        try:
            with self._lock:
                _send(self.sock, b"F" + request)
                data, fds, _, _ = socket.recv_fds(self.sock, _PID_BYTES, 1)
                if fds and 0 < len(data) < _PID_BYTES:
                    data += receive_exactly(self.sock, _PID_BYTES - len(data)) or b""
        except OSError:
            return None
        if len(data) != _PID_BYTES or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return None
        return int.from_bytes(data, "big"), socket.socket(fileno=fds[0])

    def reap(self, pid: int) -> None:
        """The worker is done with host `pid` (killed): the server may reap it."""
        with contextlib.suppress(OSError), self._lock:
            _send(self.sock, b"R" + pid.to_bytes(_PID_BYTES, "big"))

    def close(self) -> None:
        """Let go of a server that stopped answering (reaped if it exited). One that was
        only slow exits on reading the end of its socket, and its hosts with it."""
        self.sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)


def start_server(known: dict[int, ToolSpec]) -> HostServer:
    """Fork the host server, which knows the specs of `known` by their tokens.

    Call it on a thread that lives as long as the worker (the main thread): the server dies
    with the thread that forked it."""
    worker_end, server_end = socket.socketpair()
    worker_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        worker_end.close()
        _serve_forks(server_end, worker_pid, known)
    server_end.close()
    # A server that does not answer within this is taken for gone: the worker forks its
    # hosts itself rather than leave its tool calls waiting.
    worker_end.settimeout(_ANSWER_WITHIN_S)
    return HostServer(pid=pid, sock=worker_end, known=frozenset(known))


def _send(sock: socket.socket, message: bytes) -> None:
    sock.sendall(len(message).to_bytes(_LENGTH_BYTES, "big") + message)


# --- in the server ---------------------------------------------------------------------------


def _serve_forks(sock: socket.socket, worker_pid: int, known: dict[int, ToolSpec]) -> NoReturn:
    # Like a host, the server never returns into the worker's code, and it touches none of
    # the worker's connections or locks.
    try:
        die_with_parent(worker_pid)
        name_process(SERVER_NAME)
        # What the worker built at start lives as long as the hosts: no collection of
        # theirs needs to walk it (the worker freezes its own the same way).
        gc.freeze()
        # The worker handles a terminal's Ctrl-C and a TERM (the handlers it inherited are
        # Celery's, for a worker that is not running here): the server goes when it goes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        done: set[int] = set()
        while True:
            header = receive_exactly(sock, _LENGTH_BYTES)
            message = header and receive_exactly(sock, int.from_bytes(header, "big"))
            if not message:
                break  # the worker closed its end, or is gone
            if message[:1] == b"R":
                done.add(int.from_bytes(message[1:], "big"))
            else:
                _fork_host(sock, known, message[1:])
            done = {pid for pid in done if not _reaped(pid)}
    finally:
        os._exit(0)


def _fork_host(sock: socket.socket, known: dict[int, ToolSpec], request: bytes) -> None:
    token, arguments, timeout_s = decode_request(request)
    worker_end, host_end = socket.socketpair()
    server_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        sock.close()
        worker_end.close()
        serve_calls(host_end, server_pid, known, Call(known[token], arguments, timeout_s))
    host_end.close()
    socket.send_fds(sock, [pid.to_bytes(_PID_BYTES, "big")], [worker_end.fileno()])
    worker_end.close()


def _reaped(pid: int) -> bool:
    """Reap `pid` if it exited (the worker killed it); False while it is still dying."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def host_exited(pidfd: int) -> bool:
    """Whether the host behind `pidfd` exited (for a host that is not the worker's child)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))
