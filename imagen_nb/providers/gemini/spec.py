"""Gemini models and their parameter specs.

Every Gemini model takes the same ``generateContent`` request, so a model is known by its name:
``gemini:<model>`` is a text-to-text model (a prompt rewriter) and ``gemini:<model>/vision`` the same
model given an image too (an image-to-text judge). ``score=True`` asks a judge for structured output
(JSON ``{"score": 1–10, "critique": …}``), which the refine loop reads as the judge's score.
"""

from __future__ import annotations

import re
from typing import Any

from ...core.records import ModelInfo
from ..spec import bool_property, int_property, number_property, object_spec, prompt_property, string_property

PROVIDER = "gemini"
VISION = "/vision"
CURATED_NAMES = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite")
_NAME = re.compile(r"^gemini-[a-z0-9.\-]+$")

#: The JSON a judge answers with when asked for a score.
SCORE_SCHEMA = {"type": "object", "properties": {
    "score": {"type": "integer", "minimum": 1, "maximum": 10, "description": "How well the image meets the goal."},
    "critique": {"type": "string", "description": "What matches the goal and what is wrong or missing."}},
    "required": ["score", "critique"]}


def valid_name(name: str) -> bool:
    """True for names shaped like Gemini model ids (``gemini-2.5-flash``, optionally ``/vision``)."""
    return bool(_NAME.match(name.removesuffix(VISION)))


def model_info(name: str) -> ModelInfo:
    """The model ``gemini:<name>`` (image-to-text when the name ends in ``/vision``)."""
    vision = name.endswith(VISION)
    props: dict[str, Any] = {}
    if vision:
        props["image"] = {"type": "string", "format": "uri", "title": "Image",
                          "description": "The image to describe or judge: a product id, a file path or an http(s) URL."}
    props.update({
        "prompt": prompt_property("What the model is asked."),
        "system_prompt": string_property("Instructions put before the prompt (system instruction).", default=""),
        "temperature": number_property(0, 2, 0.7, "Sampling temperature."),
        "max_output_tokens": int_property(1, 65536, 1024, "Most tokens written."),
        "seed": int_property(0, 2**31 - 1, None, "Seed of the sampling (recorded when given)."),
    })
    if vision:
        props["score"] = bool_property(False, "Answer as JSON {score: 1-10, critique} (structured output).")
    spec = object_spec(props, required=("image", "prompt") if vision else ("prompt",), title=f"{name} on Gemini")
    model = name.removesuffix(VISION)
    kind = "image-to-text" if vision else "text-to-text"
    what = "describes or judges an image" if vision else "writes text (rewrites prompts)"
    return ModelInfo(PROVIDER, name, kind, "gemini", spec, f"Google {model}: {what} (google-genai client).")


CURATED: tuple[ModelInfo, ...] = tuple(model_info(n + v) for n in CURATED_NAMES for v in ("", VISION))
