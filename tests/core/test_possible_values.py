"""possible_values: every value a parameter can take, random picks included (what the panels
check before a random draw decides which file a generation reads)."""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import OrderTooLarge, SmartParameterError
from imagen_nb.core.smart import possible_values


def test_every_option_of_a_pick_and_a_token_is_seen():
    assert possible_values("image", "[a.png|/etc/x.png]") == ["a.png", "/etc/x.png"]
    assert possible_values("image", "[?pics]", tokens={"pics": ["a", "b"]}) == ["a", "b"]
    assert possible_values("image", "dir/[a|[b,c]].png") == ["dir/a.png", "dir/b.png", "dir/c.png"]
    assert possible_values("seed", "[1..3]") == [1, 2, 3]
    assert possible_values("image", ["a", "b"]) == ["a", "b"] and possible_values("image", "plain") == ["plain"]


def test_too_many_values_or_a_malformed_one_is_refused():
    with pytest.raises(OrderTooLarge, match="image can take 10,000 values"):
        possible_values("image", "[1..100] [1..100]", limit=9_999)
    with pytest.raises(SmartParameterError):
        possible_values("image", "[a,b|c]")
