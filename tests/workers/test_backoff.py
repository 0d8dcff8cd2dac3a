import pytest

from workers.backoff import Schedule, grow_delay_s, stretch_s

POLL = Schedule(first_s=0.5, factor=2.0, cap_s=5.0)


@pytest.mark.parametrize(
    ("step", "expected_s"),
    [(-1, 0.5), (0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (50, 5.0), (10_000, 5.0)],
)
def test_delay_starts_short_and_grows_to_the_cap(step, expected_s):
    assert grow_delay_s(step, POLL) == expected_s


def test_first_delay_never_exceeds_the_cap():
    assert grow_delay_s(0, Schedule(first_s=9.0, factor=2.0, cap_s=3.0)) == 3.0


@pytest.mark.parametrize(("jitter", "expected_s"), [(0.0, 10.0), (0.5, 10.5), (0.999999, 10.99999)])
def test_jitter_only_lengthens_by_up_to_ten_percent(jitter, expected_s):
    assert stretch_s(10.0, jitter) == pytest.approx(expected_s, abs=1e-4)
