"""The list envelope's cursors, as a table: no store, no HTTP."""

from __future__ import annotations

import pytest

from gateway.assistants_api.pages import page

ITEMS = [{"id": name} for name in "abcde"]  # oldest first


@pytest.mark.parametrize(
    ("options", "ids", "has_more"),
    [
        ({"limit": 2, "order": "desc"}, "ed", True),
        ({"limit": 2, "order": "asc"}, "ab", True),
        ({"limit": 2, "order": "asc", "after": "b"}, "cd", True),
        ({"limit": 2, "order": "asc", "after": "d"}, "e", False),
        ({"limit": 2, "order": "desc", "before": "b"}, "dc", True),
        ({"limit": 5, "order": "asc", "before": "c"}, "ab", False),
        ({"limit": 2, "order": "asc", "after": "a", "before": "d"}, "bc", False),
        ({"limit": 2, "order": "asc", "after": "gone"}, "", False),
    ],
)
def test_cursors_page_in_the_lists_order(options, ids, has_more):
    listed = page(ITEMS, **options)

    assert "".join(item["id"] for item in listed["data"]) == ids
    assert listed["has_more"] is has_more
    assert listed["first_id"] == (ids[0] if ids else None)
    assert listed["last_id"] == (ids[-1] if ids else None)
