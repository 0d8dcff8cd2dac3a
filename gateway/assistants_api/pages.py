"""The Assistants API's list envelope and its cursors (`limit`, `order`, `after`, `before`).

Pure: it pages objects already built, oldest first. Lists here are one owner's assistants
or one thread's messages, runs or steps, read whole; a key with very many assistants would
want keyset pagination in SQL instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

Order = Literal["asc", "desc"]


def page(
    items: Sequence[dict[str, Any]],
    *,
    limit: int,
    order: Order,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """`{"object": "list", "data", "first_id", "last_id", "has_more"}` over `items`.

    `after` and `before` are ids in the list's own order; an id that is not in it (another
    key's, or gone) gives an empty page rather than the first one again."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    start, stop = 0, len(ordered)
    if after is not None:
        start = ids.index(after) + 1 if after in ids else len(ordered)
    if before is not None:
        stop = ids.index(before) if before in ids else 0
    window = ordered[start:stop]
    # `before` alone pages backwards: the `limit` items just before the cursor.
    data = window[-limit:] if before is not None and after is None else window[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(window) > limit,
    }
