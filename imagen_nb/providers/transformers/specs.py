"""Parameter specs of the ``transformers`` provider's text models (image-to-text, text-to-text)."""

from __future__ import annotations

from typing import Any

from ..instant import SPEC as _INSTANT

_SEED = dict(_INSTANT["properties"]["seed"])

#: The instruction a judge gets when none is given.
DEFAULT_JUDGE_PROMPT = "Describe this image, then rate how well it is made from 1 to 10 as 'Score: N/10'."


def _common() -> dict[str, Any]:
    return {
        "max_new_tokens": {"type": "integer", "minimum": 1, "maximum": 2048, "default": 64,
                           "description": "Most tokens written."},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2, "default": 0.7,
                        "description": "Sampling temperature; 0 picks the likeliest token each time."},
        "seed": {**_SEED, "description": "Seed of the sampling; chosen at random and recorded when omitted."},
    }


def image_to_text_spec() -> dict[str, Any]:
    """Spec of a captioner or vision judge: an image (product id, file or URL) and an instruction."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "uri",
                      "description": "The image to describe or judge: a product id, a file path or a URL."},
            "prompt": {"type": "string", "default": DEFAULT_JUDGE_PROMPT,
                       "description": "The instruction (a captioner without instructions ignores it)."},
            **_common(),
        },
        "required": ["image"],
        "additionalProperties": False,
    }


def text_to_text_spec() -> dict[str, Any]:
    """Spec of a prompt rewriter (an instruction LLM): a prompt and an optional system prompt."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "description": "What the model is asked."},
            "system_prompt": {"type": "string", "default": "", "description": "Instructions put before the prompt."},
            **_common(),
        },
        "required": ["prompt"],
        "additionalProperties": False,
    }
