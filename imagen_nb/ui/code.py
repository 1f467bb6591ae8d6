""""Copy as code": the ``studio.order(...)`` call that reproduces an order or a product.

A panel asks its controller for the text and puts it on the clipboard, so what was clicked can
be run, changed and versioned in a notebook cell.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: generation parameters that only say where a product came from, never what to send
_NOT_PARAMS = frozenset({"model"})


def order_call(model: str, params: Mapping[str, Any] | None, *, project: str | None = None,
               rng_seed: int | None = None, var: str = "studio") -> str:
    """``studio.order("model", prompt=…, …)`` for these parameters, wrapped at about 100 characters.

    Args:
        project: the project's name, added as ``project=``.
        rng_seed: the order's seed of random picks (``[a|b]``), so the same picks come back.
    """
    args = [repr(model)]
    if project:
        args.append(f"project={project!r}")
    extra = {}
    for key, value in (params or {}).items():
        if key in _NOT_PARAMS:
            continue
        if _NAME.fullmatch(key):
            args.append(f"{key}={value!r}")
        else:  # a name Python cannot take as a keyword (an import's "Clip skip")
            extra[key] = value
    if rng_seed is not None:
        args.append(f"rng_seed={rng_seed!r}")
    if extra:
        args.append(f"**{extra!r}")
    one_line = f"{var}.order({', '.join(args)})"
    if len(one_line) <= 100:
        return one_line
    return f"{var}.order(\n" + "".join(f"    {a},\n" for a in args) + ")"


def order_code(studio, order_id: str) -> str:
    """The call that places ``order_id`` again: its model, base parameters as typed, project and,
    when its parameters pick at random, its ``rng_seed``."""
    order = studio.get_order(order_id)
    params = dict(order.base_params or {})
    picks = any(isinstance(v, str) and "|" in v or isinstance(v, str) and "[?" in v for v in params.values())
    project = _project_name(studio, order.id)
    return order_call(order.model, params, project=project, rng_seed=order.rng_seed if picks else None)


def product_code(studio, product_id: str, model: str | None = None) -> str:
    """The call that makes this one product again: its model and generation parameter set, its
    seed included (``model`` for an import without a known model)."""
    product = studio.product(product_id)
    params = dict(product.params or {})
    if product.seed is not None:
        params["seed"] = product.seed
    model_id = product.model_id or model or params.get("model") or "instant:swatch"
    return order_call(model_id, params)


def _project_name(studio, order_id: str) -> str | None:
    rows = studio.views.order_summaries(ids=[order_id], limit=1).to_dict("records")
    name = rows[0].get("project") if rows else None
    return name if isinstance(name, str) and name else None
