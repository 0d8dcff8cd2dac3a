"""SQL for API keys: keyword-only functions that take a session.

A key is 32 random bytes (256 bits), so a plain SHA-256 is enough to store it: there is
nothing to brute-force, unlike a password, and a lookup stays one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workers.db.models import ApiKey, utcnow
from workers.errors import ConfigError

KEY_PREFIX = "rq_"
SHOWN_PREFIX_CHARS = 10
SCOPES = ("submit", "read", "admin")
"""submit: start and cancel runs; read: see runs, threads and events; admin: everything."""
DEFAULT_SCOPES = ("submit", "read")
"""What a key could do before scopes existed, and what `runq keys create` still gives."""


def parse_scopes(stored: str) -> frozenset[str]:
    """The scopes of a stored `scopes` column (comma-separated)."""
    return frozenset(part for part in stored.split(",") if part)


def has_scope(scopes: frozenset[str], needed: str) -> bool:
    """Whether a key with `scopes` may do what `needed` allows (admin may do everything)."""
    return needed in scopes or "admin" in scopes


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session, *, name: str, scopes: Sequence[str] = DEFAULT_SCOPES
) -> tuple[ApiKey, str]:
    """Create a key called `name` that may do `scopes`; returns the row and the key, which
    is never stored. ConfigError for an unknown or empty scope list."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ConfigError(
            f"invalid scopes {', '.join(unknown) or '(none)'}: choose from {', '.join(SCOPES)}"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:SHOWN_PREFIX_CHARS],
        key_hash=hash_key(key),
        scopes=",".join(scope for scope in SCOPES if scope in scopes),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConfigError(f"an API key called {name!r} already exists") from None
    session.refresh(row)
    return row, key


def find_active_key(session: Session, *, key: str) -> ApiKey | None:
    """The live key row for a presented key, or None (unknown or revoked)."""
    query = select(ApiKey).where(ApiKey.key_hash == hash_key(key))
    row = session.exec(query).first()
    return None if row is None or row.revoked_at is not None else row


def live_key_ids(session: Session, *, key_ids: set[str]) -> set[str]:
    """Which of `key_ids` still exist and are not revoked (one query)."""
    query = select(ApiKey.id).where(col(ApiKey.id).in_(key_ids), col(ApiKey.revoked_at).is_(None))
    return set(session.exec(query).all())


def find_key_by_name(session: Session, *, name: str) -> ApiKey | None:
    """The key row called `name` (revoked or not), or None."""
    return session.exec(select(ApiKey).where(ApiKey.name == name)).first()


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first."""
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all())


def revoke_key(session: Session, *, name: str) -> bool:
    """Revoke the key called `name`; False if there is no live key by that name."""
    row = find_key_by_name(session, name=name)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
    return True
