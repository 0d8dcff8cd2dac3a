"""The one thread-name rule (pure): what a caller may name a thread, and the stored form."""

from __future__ import annotations

import pytest

from workers.public.thread_names import (
    THREAD_NAME_RULE,
    check_thread_name,
    scoped_thread_key,
    split_thread_key,
    thread_name_problem,
)


@pytest.mark.parametrize(
    "name",
    ["user-42", "u", "team/user-42", "a/b/c", "alice@example.com", "tenant:7", "v1.2_x",
     "x" * 128, "Key_upper-is-not-reserved", "thread_key"],
)  # fmt: skip
def test_allowed_names(name: str) -> None:
    assert thread_name_problem(name) is None
    assert check_thread_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        pytest.param("", "characters", id="empty"),
        pytest.param("x" * 129, "characters", id="too-long"),
        pytest.param("user 42", "not allowed", id="space"),
        pytest.param("user\x00", "not allowed", id="nul"),
        pytest.param("user%2F42", "not allowed", id="percent"),
        pytest.param("usér", "not allowed", id="non-ascii"),
        pytest.param("a?b", "not allowed", id="query-mark"),
        pytest.param("a#b", "not allowed", id="fragment-mark"),
        pytest.param("/user", "not allowed", id="leading-slash"),
        pytest.param("user/", "not allowed", id="trailing-slash"),
        pytest.param("a//b", "not allowed", id="empty-part"),
        pytest.param("a/../b", "not allowed", id="dot-dot-part"),
        pytest.param("./a", "not allowed", id="dot-part"),
        pytest.param("key_0123/user-42", "reserved", id="a-tenants-scope"),
        pytest.param("key_x", "reserved", id="key-prefix-alone"),
        pytest.param("thr_0123", "reserved", id="a-thread-id"),
    ],
)
def test_refused_names_state_the_rule(name: str, why: str) -> None:
    problem = thread_name_problem(name)
    assert problem is not None and why in problem and THREAD_NAME_RULE in problem
    with pytest.raises(ValueError, match="thread key"):
        check_thread_name(name)


@pytest.mark.parametrize("owner", ["", "key_abc"])
@pytest.mark.parametrize("name", ["user-42", "team/user-42", "a/b/c"])
def test_stored_keys_split_back_into_owner_and_name(owner: str, name: str) -> None:
    assert split_thread_key(scoped_thread_key(owner, name)) == (owner, name)


@pytest.mark.parametrize("legacy", ["key_x", "key_", "key_x/"])
def test_a_legacy_unscoped_key_name_reads_as_unowned_and_never_raises(legacy: str) -> None:
    assert split_thread_key(legacy) == ("", legacy)
