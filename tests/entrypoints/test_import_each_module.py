"""Every module of runq imports on its own, in a process where no other runq module was
imported first: an import cycle that depends on import order (the one that killed
`runq serve`) fails here, whichever module a real process happens to import first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.entrypoints, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "workers", "tasks", "gateway", "devstack", "simulator", "bench")
CLIENT = ROOT / "clients" / "python"
# Alembic runs these as scripts inside its own context; they are not importable modules.
# Optional extras (`pip install ".[bench]"`): a module that needs one may miss it here.
OPTIONAL_EXTRAS = {"agents", "matplotlib", "psutil"}
NOT_MODULES = ("workers.db.migrations.env", "workers.db.migrations.versions.")


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def every_module() -> list[str]:
    files = [(p, ROOT) for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    files += [(p, CLIENT) for p in (CLIENT / "runq_client").rglob("*.py")]
    names = {module_name(path, base) for path, base in files}
    return sorted(n for n in names if not n.startswith(NOT_MODULES) and n != "simulator.__main__")


def test_the_module_list_covers_every_package():
    modules = every_module()
    for package in (*PACKAGES, "runq_client"):
        assert package in modules
    assert "workers.observability.worker_hooks" in modules and "gateway.cli" in modules
    assert len(modules) > 150


def bare_environment() -> dict[str, str]:
    """A fresh shell's environment: none of runq's variables (the test session sets dev), so an
    import that reads or checks settings fails here as it would for a user."""
    ours = ("RUNQ_", "OPENAI_", "REDIS_URL", "DATABASE_URL")
    return {name: value for name, value in os.environ.items() if not name.startswith(ours)}


def test_every_module_imports_alone_in_a_fresh_process():
    modules = every_module()
    done = subprocess.run(
        [sys.executable, "-m", "tests.entrypoints.import_alone", *modules],
        cwd=ROOT,
        env=bare_environment(),
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["module"] for r in results) == modules, done.stderr[-3000:]
    failed = {
        r["module"]: r["error"]
        for r in results
        if r["error"] and r["missing"] not in OPTIONAL_EXTRAS
    }
    assert not failed, "\n".join(f"{m}: {e}" for m, e in failed.items())
