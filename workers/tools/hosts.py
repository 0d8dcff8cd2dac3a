"""Tool hosts: the child processes that tool calls run in, each kept for the next call.

A timed-out tool must really stop, and a Python thread cannot be killed, so every call runs
in a child process forked from the worker: at the deadline that child is SIGKILLed with its
whole process group (anything the tool started), and it dies with the worker if the worker
dies first (PR_SET_PDEATHSIG, so even a SIGKILLed worker takes it along). A call cut off at
its timeout therefore never goes on to do its work later, and a retry or a redelivered copy
can never overlap it. Async tools run the same way (`asyncio.run` in the child), so one that
blocks its event loop is stopped too.

Forking a 150 MB worker for each call was the largest CPU cost of the tools worker (in
`bench.peers`, about 15 ms a call in the worker, the fork and the copy-on-write faults while
the child lived, and 10 ms in the child), so a child that answered is kept as a host: it
waits for the next call (the tool by token, its arguments pickled, the timeout) on its own
socket and runs it the same way. A host that timed out, died, or left a thread or a process
running after its call is killed with its group and dropped; the next call forks a fresh
one. There is at most one host per thread calling at once (idle ones wait on a stack); one
left idle for HOST_IDLE_S is stopped, and each is replaced after HOST_LIFETIME_S. A worker
that started a host server (`start_host_server`, at start) has its hosts forked there, not
in itself (see `host_server` for why); a host the server cannot make is forked here.

The trade-off: a tool's changes to its own process's memory (a module-level cache, a
counter, a patched global) can now outlive its call and be seen by later calls in the same
host, or not (another host, a replaced one); before hosts they never did. Tools must not
count on either. A host also sees the worker's memory as it was when the host was forked.
Effects outside the process (files, network, databases) are what tools are for.

Linux only in full: elsewhere a host does not die with a SIGKILLed worker, and orphans of a
tool's own children are not noticed.
"""

from __future__ import annotations

import math
import os
import queue
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from workers.tools.answer import Answer
from workers.tools.host_process import (
    Call,
    child_exited,
    encode_request,
    receive_answer,
    send_request,
    start_host,
    stop_host,
)
from workers.tools.host_server import HostServer, host_exited, start_server
from workers.tools.registry import ToolRegistry, ToolSpec

HOST_LIFETIME_S = 60.0
"""A host older than this is replaced rather than reused: the worker's memory it forked from
goes on changing, and each page the worker writes becomes a private copy (the host keeps
the old one), so a host kept forever would slowly cost as much memory as the worker."""

HOST_IDLE_S = 10.0
"""A host unused for this long is stopped. Each costs 10-20 MB that it does not share with
the worker (measured in `bench.peers`), so the hosts kept follow the recent number of
concurrent calls rather than the peak."""

_SWEEP_S = 1.0
"""How often the forking thread, when it has nothing to fork, stops unwanted idle hosts."""

_MAX_KNOWN_SPECS = 1024
"""Specs kept in the token table; past this it starts again (specs built per call would
otherwise pile up). Hosts keep their own copy, so none of them is affected."""


@dataclass(eq=False, slots=True)
class _Host:
    """One host, as its worker sees it."""

    pid: int
    """Also its process group: the host leads a group of its own."""
    sock: socket.socket
    known: frozenset[int]
    """The tokens this host can resolve: the token table as it was at its fork (or at its
    server's)."""
    born_s: float
    idle_since_s: float
    server: HostServer | None = None
    """The host server that forked it (None: the worker did)."""
    pidfd: int | None = None
    """A host the server forked is not the worker's child: this is how the worker sees it
    exit."""

    def exited(self) -> bool:
        return host_exited(self.pidfd) if self.pidfd is not None else child_exited(self.pid)


def call_in_host(
    registry: ToolRegistry, spec: ToolSpec, arguments: dict[str, Any], timeout_s: float
) -> Answer | None:
    """The answer of one call run in a tool host (see `answer`); None if none came within
    `timeout_s`, and `{"stopped": ""}` if the host exited without answering.

    `spec` need not be in `registry`; the registry's other tools are made known to the
    hosts forked from now on, so that one host can run them all."""
    return _pool.call(registry, Call(spec, arguments, timeout_s))


def start_host_server(registry: ToolRegistry) -> None:
    """Fork this process's host server, which forks the hosts of `registry`'s tools from now
    on (see `host_server`). Call it at start, on the main thread, before the process
    connects anywhere: the server keeps a copy of every descriptor open at its fork."""
    _pool.start_server(registry)


def stop_hosts() -> None:
    """Stop every tool host of this process, the busy ones once their call ends. For tests:
    the next call forks a host that sees the worker's memory as it is now."""
    _pool.stop_all()


class _HostPool:
    """This process's hosts, and the table of specs they can be asked to run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Host] = []
        """Hosts waiting for a call, the most recently used last."""
        self._live: dict[int, _Host] = {}
        """Every host not stopped yet, by pid."""
        self._reuse_from_s = -math.inf
        """Hosts born before this are not reused (`stop_all`)."""
        # A host is sent a token, not a spec: it resolves the token in its copy of this
        # table. Tokens are never reused, and the table holds the specs, so an id() here
        # always belongs to the spec it was taken from.
        self._specs: dict[int, ToolSpec] = {}
        self._token_of_id: dict[int, int] = {}
        self._next_token = 0
        self._orders: queue.SimpleQueue[tuple[Call, Future[_Host]]] = queue.SimpleQueue()
        self._forker: threading.Thread | None = None
        self._server: HostServer | None = None

    def start_server(self, registry: ToolRegistry) -> None:
        with self._lock:
            self._add_tokens(registry)
            known = dict(self._specs)
        server = start_server(known)  # not under the lock: the server would inherit it held
        with self._lock:
            self._server = server

    def call(self, registry: ToolRegistry, call: Call) -> Answer | None:
        token = self._token_of(call.spec, registry)
        request = encode_request(token, call)
        host = self._take(token if request is not None else None)
        deadline_s = time.monotonic() + call.timeout_s
        if host is not None and request is not None:
            try:
                is_sent = send_request(host.sock, request, deadline_s)
            except TimeoutError:
                self._stop(host)
                return None
            if not is_sent:  # it died while idle, so the call never ran: run it elsewhere
                self._stop(host)
                host = None
        if host is None:
            host = self._fork(call)  # a new host runs this call first
            deadline_s = time.monotonic() + call.timeout_s
        answer = None
        try:
            answer = receive_answer(host.sock, host.exited, deadline_s)
        finally:
            if answer is not None and _is_reusable(answer):
                self._give_back(host)
            else:
                self._stop(host)
        return answer

    def _token_of(self, spec: ToolSpec, registry: ToolRegistry) -> int:
        with self._lock:
            token = self._token_of_id.get(id(spec))
            if token is not None:
                return token
            if len(self._specs) >= _MAX_KNOWN_SPECS:
                self._specs.clear()
                self._token_of_id.clear()
            self._add_tokens(registry)
            token = self._token_of_id.get(id(spec))
            return token if token is not None else self._add_token(spec)

    def _add_tokens(self, registry: ToolRegistry) -> None:
        """Tokens for every spec of `registry` not known yet (under the lock)."""
        for spec in (registry.get(name) for name in registry.names()):
            if id(spec) not in self._token_of_id:
                self._add_token(spec)

    def _add_token(self, spec: ToolSpec) -> int:
        token, self._next_token = self._next_token, self._next_token + 1
        self._specs[token] = spec
        self._token_of_id[id(spec)] = token
        return token

    def _take(self, token: int | None) -> _Host | None:
        """An idle host that knows `token` (None: no host will do). Stops the unwanted ones,
        and the least recently used one if a host is to be forked instead."""
        self._retire_idle()
        evicted = None
        with self._lock:
            found = next((h for h in reversed(self._idle) if token in h.known), None)
            if found is not None:
                self._idle.remove(found)
            elif self._idle:  # no more hosts than threads calling at once
                evicted = self._idle.pop(0)
        if evicted is not None:
            self._stop(evicted)
        return found

    def _give_back(self, host: _Host) -> None:
        host.idle_since_s = time.monotonic()
        with self._lock:
            if self._may_reuse(host, host.idle_since_s):
                self._idle.append(host)
                return
        self._stop(host)

    def _retire_idle(self) -> None:
        """Stop the idle hosts that are too old, idle too long, or from before `stop_all`."""
        now_s = time.monotonic()
        with self._lock:
            retired = [h for h in self._idle if not self._may_reuse(h, now_s)]
            self._idle = [h for h in self._idle if self._may_reuse(h, now_s)]
        for host in retired:
            self._stop(host)

    def _may_reuse(self, host: _Host, now_s: float) -> bool:
        return (
            host.born_s > self._reuse_from_s
            and now_s - host.born_s <= HOST_LIFETIME_S
            and now_s - host.idle_since_s <= HOST_IDLE_S
        )

    def stop_all(self) -> None:
        with self._lock:
            self._reuse_from_s = time.monotonic()
        self._retire_idle()

    def _stop(self, host: _Host) -> None:
        with self._lock:
            self._live.pop(host.pid, None)
        host.sock.close()
        stop_host(host.pid)
        if host.server is not None:
            host.server.reap(host.pid)
        if host.pidfd is not None:
            os.close(host.pidfd)

    def _fork(self, call: Call) -> _Host:
        # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the
        # process: a host forked by a calling thread would be killed when that thread ends,
        # perhaps in the middle of another thread's call. So one thread, which lives as long
        # as the process, does every fork.
        done: Future[_Host] = Future()
        with self._lock:
            if self._forker is None:
                self._forker = threading.Thread(
                    target=self._fork_on_order, name="runq-tool-host-forker", daemon=True
                )
                self._forker.start()
        self._orders.put((call, done))
        return done.result()

    def _fork_on_order(self) -> None:
        while True:
            try:
                call, done = self._orders.get(timeout=_SWEEP_S)
            except queue.Empty:
                self._retire_idle()  # so that hosts do not wait for the next call to go
                continue
            try:
                done.set_result(self._fork_host(call))
            except Exception as exc:  # a failed fork (EAGAIN, ENOMEM) is the caller's error
                done.set_exception(exc)

    def _fork_host(self, call: Call) -> _Host:
        with self._lock:
            known = dict(self._specs)
            token = self._token_of_id.get(id(call.spec))
            server = self._server
        host = None
        if server is not None and token in server.known:
            host = self._fork_in_server(server, token, call)
        if host is None:
            pid, sock = start_host(call, known)
            now_s = time.monotonic()
            host = _Host(pid, sock, frozenset(known), born_s=now_s, idle_since_s=now_s)
        with self._lock:
            self._live[host.pid] = host
        return host

    def _fork_in_server(self, server: HostServer, token: int, call: Call) -> _Host | None:
        """A host forked by the server; None if the arguments cannot be pickled (handed
        over in memory by a fork of the worker) or the server is gone (it is not replaced:
        the worker is no longer small and still)."""
        request = encode_request(token, call)
        forked = server.fork_host(request) if request is not None else None
        if forked is None:
            if request is not None:
                with self._lock:
                    self._server = None
                server.close()
            return None
        pid, sock = forked
        # The host cannot be reaped before `_stop` tells the server: its pid is still its own.
        pidfd = os.pidfd_open(pid)
        now_s = time.monotonic()
        return _Host(pid, sock, server.known, now_s, now_s, server=server, pidfd=pidfd)

    def forget_after_fork(self) -> None:
        """In a forked child: close this pool's sockets (the hosts belong to the parent).
        Takes no lock: another thread may have held it at the fork."""
        for host in list(self._live.values()):
            host.sock.close()
            if host.pidfd is not None:
                os.close(host.pidfd)
        if self._server is not None:
            self._server.sock.close()  # the parent's server: not a word to it from here


def _is_reusable(answer: Answer) -> bool:
    return not answer.keys() & {"timed_out", "stopped", "leftovers"}


_pool = _HostPool()


def _forget_hosts_in_child() -> None:
    # A forked copy of the worker (or a host itself) must not use the parent's hosts: it
    # starts with none of its own.
    global _pool
    _pool.forget_after_fork()
    _pool = _HostPool()


os.register_at_fork(after_in_child=_forget_hosts_in_child)
