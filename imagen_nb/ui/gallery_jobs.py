"""Work the Gallery starts on products: upscaling (issue 17) and LoRA training (issue 16).

A mixin of :class:`~imagen_nb.ui.gallery.GalleryController`: the menus these dialogs offer, a dry
check of a training run (its captions preview) and the calls that start the work. Errors of the
Studio (``ValidationError`` with its ``param``) travel to the page naming the field at fault.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.errors import UnknownModelError
from ..core.training import TrainingConfig
from .bridge import PanelRequestError
from .jsonable import jsonable

#: the most products one Upscale or Train LoRA request takes (a selection of the grid)
MAX_JOB_PRODUCTS = 2000
#: captions the training preview sends at most (the rest are counted)
PREVIEW_ROWS = 50
#: the provider that trains LoRAs (``TrainingService`` asks a provider for ``trainer``)
TRAINING_PROVIDER = "diffusers"
#: the training dialog's fields: what ``studio.train_lora`` is given from each
TRAIN_FIELDS = ("name", "base", "steps", "rank", "captions", "resolution", "aspect", "train_text_encoder",
                "text_encoder_learning_rate")
#: gallery columns never offered as captions (ids, files, numbers)
NOT_CAPTIONS = {"product_id", "seed", "num_inference_steps", "guidance_scale", "width", "height", "rating",
                "collections", "project_id", "order_id", "generation_id", "path", "thumb_path", "size", "sha256",
                "created_at", "clip_score", "aesthetic_score", "judge_score", "kind", "media_type", "source",
                "family", "model_type", "provider"}


def _job_ids(ids: Any) -> list[str]:
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, (list, tuple)) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise PanelRequestError("choose at least one product", field="ids")
    if len(ids) > MAX_JOB_PRODUCTS:
        raise PanelRequestError(f"at most {MAX_JOB_PRODUCTS:,} products at once; {len(ids):,} are selected",
                                field="ids")
    return list(dict.fromkeys(ids))


def _scale_spec(spec: Any, factor: Any) -> dict[str, Any]:
    """The scale choice of an upscaler's spec: {minimum, maximum, default, choices}."""
    spec = spec if isinstance(spec, dict) else {}
    top = float(spec.get("maximum") or factor or 4)
    low = float(spec.get("minimum") or 1)
    low = max(low, 1.0)  # smaller than the input is not an upscale
    default = float(spec.get("default") or min(top, 2))
    enum = spec.get("enum")
    choices = [float(v) for v in enum] if isinstance(enum, list) and enum else \
        [float(v) for v in (1.5, 2, 3, 4, 6, 8) if low <= v <= top]
    if default not in choices and low <= default <= top:
        choices = sorted({*choices, default})
    return {"minimum": low, "maximum": top, "default": default, "choices": choices}


class GalleryJobs:
    """``rpc_upscalers`` / ``rpc_upscale`` and ``rpc_train_options`` / ``rpc_train_check`` / ``rpc_train``."""

    studio: Any

    # -- upscaling (issue 17) --------------------------------------------------------------
    def rpc_upscalers(self) -> dict:
        """The Upscale menu: ``{models: [{id, upscale_factor, local, default, description, scale}], default}``;
        ``scale`` is the model's choice (``{minimum, maximum, default, choices}``, from its spec)."""
        frame = self.studio.upscalers()
        models = []
        for row in frame.to_dict("records"):
            try:
                spec = self.studio.model(row["id"]).spec.get("properties", {}).get("scale")
            except Exception:  # a provider not installed here: the factor still bounds the scale
                spec = None
            factor = jsonable(row.get("upscale_factor"))
            models.append({"id": row["id"], "upscale_factor": factor, "local": bool(row.get("local")),
                           "default": bool(row.get("default")), "description": jsonable(row.get("description")) or "",
                           "scale": _scale_spec(spec, factor)})
        default = next((m["id"] for m in models if m["default"]), None)
        # Without a real local upscaler, the first local one is preselected (the page says when it makes noise).
        chosen = default or next((m["id"] for m in models if m["local"]), None) or (models[0]["id"] if models else None)
        return {"models": models, "default": default, "chosen": chosen}

    def rpc_upscale(self, ids: list[str], model: str, scale: float) -> dict:
        """Order upscaled copies (``studio.upscale``): ``{order_id, generations, model, scale}``."""
        ids = _job_ids(ids)
        if not isinstance(model, str) or not model:
            raise PanelRequestError("choose an upscale model", field="model")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
            raise PanelRequestError(f"the scale is a number such as 2; got {scale!r}", field="scale")
        try:
            order = self.studio.upscale(ids, scale=scale, model=model)
        except UnknownModelError as exc:
            raise PanelRequestError(str(exc), field="model") from exc
        except LookupError as exc:  # a product that is not in this studio
            raise PanelRequestError(str(exc).strip("'\""), field="ids") from exc
        return {"order_id": order.id, "generations": len(ids), "model": order.model, "scale": scale}

    # -- LoRA training (issue 16) ----------------------------------------------------------
    def rpc_train_options(self, ids: list[str] | None = None) -> dict:
        """The Train LoRA dialog's menus: ``{bases: [{id, description, resolution}], base, columns,
        defaults}``; ``base`` is the model most of the selected products were made with when
        it can be trained, else the first base; a base's ``resolution`` is the size it trains at
        unless the dialog says otherwise (its default width)."""
        models = self.studio.models()
        bases = models[(models.provider == TRAINING_PROVIDER) & (models.type == "text-to-image")]
        base_ids = [str(i) for i in bases.id]
        chosen = "diffusers:tiny" if "diffusers:tiny" in base_ids else (base_ids[0] if base_ids else None)
        if ids:
            rows = self.studio.gallery(limit=min(len(ids), MAX_JOB_PRODUCTS), ids=_job_ids(ids))
            made = [m for m in rows.model.dropna() if m in base_ids]
            if made:
                chosen = max(set(made), key=made.count)
        columns = [c for c in self.studio.gallery(limit=0).columns if c not in NOT_CAPTIONS]
        defaults = {"steps": TrainingConfig.steps, "rank": TrainingConfig.rank, "aspect": TrainingConfig.aspect,
                    "train_text_encoder": TrainingConfig.train_text_encoder,
                    "learning_rate": TrainingConfig.learning_rate}
        return {"bases": [{"id": r["id"], "description": jsonable(r.get("description")) or "",
                           "resolution": self._train_resolution(r["id"])} for r in bases.to_dict("records")],
                "base": chosen, "columns": columns, "defaults": defaults}

    def _train_resolution(self, base: str) -> int:
        """The size ``train_lora`` trains ``base`` at when not told: its default width, else 512."""
        try:
            width = (self.studio.model(base).spec.get("properties", {}).get("width") or {}).get("default")
        except Exception:  # a model whose spec cannot be read here: train_lora's own fallback
            width = None
        return int(width) if isinstance(width, int) and not isinstance(width, bool) else 512

    @staticmethod
    def _train_args(ids: Any, name: Any, base: Any, steps: Any, rank: Any, captions: Any, resolution: Any = None,
                    aspect: Any = "crop", train_text_encoder: Any = False,
                    text_encoder_learning_rate: Any = None) -> dict[str, Any]:
        """The dialog's values as ``train_lora`` arguments; a value of the wrong type names its field
        (the values themselves are checked by ``train_lora``, whose errors name the same fields)."""
        if not isinstance(name, str) or not name.strip():
            raise PanelRequestError("name the LoRA (letters, digits, '.', '_' or '-')", field="name")
        if not isinstance(base, str) or not base:
            raise PanelRequestError("choose the base model to teach", field="base")
        for field, value in (("steps", steps), ("rank", rank)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise PanelRequestError(f"{field} is a whole number; got {value!r}", field=field)
        if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)):
            raise PanelRequestError(f"the resolution is a whole number of pixels such as 512, or empty for the"
                                    f" base model's; got {resolution!r}", field="resolution")
        if not isinstance(captions, str) or not captions.strip():
            raise PanelRequestError("captions come from 'prompt' or another gallery column", field="captions")
        args = {"name": name.strip(), "products": _job_ids(ids), "base": base, "steps": steps, "rank": rank,
                "captions": captions.strip(), "aspect": aspect, "train_text_encoder": train_text_encoder}
        if resolution is not None:
            args["resolution"] = resolution
        if text_encoder_learning_rate is not None:
            args["text_encoder_learning_rate"] = text_encoder_learning_rate
        return args

    def rpc_train_check(self, ids: list[str], name: str, base: str, steps: int, rank: int,
                        captions: str = "prompt", resolution: int | None = None, aspect: str = "crop",
                        train_text_encoder: bool = False, text_encoder_learning_rate: float | None = None) -> dict:
        """A dry check of the run (``studio.check_training``): ``{count, dataset: [{product_id, width,
        height, target_width, target_height, caption}], shown, aspect, resolution}`` (target_width ×
        target_height: the size an image trains at, its bucket with ``aspect="bucket"``), or the error
        at its field; nothing starts."""
        args = self._train_args(ids, name, base, steps, rank, captions, resolution, aspect, train_text_encoder,
                                text_encoder_learning_rate)
        try:
            frame = self.studio.check_training(args.pop("name"), **args)
        except UnknownModelError as exc:
            raise PanelRequestError(str(exc), field="base") from exc
        rows = [{k: jsonable(v) for k, v in r.items()} for r in frame.head(PREVIEW_ROWS).to_dict("records")]
        return {"count": len(frame), "dataset": rows, "shown": len(rows), "aspect": args["aspect"],
                "resolution": args.get("resolution", self._train_resolution(args["base"]))}

    def rpc_train(self, ids: list[str], name: str, base: str, steps: int, rank: int,
                  captions: str = "prompt", resolution: int | None = None, aspect: str = "crop",
                  train_text_encoder: bool = False, text_encoder_learning_rate: float | None = None) -> dict:
        """Start the run (``studio.train_lora``): ``{run_id, name, steps, images}``; it shows live in Production."""
        args = self._train_args(ids, name, base, steps, rank, captions, resolution, aspect, train_text_encoder,
                                text_encoder_learning_rate)
        try:
            run = self.studio.train_lora(args.pop("name"), **args)
        except UnknownModelError as exc:
            raise PanelRequestError(str(exc), field="base") from exc
        return {"run_id": run.id, "name": run.name, "steps": args["steps"], "images": len(args["products"])}
