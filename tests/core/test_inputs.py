"""The argument checks of core/inputs.py: our ValidationError naming the argument, never a TypeError."""

from __future__ import annotations

import math

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.inputs import (
    INT64_MAX, check_count, check_params_text, check_seconds, check_seed, check_text, text_problem,
)


@pytest.mark.parametrize("value", ["abc", "3", -1, True, 2.0, None, INT64_MAX + 1])
def test_check_count_refuses_what_is_not_a_whole_number_in_range(value):
    with pytest.raises(ValidationError, match="limit: must be a whole number") as info:
        check_count("limit", value)
    assert info.value.param == "limit"


def test_check_count_keeps_good_values_and_its_minimum():
    assert check_count("limit", 5, minimum=1) == 5 and check_count("offset", 0) == 0
    with pytest.raises(ValidationError, match="at least 1"):
        check_count("limit", 0, minimum=1)


def test_check_seed_reads_digits_and_refuses_the_rest():
    assert check_seed("rng_seed", 7) == 7 and check_seed("rng_seed", " 42 ") == 42
    for bad in ("abc", -1, 2**63, 1.5, False):
        with pytest.raises(ValidationError, match="rng_seed"):
            check_seed("rng_seed", bad)


@pytest.mark.parametrize("value", [None, 0, -1, math.inf, math.nan, "10", 10**9])
def test_check_seconds_refuses_no_limit_and_nonsense(value):
    with pytest.raises(ValidationError, match="timeout: must be a number of seconds"):
        check_seconds("timeout", value)


def test_text_problems_name_the_position():
    assert text_problem("fine ✓") is None
    assert "NUL" in text_problem("ab\x00") and "position 3" in text_problem("ab\x00")
    assert "surrogate" in text_problem("a\udcff") and "position 2" in text_problem("a\udcff")
    with pytest.raises(ValidationError, match="non-empty"):
        check_text("name", "  ", empty=False)
    with pytest.raises(ValidationError, match="must be text"):
        check_text("name", b"bytes")


def test_params_are_walked_through_lists_and_mappings():
    check_params_text({"prompt": ["a", "b"], "loras": [{"name": "x", "scale": 0.5}], "seed": 3})
    with pytest.raises(ValidationError, match="loras"):
        check_params_text({"loras": [{"name": "x\x00"}]})
    with pytest.raises(ValidationError, match="parameter name"):
        check_params_text({"bad\x00name": 1})
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValidationError, match="nests"):
        check_params_text({"prompt": deep})
