"""SmartParameters (DESIGN.md §3): what an order expands to, and the errors a user sees."""

from __future__ import annotations

import itertools
import math
import pickle
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imagen_nb.core.errors import OrderTooLarge, SmartParameterError
from imagen_nb.core.smart import (
    MAX_DEPTH,
    count,
    escape,
    expand,
    has_smart_syntax,
    new_rng_seed,
)

TOKENS = {"animal": ["cat", "dog", "fox"], "color": ["red", "blue"]}


def values(value, **kwargs):
    """The values one parameter takes across the generations of an order."""
    return [g["p"] for g in expand({"p": value}, **kwargs)]


def error(value, param="prompt", **kwargs) -> SmartParameterError:
    with pytest.raises(SmartParameterError) as info:
        expand({param: value}, **kwargs)
    return info.value


# ----------------------------------------------------------------------- forms


def test_list_group_gives_one_generation_per_option():
    assert values("[1,2,3]") == [1, 2, 3]
    assert values("a [cat, dog ,fox ]") == ["a cat", "a dog", "a fox"]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("[25..27]", [25, 26, 27]),
        ("[27..25]", [27, 26, 25]),
        ("[-2..2]", [-2, -1, 0, 1, 2]),
        ("[2..-2:2]", [2, 0, -2]),
        ("[3..3]", [3]),
        ("[ 1 .. 3 ]", [1, 2, 3]),
        ("[1..10:4]", [1, 5, 9]),  # 10 is not reached, so it is not included
        ("[7..8:0.5]", [7.0, 7.5, 8.0]),
        ("[8..7:0.5]", [8.0, 7.5, 7.0]),
        ("[0..0.3:0.1]", [0.0, 0.1, 0.2, 0.3]),  # no float drift: 0.30000000000000004 never appears
        ("[-0.5..0.5:0.25]", [-0.5, -0.25, 0.0, 0.25, 0.5]),
        ("[0.25..1:0.5]", [0.25, 0.75]),  # decimals of A count too, so 0.25 is not rounded away
        ("[1.5..3]", [1.5, 2.5]),
        ("[1..2.0]", [1.0, 2.0]),
    ],
)
def test_ranges(value, expected):
    got = values(value)
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_range_embedded_in_text_is_formatted_with_its_decimals():
    assert values("cfg [7..8:0.5]") == ["cfg 7.0", "cfg 7.5", "cfg 8.0"]
    assert values("x[-1..1]") == ["x-1", "x0", "x1"]
    assert values("w[0..0.2:0.05]") == ["w0.00", "w0.05", "w0.10", "w0.15", "w0.20"]


def test_ranges_as_options_of_list_and_pick_groups():
    assert values("[1..3,10]") == [1, 2, 3, 10]
    assert values("[10,3..1]") == [10, 3, 2, 1]
    picks = values("[25..27|30]", rng_seed=5)
    assert len(picks) == 1 and picks[0] in {25, 26, 27, 30}


def test_double_dot_between_non_numbers_is_literal_text():
    assert values("[a..b,c]") == ["a..b", "c"]
    assert values("from 1..3 to [x,y]") == ["from 1..3 to x", "from 1..3 to y"]
    assert values("[1..3x,y]") == ["1..3x", "y"]


def test_pick_makes_one_generation_from_the_options_and_is_reproducible():
    order = {"prompt": "a [cat|dog|fox]", "seed": "[1..1000|5000]", "steps": "[1,2,3]"}
    first = expand(order, rng_seed=42)
    assert len(first) == 3 == count(order)
    assert [g["steps"] for g in first] == [1, 2, 3]
    assert all(g["prompt"] in {"a cat", "a dog", "a fox"} for g in first)
    assert all(isinstance(g["seed"], int) and (1 <= g["seed"] <= 1000 or g["seed"] == 5000) for g in first)
    assert expand(order, rng_seed=42) == first


def test_each_generation_draws_its_own_picks():
    gens = expand({"seed": "[1..1000000|0]", "i": range(20)}, rng_seed=7)
    assert len({g["seed"] for g in gens}) > 1
    assert gens == expand({"seed": "[1..1000000|0]", "i": range(20)}, rng_seed=7)
    assert gens != expand({"seed": "[1..1000000|0]", "i": range(20)}, rng_seed=8)


def test_pick_is_uniform_over_all_values_its_options_describe():
    seen = {v for s in range(300) for v in values("[a|b [x,y]]", rng_seed=s)}
    assert seen == {"a", "b x", "b y"}


def test_pick_typed_as_whole_value_and_text_when_embedded():
    for seed in range(20):
        assert values("[1|2.5]", rng_seed=seed)[0] in {1, 2.5}
        assert values("x [1.50|2]", rng_seed=seed)[0] in {"x 1.50", "x 2"}


def test_without_rng_seed_picks_still_come_from_the_options():
    assert values("[cat|dog]")[0] in {"cat", "dog"}
    assert isinstance(new_rng_seed(), int)


def test_smart_tokens():
    assert values("a [animal]", tokens=TOKENS) == ["a cat", "a dog", "a fox"]
    assert values("[animal]", tokens=TOKENS) == ["cat", "dog", "fox"]
    assert values("[ animal ]", tokens=TOKENS) == ["cat", "dog", "fox"]
    assert values("[[animal],bird]", tokens=TOKENS) == ["cat", "dog", "fox", "bird"]
    picked = [values("a [?animal]", tokens=TOKENS, rng_seed=s)[0] for s in range(50)]
    assert set(picked) == {"a cat", "a dog", "a fox"}
    assert values("[? animal]", tokens=TOKENS, rng_seed=3) == values("[?animal]", tokens=TOKENS, rng_seed=3)


def test_token_values_are_not_parsed_and_keep_their_type():
    assert values("[t]", tokens={"t": ["[x]", "a,b"]}) == ["[x]", "a,b"]
    assert values("[n]", tokens={"n": [1, 2]}) == [1, 2]
    assert values("n=[n]", tokens={"n": [1, 2]}) == ["n=1", "n=2"]


def test_a_token_given_as_one_string_is_one_value():
    assert values("a [t]", tokens={"t": "cat"}) == ["a cat"]


def test_groups_nest_inside_options():
    assert values("[a [red,blue] car,a bike]") == ["a red car", "a blue car", "a bike"]
    assert values("[a [color] car,a bike]", tokens=TOKENS) == ["a red car", "a blue car", "a bike"]
    assert values("[x[1..2]y, z]") == ["x1y", "x2y", "z"]
    assert values("[[1,2],3]") == [1, 2, 3]


def test_escapes_are_literal():
    assert values(r"\[masterpiece\], a cat") == ["[masterpiece], a cat"]
    assert values(r"[a\,b,c\|d,e\\f,g\]h]") == ["a,b", "c|d", "e\\f", "g]h"]
    assert values(r"a \\ b \, c") == ["a \\ b , c"]


def test_backslash_before_other_characters_is_kept():
    assert values(r"C:\images\cat.png") == [r"C:\images\cat.png"]
    assert values("trailing \\") == ["trailing \\"]


def test_top_level_commas_and_bars_are_text():
    assert values("a cat, a dog | [x,y]") == ["a cat, a dog | x", "a cat, a dog | y"]


def test_whole_value_group_is_typed_embedded_group_is_text():
    assert values("[1,2,3]") == [1, 2, 3]
    assert values("[1.5,2]") == [1.5, 2]
    assert values("[auto,1,-2.50]") == ["auto", 1, -2.5]
    assert values("[+3,007]") == [3, 7]
    assert values("n [1.50,2]") == ["n 1.50", "n 2"]  # text as written
    assert values(" [1,2]") == [" 1", " 2"]  # exactly one group means no surrounding text
    assert values("[42]") == [42]


def test_python_sequences_are_groups_with_elements_as_given():
    assert values([1, "two", 3.0]) == [1, "two", 3.0]
    assert values((True, None)) == [True, None]
    assert values(range(3)) == [0, 1, 2]
    assert values(["a [x,y]"]) == ["a [x,y]"]  # elements are not parsed
    assert count({"p": range(10**12)}) == 10**12


def test_non_strings_and_plain_strings_pass_through_unchanged():
    d = {"k": [1, 2]}
    order = {"a": 1, "b": 2.5, "c": True, "d": None, "e": d, "f": "a cat, a dog | x", "g": b"[x]"}
    assert expand(order) == [order]
    assert expand(order)[0]["e"] is d


def test_empty_order_is_one_generation():
    assert expand({}) == [{}]
    assert count({}) == 1


def test_product_order_groups_left_to_right_first_slowest():
    assert values("a [brown,black] [cat,dog]") == ["a brown cat", "a brown dog", "a black cat", "a black dog"]


def test_product_order_across_parameters_first_slowest():
    gens = expand({"prompt": "a [cat,dog]", "seed": "[1,2,3]", "steps": 4})
    assert gens == [
        {"prompt": "a cat", "seed": 1, "steps": 4},
        {"prompt": "a cat", "seed": 2, "steps": 4},
        {"prompt": "a cat", "seed": 3, "steps": 4},
        {"prompt": "a dog", "seed": 1, "steps": 4},
        {"prompt": "a dog", "seed": 2, "steps": 4},
        {"prompt": "a dog", "seed": 3, "steps": 4},
    ]
    assert [list(g) for g in gens] == [["prompt", "seed", "steps"]] * 6


def test_design_example_makes_eight_generations():
    order = {"prompt": "a [brown,black] [cat,dog]", "seed": "[1,2]", "num_inference_steps": 4}
    assert count(order) == 8
    assert len(expand(order)) == 8


# ----------------------------------------------------------------------- limit


def test_limit_is_checked_before_anything_is_built():
    order = {"prompt": "[1..1000000]", "seed": "[1..1000000]"}
    assert count(order) == 10**12
    start = time.perf_counter()
    with pytest.raises(OrderTooLarge) as info:
        expand(order)
    assert time.perf_counter() - start < 0.5
    message = str(info.value)
    assert "1,000,000,000,000 generations" in message
    assert "the limit is 1,000" in message
    assert "limit=" in message
    assert isinstance(info.value, ValueError)
    assert (info.value.count, info.value.limit) == (10**12, 1000)


def test_order_too_large_is_one_of_the_smart_parameter_errors():
    """``except SmartParameterError`` is how people catch a bad order value; a too-large order too."""
    with pytest.raises(SmartParameterError) as info:
        expand({"seed": "[1..1001]"})
    error = info.value
    assert isinstance(error, OrderTooLarge)
    assert (error.param, error.column, error.count, error.limit) == ("", 0, 1001, 1000)
    assert str(error).startswith("this order would make 1,001 generations (seed ×1,001)")
    copy = pickle.loads(pickle.dumps(error))  # crosses processes (CLI, clients, Dask workers)
    assert (type(copy), str(copy), copy.count, copy.limit) == (OrderTooLarge, str(error), 1001, 1000)


def test_limit_is_inclusive_and_settable():
    assert len(expand({"p": "[1..1000]"})) == 1000
    with pytest.raises(OrderTooLarge, match="1,001 generations"):
        expand({"p": "[1..1001]"})
    assert len(expand({"p": "[1..1001]"}, limit=2000)) == 1001
    with pytest.raises(OrderTooLarge, match="the limit is 5"):
        expand({"p": "[1..6]"}, limit=5)
    assert len(expand({"p": "[1..1001]"}, limit=None)) == 1001


def test_random_picks_count_one():
    assert count({"p": "[1..1000000|2]", "q": "[?animal]"}, tokens=TOKENS) == 1


# ----------------------------------------------------------------------- errors


def test_mixed_separators():
    e = error("a [x,y|z]")
    assert (e.param, e.column) == ("prompt", 7)
    assert "mixes ','" in e.reason and "[a,[b|c]]" in e.reason


def test_unknown_token_suggests_escape_and_close_name():
    e = error("best, [masterpiece]", tokens=TOKENS)
    assert e.column == 7
    assert r"\[masterpiece\]" in e.reason and "A1111" in e.reason
    e = error("a [anmal]", tokens=TOKENS)
    assert e.column == 3
    assert "Did you mean 'animal'?" in e.reason
    e = error("a [?anmal]", tokens=TOKENS)
    assert "Did you mean 'animal'?" in e.reason
    assert "names no SmartToken" in error("[animal]").reason  # no tokens given at all


@pytest.mark.parametrize(
    "value, column, fragment",
    [
        ("a [cat,dog", 3, "never closed"),
        ("a [x [y,z]", 3, "never closed"),
        ("a cat]", 6, "no matching '['"),
        ("[a,b]]", 6, "no matching '['"),
        ("a [] b", 3, "empty group"),
        ("[ ]", 1, "empty group"),
        ("[a,,b]", 4, "empty option"),
        ("[a, ,b]", 4, "empty option"),
        ("[a|]", 4, "empty option"),
        ("[,a]", 2, "empty option"),
        ("[1..5:0]", 2, "greater than 0"),
        ("[x, 1..5:-1]", 5, "greater than 0"),
        ("[1..5:x]", 2, "not a number"),
        ("[1..5:]", 2, "not a number"),
        ("[?]", 1, "needs a SmartToken name"),
        ("[" * (MAX_DEPTH + 1) + "a" + "]" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "nest more than"),
        ("[" + "9" * 400 + ",1]", 2, "longer than"),
    ],
)
def test_malformed_values_name_the_column(value, column, fragment):
    e = error(value, param="prompt", tokens=TOKENS)
    assert e.param == "prompt"
    assert e.column == column
    assert fragment in e.reason
    assert str(e).startswith(f"parameter 'prompt', column {column}: ")


def test_empty_token_and_empty_list_are_errors():
    assert "has no values" in error("[t]", tokens={"t": []}).reason
    e = error([], param="seed")
    assert (e.param, e.column) == ("seed", 0)
    assert "empty list" in e.reason


def test_deep_but_allowed_nesting_works():
    value = "[" * MAX_DEPTH + "1,2" + "]" * MAX_DEPTH
    assert values(value) == [1, 2]


def test_count_raises_the_same_errors():
    with pytest.raises(SmartParameterError):
        count({"p": "[a,b|c]"})


# ----------------------------------------------------------------------- helpers


def test_escape_examples():
    assert escape("[a], b | c\\") == r"\[a\]\, b \| c\\"
    assert escape("plain text") == "plain text"
    assert values(f"[{escape('a,b')},{escape('[c]')}] x") == ["a,b x", "[c] x"]


def test_has_smart_syntax():
    assert has_smart_syntax("a [cat,dog]")
    assert has_smart_syntax([1, 2]) and has_smart_syntax(range(2)) and has_smart_syntax((1,))
    assert has_smart_syntax("a ]")  # not valid, but expand must look at it
    assert not has_smart_syntax("a cat, a dog")
    assert not has_smart_syntax(r"\[masterpiece\]")
    assert not has_smart_syntax(3) and not has_smart_syntax(None)


# ----------------------------------------------------------------------- properties

SMART_ALPHABET = "[[[]]]\\\\,,||..::??- 0123456789animalcoloraxyz"


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet=SMART_ALPHABET, max_size=40), st.integers(0, 2**32))
def test_any_text_expands_or_raises_our_errors(text, seed):
    try:
        gens = expand({"prompt": text}, tokens=TOKENS, rng_seed=seed)
    except OrderTooLarge:
        return
    except SmartParameterError as e:
        assert e.param == "prompt"
        assert 0 <= e.column <= len(text) + 1
        return
    assert isinstance(gens, list) and gens
    assert all(isinstance(g, dict) and list(g) == ["prompt"] for g in gens)
    assert len(gens) == count({"prompt": text}, tokens=TOKENS)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_unicode_text_expands_or_raises_our_errors(text):
    try:
        expand({"prompt": text}, tokens=TOKENS, rng_seed=1)
    except (SmartParameterError, OrderTooLarge):
        pass


@given(st.text())
def test_escape_round_trips(text):
    assert expand({"p": escape(text)}) == [{"p": text}]
    assert not has_smart_syntax(escape(text))


@given(st.text(min_size=1), st.text(min_size=1))
def test_escaped_text_is_one_option_inside_a_group(a, b):
    a, b = a.strip(), b.strip()
    assume(a and b and ".." not in a + b)  # an option that reads as a range is a range
    assert values(f"x [{escape(a)},{escape(b)}]") == [f"x {a}", f"x {b}"]


WORD = st.text(alphabet="abcxyz ", min_size=1, max_size=4).filter(str.strip)
FLAT_GROUP = st.lists(WORD, min_size=2, max_size=4)
SEGMENT = st.one_of(WORD, FLAT_GROUP)


@given(st.lists(SEGMENT, max_size=5))
def test_flat_groups_expand_to_the_product_of_their_options(segments):
    text = "".join(s if isinstance(s, str) else "[" + ",".join(s) + "]" for s in segments)
    options = [[s] if isinstance(s, str) else [o.strip() for o in s] for s in segments]
    expected = ["".join(c) for c in itertools.product(*options)]
    assert values(text, limit=None) == expected


def _listed(opts):
    return "[" + ",".join(t for t, _ in opts) + "]", sum(n for _, n in opts)


def _picked(opts):
    return "[" + "|".join(t for t, _ in opts) + "]", 1


def _groups(options):
    """A list or pick group of 2-3 options, as (text, number of values it stands for)."""
    return st.one_of(
        st.lists(options, min_size=2, max_size=3).map(_listed),
        st.lists(options, min_size=2, max_size=3).map(_picked),
    )


# An option: a word, a number, a range, a group, or text around a group ("a [x,y]").
OPTION = st.recursive(
    st.one_of(
        WORD.map(lambda w: (w.strip(), 1)),
        st.integers(-50, 50).map(lambda n: (str(n), 1)),
        st.tuples(st.integers(-20, 20), st.integers(-20, 20), st.integers(1, 7)).map(
            lambda r: (f"{r[0]}..{r[1]}:{r[2]}", abs(r[1] - r[0]) // r[2] + 1)
        ),
    ),
    lambda children: st.one_of(
        _groups(children),
        st.tuples(WORD, _groups(children)).map(lambda p: (p[0].strip() + " " + p[1][0], p[1][1])),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(WORD.map(lambda w: (w, 1)), _groups(OPTION)), min_size=1, max_size=3), st.integers(0, 99))
def test_count_is_the_product_of_group_sizes(segments, seed):
    value = " ".join(text for text, _ in segments)
    expected = math.prod(n for _, n in segments)
    assume(expected <= 5000)
    assert count({"prompt": value}) == expected
    assert len(expand({"prompt": value}, rng_seed=seed, limit=None)) == expected
    assert len(expand({"prompt": value, "seed": [1, 2]}, rng_seed=seed, limit=None)) == 2 * expected
