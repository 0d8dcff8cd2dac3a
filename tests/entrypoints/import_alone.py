"""Import each named module of runq alone, in a process that has imported no runq module.

`python -m tests.entrypoints.import_alone MODULE...` prints one JSON line per module:
{"module": ..., "error": null | "the exception's last line", "missing": the module a
ModuleNotFoundError names}. The parent imports only
third-party libraries (the slow part of every import), then forks one child per module, a few
at a time; each child starts with no runq module loaded, imports its one module and exits. An
import cycle that only bites when a given module comes first fails in that module's child,
exactly as it would in a fresh interpreter started on it (`runq serve`, `celery -A config`).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import traceback

# Third-party libraries runq imports: loading them once here keeps 190 imports fast.
PRELOAD = (
    "alembic",
    "alembic.command",
    "celery",
    "fastapi",
    "httpx2",
    "jsonschema",
    "kombu",
    "openai",
    "openai.types.beta",  # loaded lazily by the SDK: 0.4 s in each child that needs it
    "openai.types.chat",
    "openai.types.responses",
    "prometheus_client",
    "pydantic",
    "pydantic_settings",
    "redis",
    "pythonjsonlogger.json",
    "rich",
    "rich.console",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "typer",
    "uvicorn",
    "yaml",
)
PARALLEL = 4
OWN_PACKAGES = ("config", "workers", "tasks", "gateway", "devstack", "simulator", "bench")


def _preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # an optional extra: the module that needs it reports it
    loaded = [m for m in sys.modules if m.split(".")[0] in (*OWN_PACKAGES, "runq_client")]
    assert not loaded, f"a third-party preload imported runq modules: {loaded}"
    # The preloaded objects out of the children's collections: a collection that walked them
    # would write to (and so copy) most of the parent's pages in every child.
    gc.collect()
    gc.freeze()


def _child(module: str, write_fd: int) -> None:
    error = missing = None
    try:
        importlib.import_module(module)
    except BaseException as exc:  # anything an import raises is the finding
        error = traceback.format_exception_only(type(exc), exc)[-1].strip()
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    result = {"module": module, "error": error, "missing": missing}
    os.write(write_fd, json.dumps(result).encode())
    os._exit(0)


def main(modules: list[str]) -> None:
    _preload()
    pending = list(modules)
    running: dict[int, tuple[str, int]] = {}  # pid -> its module, the read end of its pipe
    while pending or running:
        while pending and len(running) < PARALLEL:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(pending[0], write_fd)
            os.close(write_fd)
            running[pid] = (pending.pop(0), read_fd)
        pid, _ = os.wait()
        module, read_fd = running.pop(pid)
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        os.close(read_fd)
        print(b"".join(chunks).decode() or json.dumps({"module": module, "error": "died"}))


if __name__ == "__main__":
    main(sys.argv[1:])
