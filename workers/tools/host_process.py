"""One tool host process: fork it, send it a call, read its answer, stop it; and what runs
in it (see `hosts` for why hosts exist and how they are shared).

The worker and the host talk over a socket pair, one length-prefixed message at a time: the
worker sends `(token, arguments, timeout_s)` pickled (the host finds the spec by token in
the table it was forked with), the host answers with `answer`'s JSON, marked "leftovers" if
the call left a thread or a process running. A new host is handed its first call in memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from workers.tools.answer import Answer, answer_call
from workers.tools.registry import ToolSpec

_PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a child gets when its parent (the forking thread) dies."""
_PR_SET_CHILD_SUBREAPER = 36
"""prctl(2) option: orphaned descendants are re-parented to this process, not to init."""
_PR_SET_NAME = 15
"""prctl(2) option: the name of the calling thread (the process's, for its only thread)."""
_LENGTH_BYTES = 8
_CHECK_EXIT_MS = 50

HOST_NAME = b"runq-tool-host"
"""A host's process name (`ps -o comm`, `top`), so that it is not taken for a worker."""

# Looked up in the worker, not in the host: dlopen and dlsym take the dynamic loader's lock,
# which another thread of the worker may have held at the fork.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call: what the host runs."""

    spec: ToolSpec
    arguments: dict[str, Any]
    timeout_s: float


def start_host(call: Call, known: dict[int, ToolSpec]) -> tuple[int, socket.socket]:
    """Fork a host that runs `call` first, then the calls the worker sends it (by tokens of
    `known`); its pid, which is also its process group, and the worker's end of its socket.

    Fork on a thread that lives as long as the worker: the host dies with that thread."""
    worker_end, host_end = socket.socketpair()
    worker_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        worker_end.close()
        serve_calls(host_end, worker_pid, known, call)
    host_end.close()
    return pid, worker_end


def encode_request(token: int, call: Call) -> bytes | None:
    """The request for a host, or None if the arguments cannot be pickled."""
    try:
        return pickle.dumps((token, call.arguments, call.timeout_s), pickle.HIGHEST_PROTOCOL)
    # A value's own __reduce__ may fail in any way; such a call runs in a newly forked host,
    # which is handed the arguments in memory.
    except Exception:
        return None


def decode_request(request: bytes) -> tuple[int, dict[str, Any], float]:
    """`encode_request`'s (token, arguments, timeout_s)."""
    # Pickle is safe here: the bytes come from the worker that forked us, on our own socket.
    token, arguments, timeout_s = pickle.loads(request)
    return token, arguments, timeout_s


def send_request(sock: socket.socket, request: bytes, deadline_s: float) -> bool:
    """Whether the request was sent (False: the host is gone); TimeoutError at the deadline."""
    sock.settimeout(max(deadline_s - time.monotonic(), 0.001))
    try:
        sock.sendall(len(request).to_bytes(_LENGTH_BYTES, "big") + request)
    except (BrokenPipeError, ConnectionResetError):
        return False
    finally:
        sock.settimeout(None)  # blocking again: the answer is read after poll says it can be
    return True


def receive_answer(
    sock: socket.socket, exited: Callable[[], bool], deadline_s: float
) -> Answer | None:
    """The host's answer; None at the deadline; `{"stopped": ""}` if it exited without one
    (`exited` says whether it has)."""
    reply = _read_reply(sock.fileno(), exited, deadline_s)
    if reply is None:
        return None
    if not reply:  # it exited (sys.exit, a signal, os._exit) without writing an answer
        return {"stopped": ""}
    answer: Answer = json.loads(reply)
    return answer


def child_exited(pid: int) -> bool:
    """Whether the worker's child `pid` exited. WNOWAIT: look without reaping, so the pid
    stays reserved until `stop_host`."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _read_reply(fd: int, exited: Callable[[], bool], deadline_s: float) -> bytes | None:
    """The host's length-prefixed answer; b"" if it exited without one; None at the deadline.

    Not "read until EOF": a process that other code of the worker forked in the moment
    between socketpair() and our closing of the host's end inherits that end, and EOF would
    wait for that unrelated process too. So the answer says how long it is, and a host that
    died without answering is noticed by its exit.
    """
    data = b""
    # poll, not select: select fails on a descriptor numbered 1024 or more, which a busy
    # worker (many connections) can hand out.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if len(data) >= _LENGTH_BYTES:
            size = int.from_bytes(data[:_LENGTH_BYTES], "big")
            if len(data) >= _LENGTH_BYTES + size:
                return data[_LENGTH_BYTES : _LENGTH_BYTES + size]
        left_s = deadline_s - time.monotonic()
        if left_s <= 0:
            return None
        if poller.poll(min(_CHECK_EXIT_MS, max(1, math.ceil(left_s * 1000)))):
            try:
                chunk = os.read(fd, 1 << 16)
            except ConnectionResetError:  # it died with our request unread
                chunk = b""
            if chunk:
                data += chunk
                continue
            return b""  # every other end closed: it exited without a whole answer
        if exited() and not poller.poll(0):
            return b""  # it exited with nothing more to read


def stop_host(pid: int) -> None:
    """Kill the host's process group (a no-op once it exited) and reap the host."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)  # before its setpgid, the group does not exist yet
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


# --- in the host -----------------------------------------------------------------------------


def serve_calls(
    sock: socket.socket, parent_pid: int, known: dict[int, ToolSpec], call: Call
) -> NoReturn:
    # Nothing may escape this function: the host must never return into the worker's code.
    # Keep it to what is safe right after a fork in a threaded process: no logging of our
    # own, no locks another thread of the worker may have held (the log scrubber's is
    # renewed by its own at-fork hook).
    try:
        die_with_parent(parent_pid)
        name_process(HOST_NAME)
        os.setpgid(0, 0)  # its own process group, so whatever the tool starts is killed too
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # orphans of the tool's children stay in sight
        next_call: Call | None = call
        while next_call is not None:
            answer = answer_call(next_call.spec, next_call.arguments, next_call.timeout_s)
            if _has_leftovers():
                answer["leftovers"] = ""  # the worker kills them with this host
            data = json.dumps(answer).encode()
            sock.sendall(len(data).to_bytes(_LENGTH_BYTES, "big") + data)
            next_call = _next_call(sock, known)
    finally:
        # No atexit handlers, no flushing of buffers copied from the worker, no closing of
        # its database or Redis connections: only the worker owns those.
        os._exit(0)


def _next_call(sock: socket.socket, known: dict[int, ToolSpec]) -> Call | None:
    """The next request, or None once the worker closed its end."""
    header = receive_exactly(sock, _LENGTH_BYTES)
    if header is None:
        return None
    request = receive_exactly(sock, int.from_bytes(header, "big"))
    if request is None:
        return None
    token, arguments, timeout_s = decode_request(request)
    return Call(known[token], arguments, timeout_s)


def receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return data


def _has_leftovers() -> bool:
    """Whether the call left a thread or a child process running (exited ones are reaped).

    Before hosts, nothing a call started outlived it; a host with leftovers is killed with
    its process group instead of being reused, so that still holds."""
    if threading.active_count() > 1:
        return True
    while True:
        try:
            exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            return False  # no child processes at all
        if exited is None:
            return True  # children still running


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this child when its parent dies: the worker, or for a host the
    host server, which dies with the worker (a SIGKILLed worker cannot stop its children
    itself); elsewhere the worker's own deadline is the only stop."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the worker died before the request took effect
        os._exit(1)


def name_process(name: bytes) -> None:
    """This process's name as `ps -o comm` shows it (Linux; 15 bytes at most)."""
    _prctl(_PR_SET_NAME, name)


def _prctl(option: int, value: int | bytes) -> None:
    if _PRCTL is not None:
        _PRCTL(option, value)
