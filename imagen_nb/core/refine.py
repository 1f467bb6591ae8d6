"""The pure parts of generate → judge → rewrite (issue 15): prompts, instructions, scores, picks.

What the judge and the rewriter are asked is built here from the goal, the current prompt, the
judgement and the history of earlier rounds (Idea2Img's memory: the rewriter sees every fix
already tried and is told not to repeat one). The exact text sent is stored with each order.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import ValidationError
from .inputs import check_text

#: Most characters kept of a rewritten prompt (a rambling model must not grow prompts without end).
MAX_PROMPT = 1000


@dataclass(frozen=True)
class PromptItem:
    """One prompt of a refinement: its text, an optional title and the seed format's other fields."""

    prompt: str
    title: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def prompt_items(value: Any) -> list[PromptItem]:
    """Prompts as a string, a list of strings, or a list of dicts in the seed's ``prompts.json`` format
    (``title``, ``scene``, ``mood``, ``prompt``; a dict without ``prompt`` joins scene and mood).

    Raises :class:`ValidationError` naming the entry that is not a prompt.
    """
    if isinstance(value, Mapping) and isinstance(value.get("prompts"), list):
        value = value["prompts"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValidationError("prompts", "give a prompt, a list of prompts or a prompts.json path "
                                         "(a list of {title, scene, mood, prompt}); got "
                                         f"{type(value).__name__} {value!r:.80}")
    items = []
    for i, entry in enumerate(value):
        where = f"prompts[{i}]"
        if isinstance(entry, str):
            items.append(PromptItem(check_text(where, entry, empty=False).strip()))
            continue
        if not isinstance(entry, Mapping):
            raise ValidationError(where, f"must be a prompt or a dict with 'prompt'; got {type(entry).__name__}")
        text = entry.get("prompt")
        if text is None:
            text = ", ".join(str(entry[k]) for k in ("scene", "mood") if entry.get(k))
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(where, "has no 'prompt' (nor 'scene'/'mood' to make one from); got "
                                         f"keys {sorted(entry)}")
        title = entry.get("title")
        if title is not None and not isinstance(title, str):
            raise ValidationError(f"{where}.title", f"must be text; got {title!r}")
        extra = {k: v for k, v in entry.items() if k not in ("prompt", "title")}
        items.append(PromptItem(check_text(where, text, empty=False).strip(), title, extra))
    return items


def judge_instruction(goal: str | None, prompt: str) -> str:
    """What a vision judge is asked about an image made from ``prompt``."""
    aim = goal or prompt
    return (f"This image was generated from the prompt: \"{prompt}\". The goal is: \"{aim}\". "
            "Say in two sentences what matches the goal and what is wrong or missing, then give "
            "'Score: N/10' for how well the image meets the goal.")


def rewrite_instruction(goal: str | None, prompt: str, judgement: str, history: Sequence[Mapping[str, Any]]) -> str:
    """What the rewriter is asked: the goal, the current prompt, the judgement and earlier rounds."""
    lines = [f"Goal: {goal or prompt}", f"Current prompt: {prompt}", f"Judgement of its best image: {judgement}"]
    if history:
        lines.append("Earlier rounds (do not repeat a fix already tried):")
        for h in history:
            score = h.get("score")
            shown = "no score" if score is None else f"score {score:g}"
            lines.append(f"- round {h['round']}: \"{h['prompt']}\" ({shown}): {h.get('judgement') or ''}")
    lines.append("Write one improved prompt for the image model. Reply with the prompt only.")
    return "\n".join(lines)


SYSTEM_REWRITER = "You improve prompts for an image generation model. Reply with the new prompt only, one line."

_SCORE = re.compile(r"score\W{0,3}\s*(?P<n>\d+(?:\.\d+)?)\s*(?:/\s*(?P<of>\d+))?", re.I)
_FRACTION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*/\s*10\b")


def parse_score(text: str) -> float | None:
    """A 1–10 score from a judge's text: JSON ``{"score": n}``, ``Score: 7/10``, ``7/10`` (out of 100 scaled).

    None when the text holds no score (a captioner, or the tiny judge's gibberish).
    """
    if not text:
        return None
    stripped = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    if isinstance(data, Mapping) and isinstance(data.get("score"), (int, float)) and not isinstance(data["score"], bool):
        value = float(data["score"])
        return value if math.isfinite(value) else None
    match = _SCORE.search(text) or _FRACTION.search(text)
    if not match:
        return None
    value = float(match["n"])
    scale = float(match.groupdict().get("of") or 10)
    return round(value * 10 / scale, 4) if scale else None


def judgement_text(text: str) -> str:
    """The judgement as stored in the round (whitespace collapsed)."""
    return " ".join(text.split())


def clean_prompt(text: str) -> str:
    """The rewriter's answer as a prompt: the first non-empty line, quotes and a "Prompt:" label removed."""
    for line in text.splitlines():
        line = line.strip().strip('"').strip()
        line = re.sub(r"^(new |improved )?prompt\s*:\s*", "", line, flags=re.I).strip().strip('"')
        if line:
            return line[:MAX_PROMPT]
    return ""


def best_of(candidates: Sequence[tuple[str, float | None]]) -> tuple[str, float | None]:
    """The (product, score) with the highest score; the first one when none has a score."""
    scored = [c for c in candidates if c[1] is not None]
    if not scored:
        return candidates[0]
    return max(scored, key=lambda c: c[1])  # max keeps the first of equal scores
