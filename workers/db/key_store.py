"""SQL for API keys: keyword-only functions that take a session.

A key is 32 random bytes (256 bits), so a plain SHA-256 is enough to store it: there is
nothing to brute-force, unlike a password, and a lookup stays one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workers.db.models import ApiKey, utcnow
from workers.errors import ConfigError
from workers.limits.spend import check_budget_usd

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


ON_BUDGET_CHOICES = ("fail", "wait")


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """A key's dollar limits (None: none of that kind) and what its runs do over one."""

    max_usd: float | None = None
    max_usd_day: float | None = None
    max_usd_month: float | None = None
    on_budget: str = "fail"

    def checked(self) -> KeyBudget:
        """This budget, or ConfigError naming the bad value (negative, absurd, unknown)."""
        try:
            for name in ("max_usd", "max_usd_day", "max_usd_month"):
                check_budget_usd(getattr(self, name), name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.on_budget not in ON_BUDGET_CHOICES:
            raise ConfigError(
                f"on_budget must be one of {', '.join(ON_BUDGET_CHOICES)}, not {self.on_budget!r}"
            )
        return self


def create_key(
    session: Session,
    *,
    name: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    budget: KeyBudget | None = None,
) -> tuple[ApiKey, str]:
    """Create a key called `name` that may do `scopes`, within `budget`; returns the row and
    the key, which is never stored. ConfigError for an unknown or empty scope list or a bad
    budget."""
    budget = (budget or KeyBudget()).checked()
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
        max_usd=budget.max_usd,
        max_usd_day=budget.max_usd_day,
        max_usd_month=budget.max_usd_month,
        on_budget=budget.on_budget,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConfigError(f"an API key called {name!r} already exists") from None
    session.refresh(row)
    return row, key


def set_budget(session: Session, *, name: str, budget: KeyBudget) -> ApiKey | None:
    """Replace the live key `name`'s dollar limits (in flight turns keep their holds);
    None if there is no live key by that name. ConfigError for a bad budget."""
    budget.checked()
    row = find_key_by_name(session, name=name)
    if row is None or row.revoked_at is not None:
        return None
    row.max_usd, row.max_usd_day, row.max_usd_month = (
        budget.max_usd,
        budget.max_usd_day,
        budget.max_usd_month,
    )
    row.on_budget = budget.on_budget
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def budget_of(row: ApiKey) -> KeyBudget:
    """The key's dollar limits as stored."""
    return KeyBudget(row.max_usd, row.max_usd_day, row.max_usd_month, row.on_budget)


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
