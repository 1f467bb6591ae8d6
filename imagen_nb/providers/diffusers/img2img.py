"""Image-to-image for the diffusers provider: the ``image`` and ``strength`` parameters.

Every diffusers model takes an optional ``image`` (a product id of the studio, a file path or an
http(s) URL). With it a generation runs image-to-image: it starts from that image and redraws
``strength`` of it in ``int(num_inference_steps × strength)`` steps. Without it, text-to-image.
A model stays one row of ``studio.models()`` (type ``text-to-image``);
:attr:`~imagen_nb.core.records.ModelInfo.supports_image_to_image` tells whether a model takes an image.

The image-to-image pipeline is a view over the modules of the loaded text-to-image pipeline, made
once with ``AutoPipelineForImage2Image.from_pipe`` and kept on the
:class:`~.pipelines.LoadedPipeline`: switching between the two loads and copies nothing.

Sizes: with ``width`` and ``height`` the image is resized to them; without, it keeps its own size
rounded down to a multiple of 8 (scaled down to the spec's largest width/height first); with
only one of them, the other follows the image's aspect ratio.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ...core.errors import ProviderError, ValidationError
from ..checks import Check
from ..spec import number_property

IMAGE = "image"
STRENGTH = "strength"
DEFAULT_STRENGTH = 0.6
#: Largest image read from a URL or data URI.
MAX_INPUT_BYTES = 100 * 2**20
DOWNLOAD_TIMEOUT = 60

_URL = re.compile(r"^https?://", re.I)
_DATA_URI = re.compile(r"^data:[^,]*?(;base64)?,", re.I)
_PRODUCT_ID = re.compile(r"[0-9a-f]{26}")


def image_properties() -> dict[str, dict[str, Any]]:
    """The ``image`` and ``strength`` properties of every diffusers spec.

    ``image`` has ``format: uri``, so the Studio replaces a product id given for it by the
    product's file before the factory sees it (the generation parameter set keeps the id).
    """
    return {
        IMAGE: {
            "type": "string",
            "format": "uri",
            "title": "Image",
            "description": (
                "Start from this image (image-to-image): a product id of this studio, a file path or an"
                " http(s) URL. Resized to width × height when they are given, else kept at its own size"
                " rounded down to a multiple of 8. Leave empty for text-to-image."
            ),
        },
        STRENGTH: number_property(
            0, 1, DEFAULT_STRENGTH,
            "With an image: how much of it is redrawn, from 0 (kept) to 1 (replaced);"
            " int(steps × strength) steps run.",
            title="Strength",
        ),
    }


# ---- validation ---------------------------------------------------------------------------


def checks() -> list[Check]:
    """The image-to-image checks, after the spec check:

    - ``image-rules``: ``strength`` without ``image`` is refused (it would do nothing) and its
      default dropped; with ``image``, ``width``/``height`` not given stay absent (the image's
      size decides) and a local ``image`` path must exist (product ids and URLs are checked when
      used). These depend only on which parameters are given, so they are per-value checks.
    - ``steps-x-strength``: with ``image``, ``int(num_inference_steps × strength)`` must be at
      least 1; it ties two values together, so it runs on every generation.
    """
    return [Check("image-rules", image_rules), Check("steps-x-strength", steps_check, each="row")]


def steps_check(given: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Refuse image-to-image parameters that would run no denoising step (see :func:`check_steps`)."""
    check_steps(out)
    return out


def image_rules(given: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Apply the image-to-image rules to ``out``, the schema-checked form of ``given``."""
    if out.get(IMAGE) is None:
        if given.get(STRENGTH) is not None:
            raise ValidationError(
                STRENGTH,
                "strength applies to image-to-image only: give image=… (a product id, a file path or a URL)"
                " with it, or leave strength out",
            )
        out.pop(STRENGTH, None)
        out.pop(IMAGE, None)
        return out
    check_source(out[IMAGE])
    for side in ("width", "height"):
        if given.get(side) is None:
            out.pop(side, None)
    return out


def check_source(source: Any) -> None:
    """Refuse an ``image`` that cannot be a product id, an existing file, a URL or a data URI."""
    if not isinstance(source, str) or not source.strip():
        raise ValidationError(IMAGE, f"image must be a product id, a file path or a URL; got {source!r}")
    if _URL.match(source) or _DATA_URI.match(source) or _PRODUCT_ID.fullmatch(source):
        return
    path = Path(source).expanduser()
    if not path.is_file():
        raise ValidationError(
            IMAGE,
            f"no file at {path}; give a product id of this studio (see studio.gallery()), the path of an"
            " image file or an http(s) URL",
        )


def steps_run(params: Mapping[str, Any]) -> int:
    """Denoising steps a generation runs: ``int(steps × strength)`` with an image, else all of them."""
    steps = int(params.get("num_inference_steps") or 0)
    if params.get(IMAGE) is None:
        return steps
    return min(int(steps * float(params.get(STRENGTH, DEFAULT_STRENGTH))), steps)


def check_steps(params: Mapping[str, Any]) -> None:
    """Refuse image-to-image parameters that would run no denoising step."""
    if params.get(IMAGE) is None or params.get("num_inference_steps") is None or steps_run(params) >= 1:
        return
    strength = float(params.get(STRENGTH, DEFAULT_STRENGTH))
    steps = int(params["num_inference_steps"])
    if strength <= 0:
        raise ValidationError(
            STRENGTH, "strength 0 redraws nothing (the image would come back unchanged); use a strength"
                      " above 0, e.g. 0.3 keeps most of the image")
    need = max(1, math.ceil(1 / strength - 1e-9))
    while int(need * strength) < 1:
        need += 1
    raise ValidationError(
        STRENGTH,
        f"strength {strength:g} with {steps} steps runs no step (image-to-image runs"
        f" int(num_inference_steps × strength) = {steps_run(params)}): raise num_inference_steps to"
        f" ≥ {need} or strength to ≥ {math.ceil(100 / steps) / 100:g}",
    )


# ---- input images -------------------------------------------------------------------------


@dataclass(frozen=True)
class InputImage:
    """The input image of one generation, read and resized to the size it runs at.

    Args:
        image: a ``PIL.Image.Image`` in RGB, ``width × height`` of the generation.
        source: the file path, URL or data URI it was read from (as given to the factory).
        sha256: hex digest of the bytes read.
        original_size: (width, height) of the image as read.
    """

    image: Any
    source: str
    sha256: str
    original_size: tuple[int, int]


def read_source(source: str) -> bytes:
    """The bytes of an image given as a file path, an http(s) URL or a data URI."""
    if _DATA_URI.match(source):
        header, _, payload = source.partition(",")
        try:
            data = base64.b64decode(payload, validate=True) if header.lower().endswith(";base64") else \
                urllib.parse.unquote_to_bytes(payload)
        except ValueError as exc:
            raise ProviderError(f"image: cannot decode the data URI ({exc})") from exc
        return data
    if _URL.match(source):
        request = urllib.request.Request(source, headers={"User-Agent": "imagen-nb"})
        try:
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
                data = response.read(MAX_INPUT_BYTES + 1)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            raise ProviderError(f"image: cannot download {source}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderError(f"image: cannot download {source}: {reason}") from exc
        if len(data) > MAX_INPUT_BYTES:
            raise ProviderError(f"image: {source} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
        return data
    path = Path(source).expanduser()
    if not path.is_file() and _PRODUCT_ID.fullmatch(source):
        raise ProviderError(
            f"image {source!r} looks like a product id: the Studio turns product ids into files"
            " (studio.order(…, image=id)); when calling the factory directly, pass the product's path"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProviderError(f"image: cannot read {path}: {exc.strerror or exc}") from exc


def open_image(data: bytes, source: str):
    """A ``PIL.Image.Image`` in RGB from file bytes, turned upright by its EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im = ImageOps.exif_transpose(im)
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ProviderError(f"image: cannot read {_short(source)} as an image ({exc})") from exc


def target_size(size: tuple[int, int], width: int | None, height: int | None, limit: int = 2048) -> tuple[int, int]:
    """The (width, height) an input image of ``size`` runs at (see the module docstring)."""
    if width is not None and height is not None:
        return int(width), int(height)
    w0, h0 = size
    if width is None and height is None:
        scale = min(1.0, limit / max(w0, h0))
        w, h = w0 * scale, h0 * scale
    elif width is None:
        w, h = height * w0 / h0, height
    else:
        w, h = width, width * h0 / w0
    w, h = min(int(w), limit) // 8 * 8, min(int(h), limit) // 8 * 8
    if w < 8 or h < 8:
        raise ProviderError(f"image: {w0}×{h0} pixels is too small to start from; give an image of at least 8×8")
    return w, h


def load_inputs(
    param_sets: Sequence[Mapping[str, Any]], spec: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[InputImage | None]]:
    """Read the input image of each parameter set (None for text-to-image).

    Returns the parameter sets with ``width`` and ``height`` set to the size each generation
    runs at (they become the actual parameter set), and the images. A source shared by several
    sets is read once.
    """
    props = spec.get("properties", {}) or {}
    limit = int(min((props.get(side, {}) or {}).get("maximum", 2048) for side in ("width", "height")))
    read: dict[str, tuple[Any, str]] = {}
    out_sets: list[dict[str, Any]] = []
    inputs: list[InputImage | None] = []
    for params in param_sets:
        source = params.get(IMAGE)
        if source is None:
            out_sets.append(dict(params))
            inputs.append(None)
            continue
        if source not in read:
            data = read_source(source)
            read[source] = (open_image(data, source), hashlib.sha256(data).hexdigest())
        image, digest = read[source]
        width, height = target_size(image.size, params.get("width"), params.get("height"), limit)
        resized = image if image.size == (width, height) else _resize(image, width, height)
        out_sets.append(_in_spec_order({**params, "width": width, "height": height}, props))
        inputs.append(InputImage(resized, source, digest, image.size))
    return out_sets, inputs


def _resize(image, width: int, height: int):
    from PIL import Image

    return image.resize((width, height), Image.Resampling.LANCZOS)


def _in_spec_order(params: dict[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    ordered = {k: params[k] for k in props if k in params}
    ordered.update((k, v) for k, v in params.items() if k not in ordered)
    return ordered


# ---- the pipeline call --------------------------------------------------------------------


def image_to_image_view(pipe):
    """The image-to-image pipeline over ``pipe``'s modules: nothing is loaded, copied or cast.

    ``AutoPipelineForImage2Image.from_pipe`` picks the family's class (StableDiffusionImg2ImgPipeline,
    StableDiffusionXLImg2ImgPipeline) and keeps the modules as they are, whereas
    ``StableDiffusionImg2ImgPipeline.from_pipe(pipe)`` casts them to float32 unless told the dtype,
    which would turn the shared float16 text-to-image modules into float32 as well.
    """
    import diffusers

    try:
        view = diffusers.AutoPipelineForImage2Image.from_pipe(pipe)
    except ValueError as exc:
        raise ProviderError(
            f"{type(pipe).__name__} has no image-to-image pipeline in diffusers {diffusers.__version__}: {exc}"
        ) from exc
    view.set_progress_bar_config(disable=True)
    return view


def prepare_call(loaded, args: dict[str, Any], param_sets: Sequence[Mapping[str, Any]],
                 inputs: Sequence[InputImage | None]):
    """The pipeline and arguments of one call.

    Text-to-image: the loaded pipeline and ``args`` unchanged. Image-to-image (every set of a
    batch has an image: the batch key says so): the image-to-image view, with ``image`` (one per
    sample) and ``strength`` in place of ``width`` and ``height``.
    """
    if not inputs or inputs[0] is None:
        return loaded.pipe, args
    pipe = loaded.img2img()
    args = {k: v for k, v in args.items() if k not in ("width", "height")}
    per_prompt = 1 if isinstance(args.get("prompt"), list) else int(args.get("num_images_per_prompt") or 1)
    args["image"] = [item.image for item in inputs for _ in range(per_prompt)]
    args["strength"] = float(param_sets[0][STRENGTH])
    return pipe, args


def returned_fields(params: Mapping[str, Any], item: InputImage | None) -> dict[str, Any]:
    """What the return parameter set records of an image-to-image generation (nothing for text-to-image)."""
    if item is None:
        return {}
    return {
        "strength": float(params[STRENGTH]),
        "denoising_steps": steps_run(params),
        "image": _short(item.source),
        "image_sha256": item.sha256,
        "image_size": [int(item.original_size[0]), int(item.original_size[1])],
    }


def _short(source: str) -> str:
    """A source fit for a record: data URIs are cut (their digest identifies them)."""
    if _DATA_URI.match(source) and len(source) > 80:
        return source[:60] + "…"
    return source
