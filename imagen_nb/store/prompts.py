"""Reading a ``prompts.json`` file (the seed's format: a list of {title, scene, mood, prompt})."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..core.errors import ValidationError
from ..core.refine import PromptItem, prompt_items


def load_prompts(value: Any) -> list[PromptItem]:
    """Prompts from a ``.json`` path (or a text file, one prompt per line), or given inline."""
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value.lower().endswith((".json", ".txt"))):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValidationError("prompts", f"no file {path}; give a prompts.json path, a prompt or a list of prompts")
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".txt":
            return prompt_items([line for line in text.splitlines() if line.strip()])
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError("prompts", f"{path.name} is not valid JSON ({exc})") from exc
        return prompt_items(data)
    return prompt_items(value)
