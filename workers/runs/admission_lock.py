"""One admission round at a time across the fleet, and no owed round left unrun.

Whoever frees or adds work (a run created, a run ended) marks a round owed and, if none was
owed yet, sends one `admit` message. The worker that takes the lock runs rounds while one is
owed, and looks again after it lets go, so a round owed while it held the lock is never
lost between its last look and its release. A lost message costs at most a sweep interval:
the sweep owes and runs a round itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

from workers.redis_keys import admission_due_key, admission_lock_key

# An owed round whose message was lost stops blocking new messages after this.
_DUE_TTL_S = 60
# A worker that dies holding the lock lets the next round start after this.
_LOCK_TTL_MS = 30_000

# KEYS[1]: the lock; ARGV[1]: the holder's token. Deletes the lock only if still held by it.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def owe_round(client: redis.Redis, prefix: str) -> bool:
    """Mark an admission round owed; True when none was owed (send a message for it)."""
    return bool(client.set(admission_due_key(prefix), "1", nx=True, ex=_DUE_TTL_S))


def run_owed_rounds(client: redis.Redis, prefix: str, admit_round: Callable[[], int]) -> int:
    """Run `admit_round` while a round is owed, holding the fleet's lock; returns how many
    runs the rounds admitted (0 at once when another worker holds the lock: it runs them)."""
    due, lock = admission_due_key(prefix), admission_lock_key(prefix)
    admitted = 0
    while client.exists(due):
        token = uuid.uuid4().hex
        if not client.set(lock, token, nx=True, px=_LOCK_TTL_MS):
            return admitted
        try:
            while client.delete(due):
                admitted += admit_round()
        finally:
            client.eval(_RELEASE, 1, lock, token)
    return admitted
