"""Thread names: the one rule for what a caller may call a thread, and how it is stored.

Every door (HTTP body, path and query, `runq enqueue`, `send_task`, the thin client through
the API) checks a name with `thread_name_problem`, so they cannot disagree. A thread is
stored under `scoped_thread_key(owner, name)`: `key_<id>/<name>` for an API key's thread,
the bare name for the operator's and unowned producers'. The reserved prefixes are what
makes that safe: no caller can name a thread `key_…` (and so reach into a tenant's scope)
or `thr_…` (and so shadow a thread id, which the CLI also accepts).

Pure: no I/O, no imports beyond `re`.
"""

from __future__ import annotations

import re

MAX_CHARS = 128
RESERVED_PREFIXES = ("key_", "thr_")
THREAD_NAME_RULE = (
    f"a thread key is 1-{MAX_CHARS} characters: letters, digits and . _ : @ - in parts "
    "separated by single '/' (no empty, '.' or '..' part), not starting with 'key_' or "
    "'thr_' (reserved)"
)

_PART = re.compile(r"[A-Za-z0-9._:@-]+")
_OWNER_SEPARATOR = "/"


def thread_name_problem(name: str) -> str | None:
    """Why `name` is not a valid thread key (one line that states the rule), or None."""
    if not 1 <= len(name) <= MAX_CHARS:
        return f"thread key has {len(name)} characters: {THREAD_NAME_RULE}"
    parts = name.split("/")
    if any(not _PART.fullmatch(part) or part in (".", "..") for part in parts):
        return f"thread key {name!r} is not allowed: {THREAD_NAME_RULE}"
    if name.startswith(RESERVED_PREFIXES):
        return f"thread key {name!r} uses a reserved prefix: {THREAD_NAME_RULE}"
    return None


def check_thread_name(name: str) -> str:
    """`name` itself, or ValueError with the rule (pydantic turns it into a 422)."""
    problem = thread_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


def scoped_thread_key(owner_key_id: str, name: str) -> str:
    """The stored key: per owner, so two services may both have a "user-42"."""
    return f"{owner_key_id}{_OWNER_SEPARATOR}{name}" if owner_key_id else name


def split_thread_key(external_key: str) -> tuple[str, str]:
    """(owner key id or "", the caller's name) of a stored key. Never raises: a legacy
    `key_x` stored with no owner part reads as an unowned thread called `key_x`."""
    if external_key.startswith("key_"):
        owner, separator, name = external_key.partition(_OWNER_SEPARATOR)
        if separator and name:
            return owner, name
    return "", external_key
