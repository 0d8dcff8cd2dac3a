"""The pure lane rules: names, tiers, fallbacks, prices, provider checks."""

import pytest

from config.settings import LANE_NAMES as SETTINGS_LANE_NAMES
from workers.errors import LaneRefused
from workers.lanes import (
    Lane,
    check_lane_provider,
    fallback_of,
    lane_of,
    parse_lane,
    price_multiplier,
    served_lane,
    service_tier_of,
)


def test_settings_know_the_same_lanes():
    assert tuple(lane.value for lane in Lane) == SETTINGS_LANE_NAMES


@pytest.mark.parametrize(
    ("lane", "tier", "fallback", "multiplier"),
    [
        (Lane.INTERACTIVE, "priority", None, 2.0),
        (Lane.STANDARD, None, None, 1.0),
        (Lane.FLEX, "flex", Lane.STANDARD, 0.5),
        (Lane.BATCH, None, None, 0.5),
    ],
)
def test_each_lane_has_its_tier_fallback_and_price(lane, tier, fallback, multiplier):
    assert service_tier_of(lane) == tier
    assert fallback_of(lane) == fallback
    assert price_multiplier(lane, {}) == multiplier


def test_a_configured_multiplier_wins():
    assert price_multiplier(Lane.FLEX, {"flex": 0.4}) == 0.4
    assert price_multiplier(Lane.BATCH, {"flex": 0.4}) == 0.5


def test_a_run_lane_wins_over_its_agents():
    assert lane_of(None, Lane.FLEX) is Lane.FLEX
    assert lane_of("batch", Lane.FLEX) is Lane.BATCH


def test_a_fallen_back_run_is_served_in_its_fallback():
    assert served_lane("flex", None) is Lane.FLEX
    assert served_lane("flex", "standard") is Lane.STANDARD


def test_an_unknown_lane_is_refused_naming_the_lanes():
    with pytest.raises(LaneRefused, match="unknown lane 'turbo'; lanes are: interactive, standard"):
        parse_lane("turbo")


def test_a_cheaper_lane_needs_the_responses_provider():
    assert check_lane_provider(Lane.STANDARD, "chat") is Lane.STANDARD
    assert check_lane_provider(Lane.FLEX, "responses") is Lane.FLEX
    with pytest.raises(LaneRefused, match="lane 'flex' needs an agent on the responses provider"):
        check_lane_provider(Lane.FLEX, "chat")
