"""The pure parts of the refine loop: prompts, instructions with memory, score parsing, picks."""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.refine import (
    PromptItem, best_of, clean_prompt, judge_instruction, parse_score, prompt_items, rewrite_instruction,
)


def test_prompts_as_text_list_or_the_seeds_format():
    assert prompt_items("a cat") == [PromptItem("a cat")]
    assert [i.prompt for i in prompt_items(["a cat", " a dog "])] == ["a cat", "a dog"]
    items = prompt_items({"prompts": [{"title": "T", "scene": "a hill", "mood": "calm", "prompt": "a hill at dawn"},
                                      {"title": "U", "scene": "a sea", "mood": "grey"}]})
    assert items[0] == PromptItem("a hill at dawn", "T", {"scene": "a hill", "mood": "calm"})
    assert items[1].prompt == "a sea, grey"
    for bad, where in ((["ok", 3], "prompts[1]"), ([{"title": "x"}], "prompts[0]"), ([], "prompts"),
                       ([{"prompt": "x", "title": 3}], "prompts[0].title"), (["a\0b"], "prompts[0]")):
        with pytest.raises(ValidationError) as err:
            prompt_items(bad)
        assert err.value.param == where


@pytest.mark.parametrize("text, score", [
    ("Nice. Score: 7/10", 7.0), ("score 8", 8.0), ('{"score": 6, "critique": "ok"}', 6.0),
    ("```json\n{\"score\": 9}\n```", 9.0), ("I give it 4/10.", 4.0), ("Score: 85/100", 8.5),
    ("a caption without a number", None), ("", None), ('{"score": true}', None),
])
def test_parse_score(text, score):
    assert parse_score(text) == score


def test_the_rewriter_sees_the_goal_the_judgement_and_every_earlier_round():
    history = [{"round": 1, "prompt": "a fox", "score": 4.0, "judgement": "too dark"},
               {"round": 2, "prompt": "a bright fox", "score": None, "judgement": "blurry"}]
    text = rewrite_instruction("a fox in snow, crisp", "a bright fox, sharp", "no snow", history)
    assert "Goal: a fox in snow, crisp" in text and "Current prompt: a bright fox, sharp" in text
    assert "no snow" in text and "do not repeat a fix already tried" in text
    assert '- round 1: "a fox" (score 4): too dark' in text and '(no score): blurry' in text
    assert "do not repeat" not in rewrite_instruction(None, "a fox", "ok", [])
    assert 'goal is: "a fox"' in judge_instruction(None, "a fox") and "Score: N/10" in judge_instruction(None, "x")


def test_clean_prompt_and_best_of():
    assert clean_prompt('\n  Prompt: "a red fox, snow"\nbecause…') == "a red fox, snow"
    assert clean_prompt("New prompt: a hill") == "a hill"
    assert clean_prompt("   \n ") == ""
    assert len(clean_prompt("x" * 5000)) == 1000
    assert best_of([("a", 1.0), ("b", 3.0), ("c", 3.0)]) == ("b", 3.0)
    assert best_of([("a", None), ("b", None)]) == ("a", None)
    assert best_of([("a", None), ("b", 2.0)]) == ("b", 2.0)
