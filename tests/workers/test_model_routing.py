import pytest

from workers.model_routing import ModelHint, ModelRouting, choose_model

ROUTING = ModelRouting(cheap_model="mini", strong_model="large", strong_above_chars=10)


@pytest.mark.parametrize(
    ("routing", "text", "hint", "expected"),
    [
        (None, "anything at all, long or short", None, "default"),
        (None, "x", ModelHint.STRONG, "default"),
        (ROUTING, "short", None, "mini"),
        (ROUTING, "exactly 10", None, "mini"),
        (ROUTING, "eleven char", None, "large"),
        (ROUTING, "a much longer question", ModelHint.CHEAP, "mini"),
        (ROUTING, "short", ModelHint.STRONG, "large"),
    ],
)
def test_choose_model(routing, text, hint, expected):
    assert choose_model("default", routing, text, hint) == expected
