"""Pure: when to poll a model turn, from how long recent turns of the same model took.

A fixed ladder (0.5 s x 1.5) polls a 2 s turn three or four times. Recent turns of the same
model say more: the first poll goes out when nine in ten of them had finished, the second
just after the slowest; only a turn slower than all of them falls back to the ladder. A
first poll at the median found half the turns still running: 1.25 polls a turn instead of
1.05, and every poll spends the request budget that creates need; waiting for the 90th
percentile costs a turn about a tenth of its length. With no history yet (fewer than
`MIN_SAMPLES` turns) the ladder is used as is.

No clock, no Redis: callers pass the recent durations (seconds, any order).
"""

from __future__ import annotations

from collections.abc import Sequence

from workers.backoff import Schedule, grow_delay_s

MIN_SAMPLES = 5
"""Fewer recent turns than this say too little; the ladder is used."""
QUANTILES = (0.9, 1.0)
"""Where polls 1 and 2 of a turn go, as quantiles of the recent durations."""
PAST_SLOWEST = 1.05
"""The last planned poll goes a little past the slowest recent turn."""
MIN_GAP_S = 0.05


def quantile(sorted_s: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of ascending `sorted_s`, interpolated between neighbours."""
    if not sorted_s:
        raise ValueError("quantile of no samples")
    position = q * (len(sorted_s) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_s) - 1)
    return sorted_s[low] + (sorted_s[high] - sorted_s[low]) * (position - low)


def planned_polls_s(recent_s: Sequence[float]) -> tuple[float, ...]:
    """Seconds after a turn starts at which to poll it: rising, at least `MIN_GAP_S` apart.
    Empty when there is too little history."""
    if len(recent_s) < MIN_SAMPLES:
        return ()
    ordered = sorted(max(0.0, s) for s in recent_s)
    marks: list[float] = []
    for q in QUANTILES:
        mark = quantile(ordered, q) * (PAST_SLOWEST if q >= 1.0 else 1.0)
        if not marks or mark >= marks[-1] + MIN_GAP_S:
            marks.append(mark)
    return tuple(marks)


def poll_delay_s(poll_count: int, recent_s: Sequence[float], ladder: Schedule) -> float:
    """How long to wait before poll number `poll_count` (0 = the first after the turn began).

    Planned polls first; once past them (or with no history) the ladder, counted from the
    first unplanned poll, so a turn slower than every recent one is still polled promptly.
    """
    marks = planned_polls_s(recent_s)
    if poll_count == 0 and marks:
        # No floor: when recent turns ended at once (a local server, a cached model), a
        # floor here would be the whole of runq's time per turn. The gaps after it have one.
        return marks[0]
    if poll_count < len(marks):
        return max(MIN_GAP_S, marks[poll_count] - marks[poll_count - 1])
    return grow_delay_s(poll_count - len(marks), ladder)
