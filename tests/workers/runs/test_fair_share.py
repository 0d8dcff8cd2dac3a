"""The weighted fair-share choice, as a table: no servers, no clock."""

from __future__ import annotations

import pytest

from workers.runs.fair_share import Tenant, choose_admissions, share_problem


def runs(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(count))


def test_a_small_tenant_gets_the_next_slot_ahead_of_a_flood_backlog():
    flood = Tenant("flood", in_flight=9, waiting=runs("f", 1000))
    small = Tenant("small", in_flight=0, waiting=runs("s", 10))
    assert choose_admissions([flood, small], target=10) == ["s0"]


def test_free_slots_are_split_evenly_between_equal_weights():
    a = Tenant("a", in_flight=0, waiting=runs("a", 100))
    b = Tenant("b", in_flight=0, waiting=runs("b", 100))
    chosen = choose_admissions([a, b], target=10)
    assert sorted(chosen) == sorted(runs("a", 5) + runs("b", 5))


def test_a_weight_of_three_gets_three_slots_for_each_one():
    heavy = Tenant("heavy", in_flight=0, waiting=runs("h", 100), weight=3)
    light = Tenant("light", in_flight=0, waiting=runs("l", 100), weight=1)
    chosen = choose_admissions([heavy, light], target=8)
    assert sum(run.startswith("h") for run in chosen) == 6
    assert sum(run.startswith("l") for run in chosen) == 2


def test_a_cap_holds_even_with_slots_free():
    capped = Tenant("capped", in_flight=2, waiting=runs("c", 100), cap=3)
    assert choose_admissions([capped], target=50) == ["c0"]


def test_a_key_at_its_cap_leaves_the_slots_to_others():
    capped = Tenant("capped", in_flight=3, waiting=runs("c", 100), cap=3)
    other = Tenant("other", in_flight=0, waiting=runs("o", 2))
    assert choose_admissions([capped, other], target=10) == ["o0", "o1"]


def test_a_key_with_nothing_waiting_counts_against_the_target_but_takes_no_slot():
    busy = Tenant("busy", in_flight=8, waiting=())
    small = Tenant("small", in_flight=0, waiting=runs("s", 5))
    assert choose_admissions([busy, small], target=10) == ["s0", "s1"]


def test_nothing_is_admitted_at_or_over_the_target():
    over = Tenant("over", in_flight=12, waiting=runs("o", 3))
    assert choose_admissions([over], target=10) == []


def test_each_key_admits_its_oldest_runs_first():
    tenant = Tenant("a", in_flight=0, waiting=("old", "newer", "newest"))
    assert choose_admissions([tenant], target=2) == ["old", "newer"]


def test_a_key_below_its_share_catches_up_before_the_others_get_more():
    ahead = Tenant("ahead", in_flight=6, waiting=runs("a", 10))
    behind = Tenant("behind", in_flight=1, waiting=runs("b", 10))
    chosen = choose_admissions([ahead, behind], target=12)
    assert chosen[:5] == list(runs("b", 5))


@pytest.mark.parametrize(
    ("weight", "cap", "problem"),
    [
        (1, None, None),
        (5, 10, None),
        (None, None, None),
        (0, None, "weight must be a whole number of at least 1, not 0"),
        (-2, None, "weight must be a whole number of at least 1, not -2"),
        (1, 0, "max concurrent runs must be at least 1 (or unset for no cap), not 0"),
        (None, -1, "max concurrent runs must be at least 1 (or unset for no cap), not -1"),
    ],
)
def test_share_problem_names_what_is_wrong(weight, cap, problem):
    assert share_problem(weight, cap) == problem
