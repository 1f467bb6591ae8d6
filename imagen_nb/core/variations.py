"""Variations of a product: the base parameter set of an image-to-image order that starts from it.

A variation keeps what made the product (its parameter set, minus the seed) and starts from the
product's image with a fresh seed, redrawing ``strength`` of it. The seeds are drawn once and
given as a list, so the order's base parameter set records them like any ``[a,b,c]`` group.
"""

from __future__ import annotations

import random
from typing import Any, Mapping

from .errors import ValidationError
from .records import ModelInfo
from .smart import escape

#: Parameters of the source that a variation never copies: it draws its own seeds, starts from
#: the product itself, and makes one image per generation (``n`` sets how many).
NOT_COPIED = frozenset({"seed", "image", "strength", "num_images_per_prompt"})
SEED_LIMIT = 2**32


def check_model(model: ModelInfo, product_id: str) -> None:
    """Refuse a model that cannot start from an image, saying what to do instead."""
    if not model.supports_image_to_image:
        raise ValidationError(
            "model",
            f"{model.id} cannot make variations of product {product_id}: it takes no input image (its"
            " parameters have no 'image'). Pass model= a model that does, e.g."
            " product.vary(model='diffusers:tiny'); studio.model(id).supports_image_to_image tells.",
        )


def draw_seeds(n: int, rng: random.Random | None = None) -> list[int]:
    """``n`` distinct seeds in 0 … 2**32-1."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError("n", f"n is the number of variations, an integer ≥ 1; got {n!r}")
    rng = rng or random.SystemRandom()
    return rng.sample(range(SEED_LIMIT), n)


def variation_params(
    source: Mapping[str, Any] | None,
    *,
    product_id: str,
    model: ModelInfo,
    seeds: list[int],
    strength: float | None,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """The base parameter set of the order that makes variations of a product.

    Args:
        source: the product's parameter set (what made it; None for an import without one).
        product_id: the product to start from (the Studio turns it into its file).
        model: the model that runs the order; only parameters its spec knows are copied.
        seeds: one seed per variation.
        strength: how much of the image is redrawn (left out when the model has no ``strength``).
        overrides: parameters the user gave; they win, and may use SmartParameter syntax.

    Values copied from the source are escaped, so brackets in a prompt stay literal, and a list
    value stays one value.
    """
    if "seed" in overrides:
        raise ValidationError(
            "seed",
            "vary draws a new seed per variation (n=…); to choose the seeds, order image-to-image yourself:"
            " studio.order(model, image=product.id, seed=[…], …)",
        )
    props = model.spec.get("properties", {}) or {}
    open_spec = model.spec.get("additionalProperties", True) is not False
    params: dict[str, Any] = {}
    for name, value in (source or {}).items():
        if name in NOT_COPIED or value is None or not (name in props or open_spec):
            continue
        params[name] = _literal(value)
    params["image"] = product_id
    if strength is not None and "strength" in props:
        params["strength"] = strength
    params["seed"] = list(seeds)
    params.update(overrides)
    return params


def _literal(value: Any) -> Any:
    """``value`` as a base parameter that expands to exactly itself."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, (list, tuple, range)):
        return [list(value)]  # a group of one option: the list itself
    return value
