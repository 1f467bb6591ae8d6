"""The Order panel's "Refine" option (issue 15): the choices it offers and ``studio.refine`` started
from the form.

Mixed into :class:`~.order.OrderController`. The form's prompt is the prompt to refine (a
SmartParameter prompt such as ``"a [red,blue] fox"`` refines each of its prompts); the form's
other fields are the image model's parameters, one value each (the loop sets prompt and seed
every round). The options arrive as the text the page's fields hold; every error comes back at
the field that caused it: ``refine_<name>`` for the options (``refine_judge``, ``refine_n``…), the
form's own field names otherwise.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..core.errors import ImagenError, MissingKey, UnknownModelError, ValidationError
from ..core.smart import has_smart_syntax
from .bridge import PanelRequestError

#: The options of the Refine card, as ``studio.refine`` names them.
REFINE_OPTIONS = ("judge", "rewriter", "iterations", "n", "goal", "stop_at", "scorer")
#: Image model types the loop can order from.
REFINE_MODEL_TYPES = ("text-to-image", "image-to-image")
#: Prompts one refinement from the panel takes at most (each runs its own rounds).
REFINE_MAX_PROMPTS = 50


def refine_field(param: str | None) -> str | None:
    """The page's field for a ``ValidationError.param`` of ``studio.refine``."""
    if param in REFINE_OPTIONS:
        return f"refine_{param}"
    if param in ("judge_params", "rewriter_params"):
        return f"refine_{param.split('_')[0]}"
    if param in ("prompts", "params"):
        return "prompt"
    return param or None


class RefineRequests:
    """``refine_choices`` and ``refine`` (needs the controller's ``studio``, ``_info``, ``_params`` and
    ``_project_name``)."""

    def rpc_refine_choices(self) -> dict[str, Any]:
        """What the Refine card offers: ``{judges, rewriters, scorers, defaults, iterations_max,
        n_max, key_missing: {model id: how to set its key}, model_types}``."""
        choices = dict(self.studio.views.refine_choices())
        missing: dict[str, str] = {}
        for model_id in [*choices["judges"], *choices["rewriters"]]:
            provider = model_id.partition(":")[0]
            text = self.studio.views.missing_key(provider)
            if text:
                missing[model_id] = text
        choices["key_missing"] = missing
        choices["model_types"] = list(REFINE_MODEL_TYPES)
        return choices

    def rpc_refine(self, model: str, values: Mapping[str, Any] | None = None, project_id: str | None = None,
                   options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Start ``studio.refine`` with the form's prompt(s) and parameters and the card's options.

        Returns at once: ``{refinement_id, prompts, iterations, n, model, judge, rewriter}``; the
        refinement shows as one row in the Production panel.
        """
        info = self._info(model)
        if info.type not in REFINE_MODEL_TYPES:
            raise PanelRequestError(f"{info.id} is a {info.type} model; refining needs a text-to-image model "
                                    "(it orders images, judges them and rewrites their prompt)", field="model")
        params = self._params(info, values)
        prompt = params.pop("prompt", None)
        if not isinstance(prompt, str) or not prompt.strip():
            raise PanelRequestError("write the prompt to refine first", field="prompt")
        params.pop("seed", None)  # the loop picks a seed per image and round
        for name, value in params.items():
            if has_smart_syntax(value):
                raise PanelRequestError("a refinement takes one value per field (only the prompt may list "
                                        "several, each refined on its own)", field=name)
        prompts = self._refine_prompts(prompt)
        kwargs = self._refine_options(options or {})
        project = self._project_name(project_id)
        # A provider without its key would fail the first round later: say so now, at its field.
        for field, model_id in (("model", info.id), ("refine_judge", kwargs["judge"]),
                                ("refine_rewriter", kwargs["rewriter"])):
            text = self.studio.views.missing_key(model_id.partition(":")[0])
            if text:
                raise PanelRequestError(text, field=field)
        try:
            handle = self.studio.refine(prompts, info.id, project=project, **kwargs, **params)
        except ValidationError as exc:
            raise PanelRequestError(exc.message, field=refine_field(exc.param)) from exc
        except MissingKey as exc:
            raise PanelRequestError(str(exc), field=self._unknown_field(kwargs, info.id)) from exc
        except UnknownModelError as exc:
            raise PanelRequestError(str(exc), field=self._unknown_field(kwargs, info.id)) from exc
        return {"refinement_id": handle.id, "prompts": prompts, "iterations": kwargs["iterations"],
                "n": kwargs["n"], "model": info.id, "judge": kwargs["judge"], "rewriter": kwargs["rewriter"]}

    def _refine_prompts(self, prompt: str) -> list[str]:
        if not has_smart_syntax(prompt):
            return [prompt]
        try:
            gens = self.studio.expand(None, limit=REFINE_MAX_PROMPTS, prompt=prompt)
        except ImagenError as exc:
            raise PanelRequestError(f"{exc}; a refinement from the panel takes at most "
                                    f"{REFINE_MAX_PROMPTS} prompts", field="prompt") from exc
        return list(dict.fromkeys(str(g["prompt"]) for g in gens))

    def _refine_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(options, Mapping):
            raise PanelRequestError("options must be a mapping of option → text")
        unknown = [k for k in options if k not in REFINE_OPTIONS]
        if unknown:
            raise PanelRequestError(f"unknown refine option {unknown[0]!r}; the options are "
                                    f"{', '.join(REFINE_OPTIONS)}")
        defaults = self.studio.views.refine_choices()["defaults"]
        text = {k: ("" if options.get(k) is None else str(options.get(k)).strip()) for k in REFINE_OPTIONS}
        out: dict[str, Any] = {}
        for name in ("judge", "rewriter", "scorer"):
            out[name] = text[name] or defaults[name]
        for name, what in (("iterations", "rounds"), ("n", "images per round")):
            raw = text[name]
            if not raw:
                out[name] = defaults[name]
            elif raw.isdigit():
                out[name] = int(raw)
            else:
                raise PanelRequestError(f"{what} must be a whole number; got {raw!r}", field=f"refine_{name}")
        raw = text["stop_at"]
        if raw:
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise PanelRequestError(f"stop at must be a score (e.g. 8 for a judge's 1–10); got {raw!r}",
                                        field="refine_stop_at")
            out["stop_at"] = value
        else:
            out["stop_at"] = None
        out["goal"] = text["goal"] or None
        return out

    def _unknown_field(self, kwargs: Mapping[str, Any], model_id: str) -> str:
        """Which of the judge and rewriter cannot be used (unknown, or its provider lacks a key)."""
        for name in ("judge", "rewriter"):
            try:
                info = self.studio.model(kwargs[name])
            except (UnknownModelError, LookupError):
                return f"refine_{name}"
            if self.studio.views.missing_key(info.provider):
                return f"refine_{name}"
        return "model"
