"""LoRA training runs: the hyperparameters, the statuses and the events (pure: no I/O).

A training run teaches a LoRA from products (the dataset). :class:`TrainingConfig` holds what
the user chose, checked before any work starts; the events travel on the Studio's bus like the
order events (``TrainingProgress`` once per step, ``TrainingStatusChanged`` at each change).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from .errors import ValidationError
from .inputs import check_count, check_seed
from .records import Event

#: Statuses of a run. ``interrupted``: its process ended mid-run (crash, closed kernel); like
#: ``cancelled`` it can be resumed from its last checkpoint.
STATUSES = ("pending", "training", "completed", "cancelled", "interrupted", "failed")
RESUMABLE = ("cancelled", "interrupted", "failed")
FINAL = ("completed", "cancelled", "interrupted", "failed")

#: How a training image is brought to the training size: ``crop`` (shorter side to the resolution,
#: centre crop to a square) or ``bucket`` (the aspect-ratio bucket nearest the image's, see :func:`bucket_sizes`).
ASPECTS = ("crop", "bucket")
#: Bucket sides are multiples of this many pixels: 8 × the VAE's scale factor of Stable Diffusion 1/2
#: (8), so the latents' sides (side / 8) stay divisible by 8 through the UNet's three downsamplings
#: (kohya's ``bucket_reso_steps``, SDXL's bucket list).
BUCKET_STEP = 64
LR_SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial")
MIXED_PRECISION = ("no", "fp16", "bf16")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def check_lora_name(name: Any) -> str:
    """A LoRA name usable as ``loras="name:0.8"``: letters, digits, ``.``, ``_``, ``-`` (≤ 80)."""
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith(".safetensors"):
        raise ValidationError("name", f"a LoRA name is 1-80 letters, digits, '.', '_' or '-' starting with a letter"
                                      f" or digit (it becomes <name>.safetensors in the LoRA folder); got {name!r}")
    return name


def _positive_float(name: str, value: Any, *, maximum: float = math.inf, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or (float(value) < 0 if zero else float(value) <= 0) or float(value) > maximum:
        low = "0 or more" if zero else "more than 0"
        high = f" and at most {maximum:g}" if math.isfinite(maximum) else ""
        raise ValidationError(name, f"must be a number {low}{high}; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TrainingConfig:
    """The hyperparameters of one run (the names of diffusers' ``train_text_to_image_lora.py``).

    Args:
        steps: optimizer steps (``max_train_steps``).
        rank: LoRA rank ``r``; alpha: ``lora_alpha`` (the update is scaled by alpha / rank).
        learning_rate: AdamW's learning rate; lr_scheduler / lr_warmup_steps: diffusers' ``get_scheduler``.
        resolution: the training size: with ``aspect="crop"`` images are resized (shorter side) and
            centre-cropped to resolution²; with ``aspect="bucket"`` to a bucket of about resolution² pixels.
        aspect: ``"crop"`` (default) or ``"bucket"``: each image goes to the aspect-ratio bucket nearest its
            own (sides multiples of 64, area at most resolution², see :func:`bucket_sizes`), is resized to
            cover it and centre-cropped; every batch holds images of one bucket.
        batch_size: images per step.
        seed: fixes LoRA init, data order, noise, timesteps and caption dropout per step, so a
            resumed run matches an uninterrupted one.
        caption_dropout: share of captions replaced by "" (``proportion_empty_prompts``).
        snr_gamma: Min-SNR loss weighting (None: plain MSE).
        mixed_precision / gradient_checkpointing: None chooses (bf16 or fp16 and on for a GPU, off on CPU).
        sample_prompts / sample_every / sample_steps / sample_seed: sample images while training.
        checkpoint_every: steps between checkpoints (LoRA file + optimizer state).
        trigger: a word put in front of every caption.
        train_text_encoder: also teach a LoRA to the text encoder's attention projections (``q_proj``,
            ``k_proj``, ``v_proj``, ``out_proj``), as diffusers' DreamBooth LoRA example does; caption
            embeddings are then computed at every step instead of once.
        text_encoder_learning_rate: the text encoder LoRA's learning rate (None: ``learning_rate``).
    """

    steps: int = 1000
    rank: int = 4
    alpha: float = 8.0
    learning_rate: float = 1e-4
    resolution: int = 512
    batch_size: int = 1
    seed: int = 0
    caption_dropout: float = 0.05
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    snr_gamma: float | None = None
    mixed_precision: str | None = None
    gradient_checkpointing: bool | None = None
    sample_prompts: tuple[str, ...] = ()
    sample_every: int = 0
    sample_steps: int = 20
    sample_seed: int = 0
    checkpoint_every: int = 100
    trigger: str | None = None
    aspect: str = "crop"
    train_text_encoder: bool = False
    text_encoder_learning_rate: float | None = None

    def __post_init__(self) -> None:
        check_count("steps", self.steps, minimum=1, maximum=1_000_000)
        check_count("rank", self.rank, minimum=1, maximum=1024)
        _positive_float("alpha", self.alpha, maximum=1e4)
        _positive_float("learning_rate", self.learning_rate, maximum=1.0)
        resolution = check_count("resolution", self.resolution, minimum=8, maximum=4096)
        if resolution % 8:
            raise ValidationError("resolution", f"must be a multiple of 8 (the VAE halves it 3 times); got {resolution}")
        check_count("batch_size", self.batch_size, minimum=1, maximum=256)
        check_seed("seed", self.seed)
        check_seed("sample_seed", self.sample_seed)
        if not 0 <= _positive_float("caption_dropout", self.caption_dropout, maximum=1.0, zero=True) < 1:
            raise ValidationError("caption_dropout", "must be from 0 up to (not including) 1")
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise ValidationError("lr_scheduler", f"must be one of {', '.join(LR_SCHEDULERS)}; got {self.lr_scheduler!r}")
        check_count("lr_warmup_steps", self.lr_warmup_steps, maximum=self.steps)
        if self.snr_gamma is not None:
            _positive_float("snr_gamma", self.snr_gamma, maximum=100)
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION:
            raise ValidationError("mixed_precision", f"must be one of {', '.join(MIXED_PRECISION)} or None (chosen for"
                                                     f" the device); got {self.mixed_precision!r}")
        if self.gradient_checkpointing not in (None, True, False):
            raise ValidationError("gradient_checkpointing", "must be True, False or None (on for a GPU)")
        if isinstance(self.sample_prompts, str) or not all(isinstance(p, str) and p.strip() for p in self.sample_prompts):
            raise ValidationError("sample_prompts", "must be a list of non-empty prompts, e.g. ['a cat in cards style']")
        check_count("sample_every", self.sample_every, maximum=1_000_000)
        check_count("sample_steps", self.sample_steps, minimum=1, maximum=200)
        check_count("checkpoint_every", self.checkpoint_every, maximum=1_000_000)
        if self.trigger is not None and (not isinstance(self.trigger, str) or not self.trigger.strip()):
            raise ValidationError("trigger", f"must be a non-empty word such as 'cardstyle', or None; got {self.trigger!r}")
        if self.aspect not in ASPECTS:
            raise ValidationError("aspect", f"must be 'crop' (a centre square) or 'bucket' (aspect-ratio buckets);"
                                            f" got {self.aspect!r}")
        if self.aspect == "bucket" and resolution % BUCKET_STEP:
            raise ValidationError("resolution", f"aspect='bucket' needs a resolution that is a multiple of"
                                                f" {BUCKET_STEP} (bucket sides are); got {resolution}, e.g."
                                                f" {max(BUCKET_STEP, resolution // BUCKET_STEP * BUCKET_STEP)}")
        if not isinstance(self.train_text_encoder, bool):
            raise ValidationError("train_text_encoder", f"must be True or False; got {self.train_text_encoder!r}")
        if self.text_encoder_learning_rate is not None:
            _positive_float("text_encoder_learning_rate", self.text_encoder_learning_rate, maximum=1.0)
            if not self.train_text_encoder:
                raise ValidationError("text_encoder_learning_rate", "only applies with train_text_encoder=True;"
                                                                    " pass that too, or leave it out")

    @property
    def text_lr(self) -> float:
        """The text encoder LoRA's learning rate (``text_encoder_learning_rate`` or ``learning_rate``)."""
        return float(self.learning_rate if self.text_encoder_learning_rate is None else self.text_encoder_learning_rate)

    def to_dict(self) -> dict[str, Any]:
        """The hyperparameters as plain JSON values (what checkpoints and the catalog record)."""
        out = asdict(self)
        out["sample_prompts"] = list(self.sample_prompts)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """The config :meth:`to_dict` wrote (unknown keys are refused)."""
        known = set(cls.__dataclass_fields__)
        unknown = [k for k in data if k not in known]
        if unknown:
            raise ValidationError(unknown[0], f"is not a training setting; known: {', '.join(sorted(known))}")
        data = dict(data)
        data["sample_prompts"] = tuple(data.get("sample_prompts") or ())
        return cls(**data)


@dataclass(frozen=True)
class TrainingExample:
    """One image of a run's dataset: the product, its file and content hash, its caption, and the
    size it is trained at (resolution² when cropped, its bucket with ``aspect="bucket"``)."""

    product_id: str
    path: str
    sha256: str
    width: int | None
    height: int | None
    caption: str
    target_width: int | None = None
    target_height: int | None = None


def bucket_sizes(resolution: int, step: int = BUCKET_STEP) -> list[tuple[int, int]]:
    """The aspect-ratio buckets of ``resolution``: (width, height) pairs, sides multiples of ``step``
    from resolution/2 to 2 × resolution, each the largest area up to resolution² for its width (the
    way kohya's sd-scripts make theirs); sorted by width/height ratio, widest last."""
    area = resolution * resolution
    low = max(step, resolution // 2 // step * step)
    high = resolution * 2
    sizes = set()
    for width in range(low, high + 1, step):
        height = min(high, area // width // step * step)
        if height >= low:
            sizes.add((width, height))
            sizes.add((height, width))
    return sorted(sizes, key=lambda s: (s[0] / s[1], s[0]))


def bucket_for(width: int, height: int, resolution: int, step: int = BUCKET_STEP) -> tuple[int, int]:
    """The bucket of a ``width`` × ``height`` image: the one whose aspect ratio is nearest (on a log
    scale: 2:1 is as far from 1:1 as 1:2), the larger one on a tie."""
    ratio = math.log(width / height)
    return min(bucket_sizes(resolution, step), key=lambda s: (abs(math.log(s[0] / s[1]) - ratio), -s[0] * s[1]))


def target_size(width: int | None, height: int | None, config: TrainingConfig) -> tuple[int, int]:
    """The (width, height) an image of that size is trained at under ``config``."""
    if config.aspect == "bucket" and width and height:
        return bucket_for(int(width), int(height), config.resolution)
    return config.resolution, config.resolution


def apply_trigger(caption: str, trigger: str | None) -> str:
    """``"<trigger>, <caption>"`` (the caption alone without a trigger)."""
    caption = caption.strip()
    if not trigger:
        return caption
    return f"{trigger.strip()}, {caption}" if caption else trigger.strip()


def check_captions(examples: Sequence[TrainingExample], source: str) -> None:
    """Refuse a dataset with an empty caption, naming the products (a silent empty caption
    teaches the LoRA nothing about what it shows)."""
    empty = [e.product_id for e in examples if not e.caption.strip()]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        raise ValidationError("captions", f"{len(empty)} of {len(examples)} products have an empty caption from"
                                          f" {source!r} ({shown}). Give captions='<column>' of the gallery that holds"
                                          " text for them, a mapping {product_id: caption}, or remove those products.")


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingProgress(Event):
    """Step ``step`` of ``total`` of a run is done: its loss, learning rate, speed and time left."""

    run_id: str
    name: str
    step: int
    total: int
    loss: float
    lr: float
    images_per_second: float
    eta_seconds: float | None


@dataclass(frozen=True)
class TrainingStatusChanged(Event):
    """A run changed status (or wrote a checkpoint or samples): what a panel row redraws from."""

    run_id: str
    name: str
    status: str
    step: int
    total: int
    message: str = ""
    error: str | None = None
    samples: tuple[str, ...] = field(default=())
