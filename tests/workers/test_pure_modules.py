"""The functional core stays pure: its modules import no I/O, clock or randomness (STYLE rule 5).

Only imports are checked (parsed with `ast`, nothing is executed); modules other sessions have
not written yet are left out, but the ones that already exist are required.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_MODULES = (
    "workers/runs/state.py",
    "workers/backoff.py",
    "workers/runs/turn_estimate.py",
    "workers/limits/token_bucket.py",
    "workers/limits/queue_slot.py",
    "workers/limits/spend.py",
    "workers/cache/cache_key.py",
    "workers/redis_keys.py",
    "workers/runs/usage.py",
    "workers/runs/recovery.py",
    "workers/runs/fair_share.py",
    "workers/tools/breaker.py",
    "simulator/script.py",
    "simulator/tool_directives.py",
    "workers/public/thread_names.py",
    "workers/runs/gates.py",
    "workers/schedule_ticks.py",
    "workers/runs/handoffs.py",
    "workers/guardrails.py",
)
REQUIRED = PURE_MODULES
FORBIDDEN = frozenset(
    {"redis", "sqlmodel", "sqlalchemy", "celery", "openai", "httpx", "httpx2", "os", "time",
     "random"}
)  # fmt: skip
EXISTING = [path for path in PURE_MODULES if (ROOT / path).is_file()]


def imported_roots(source: str) -> set[str]:
    """Top-level package names a module imports (relative imports excluded)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_required_pure_modules_exist() -> None:
    assert set(REQUIRED) <= set(EXISTING)


@pytest.mark.parametrize("path", EXISTING)
def test_pure_module_imports_nothing_impure(path: str) -> None:
    roots = imported_roots((ROOT / path).read_text(encoding="utf-8"))
    assert not roots & FORBIDDEN, f"{path} imports {sorted(roots & FORBIDDEN)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os.path", {"os"}),
        ("from time import monotonic", {"time"}),
        ("def f():\n    import random", {"random"}),
        ("from . import sibling", set()),
        ("import re, hashlib as h", {"re", "hashlib"}),
    ],
)
def test_imported_roots(source: str, expected: set[str]) -> None:
    assert imported_roots(source) == expected


def test_the_real_provider_guard_trips():
    import openai
    import pytest

    with pytest.raises(AssertionError, match="real OpenAI API"):
        openai.OpenAI(api_key="sk-x", base_url="https://api.openai.com/v1")
