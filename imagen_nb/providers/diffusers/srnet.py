"""Super-resolution networks from a weights file: Real-ESRGAN and friends, architecture from the keys.

A super-resolution (SR) model is a ``.pth`` or ``.safetensors`` file of weights only: the
architecture has to be recognised from the names and shapes of its tensors.
`spandrel <https://github.com/chaiNNer-org/spandrel>`_ does that for ~40 architectures and is
used whenever it can be imported. spandrel's ``import`` pulls in torchvision (two of its
architectures, LaMa and RestoreFormer, import it at module level, and its registry imports every
architecture), so where torchvision is not installed — this project's CPU lock has no torchvision
build — the built-in detector below loads the architectures people use for upscaling renders:

- **RRDBNet** (ESRGAN, Real-ESRGAN x4plus / x2plus, 4x-UltraSharp, Remacri…), in both key
  layouts: BasicSR's (``conv_first``, ``body.N.rdb1.conv1``, ``conv_up1``…) and the original
  ESRGAN one (``model.0``, ``model.1.sub.N.RDB1.conv1.0``…). Scale from the upsampling convs
  and, for Real-ESRGAN's x2/x1 models, from the pixel-unshuffled input of ``conv_first``.
- **SRVGGNetCompact** (Real-ESRGAN's ``realesr-general-x4v3``, ``realesr-animevideov3``):
  ``body.N`` convs with PReLUs; scale from the last conv's channels.

Any other architecture fails with an error naming what was found and how to get spandrel.
:func:`header_arch` reads the same facts from a safetensors header without torch, so the model
folder can list an SR file (and its scale) cheaply.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ...core.errors import ProviderError

#: File endings of SR weights in the model folder (``.safetensors`` may also be a checkpoint).
SR_SUFFIXES = (".pth", ".safetensors")
SPANDREL_HELP = ("install spandrel with torchvision (`pip install spandrel torchvision`), which knows ~40"
                 " architectures; without it imagen-nb loads RRDBNet (ESRGAN / Real-ESRGAN) and SRVGGNetCompact")

_OLD_RDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_CONV = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_BODY = re.compile(r"^body\.(\d+)\.weight$")
_UP = re.compile(r"^conv_up(\d+)\.weight$")


@dataclass(frozen=True)
class SRArch:
    """An architecture recognised from a state dict: its name, scale and constructor arguments."""

    name: str
    scale: int
    options: Mapping[str, Any]


def detect(shapes: Mapping[str, tuple[int, ...]]) -> SRArch:
    """The architecture of a state dict given as ``{key: shape}``; ProviderError when none fits."""
    keys = set(shapes)
    if "conv_first.weight" in keys and any(k.startswith("body.0.rdb1.") for k in keys):
        in_ch = shapes["conv_first.weight"][1]
        nf = shapes["conv_first.weight"][0]
        nb = 1 + max(int(k.split(".")[1]) for k in keys if k.startswith("body.") and ".rdb" in k)
        gc = shapes["body.0.rdb1.conv1.weight"][0]
        out_ch = shapes["conv_last.weight"][0]
        ups = sorted(int(m.group(1)) for k in keys if (m := _UP.match(k)))
        unshuffle = {1: 1, 4: 2, 16: 4}.get(in_ch // out_ch if in_ch % out_ch == 0 else 0)
        if unshuffle is None or ups != list(range(1, len(ups) + 1)):
            raise ProviderError(f"an RRDBNet with {in_ch} input channels and upsampling convs {ups} is not one"
                                f" the built-in loader knows; {SPANDREL_HELP}")
        scale = 2 ** len(ups) // unshuffle
        return SRArch("RRDBNet", scale, {"in_ch": out_ch, "out_ch": out_ch, "nf": nf, "nb": nb, "gc": gc,
                                         "ups": len(ups), "unshuffle": unshuffle})
    if "model.0.weight" in keys and any(_OLD_RDB.match(k) for k in keys):
        return detect(_shapes_of(convert_old_esrgan(dict.fromkeys(keys)), shapes))
    body = sorted(int(m.group(1)) for k in keys if (m := _BODY.match(k)))
    if body and body[0] == 0 and len(shapes.get("body.1.weight", ())) == 1 and keys <= {
            f"body.{i}.{p}" for i in body for p in ("weight", "bias")}:
        last = body[-1]
        in_ch, nf = shapes["body.0.weight"][1], shapes["body.0.weight"][0]
        out = shapes[f"body.{last}.weight"][0]
        for out_ch in (in_ch, 3, 1):
            root = math.isqrt(out // out_ch) if out % out_ch == 0 else 0
            if root and root * root * out_ch == out:
                return SRArch("SRVGGNetCompact", root, {"in_ch": in_ch, "out_ch": out_ch, "nf": nf,
                                                        "num_conv": (last - 2) // 2, "scale": root})
    sample = ", ".join(sorted(keys)[:4])
    raise ProviderError(f"no super-resolution architecture the built-in loader knows fits these weights (keys"
                        f" {sample}, …); {SPANDREL_HELP}")


def _shapes_of(mapping: Mapping[str, str], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    return {new: shapes[old] for new, old in mapping.items()}


def convert_old_esrgan(state: Mapping[str, Any]) -> dict[str, Any]:
    """Rename an original-layout ESRGAN state dict (``model.0``, ``model.1.sub…``) to BasicSR's layout.

    The top-level convs after the trunk are, in order: the upsampling convs, ``conv_hr`` and
    ``conv_last``; values are kept as they are (so a dict of keys maps new name → old name).
    """
    out: dict[str, Any] = {}
    trunk = -1
    for key in state:
        m = _OLD_RDB.match(key)
        if m:
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = state[key] if state[key] is not None else key
            trunk = max(trunk, int(block))
    convs = sorted({int(m.group(1)) for k in state if (m := _OLD_CONV.match(k))})
    if 0 not in convs or len(convs) < 3:
        raise ProviderError(f"an ESRGAN-layout state dict with top-level convs {convs} is not one the built-in"
                            f" loader knows; {SPANDREL_HELP}")
    names = ["conv_first"] + [f"conv_up{i}" for i in range(1, len(convs) - 2)] + ["conv_hr", "conv_last"]
    for index, name in zip(convs, names):
        for kind in ("weight", "bias"):
            key = f"model.{index}.{kind}"
            if key in state:
                out[f"{name}.{kind}"] = state[key] if state[key] is not None else key
    sub_body = f"model.1.sub.{trunk + 1}"
    for kind in ("weight", "bias"):
        key = f"{sub_body}.{kind}"
        if key in state:
            out[f"conv_body.{kind}"] = state[key] if state[key] is not None else key
    return out


def build(arch: SRArch):
    """The ``torch.nn.Module`` of a detected architecture, with fresh weights."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    o = arch.options
    lrelu = nn.LeakyReLU(0.2, inplace=True)

    class DenseBlock(nn.Module):
        def __init__(self, nf: int, gc: int):
            super().__init__()
            self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
            self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
            self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
            self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
            self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

        def forward(self, x):
            x1 = lrelu(self.conv1(x))
            x2 = lrelu(self.conv2(torch.cat((x, x1), 1)))
            x3 = lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
            x4 = lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
            return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x

    class RRDB(nn.Module):
        def __init__(self, nf: int, gc: int):
            super().__init__()
            self.rdb1, self.rdb2, self.rdb3 = DenseBlock(nf, gc), DenseBlock(nf, gc), DenseBlock(nf, gc)

        def forward(self, x):
            return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x

    class RRDBNet(nn.Module):
        def __init__(self):
            super().__init__()
            nf, unshuffle = o["nf"], o["unshuffle"]
            self.unshuffle = unshuffle
            self.conv_first = nn.Conv2d(o["in_ch"] * unshuffle * unshuffle, nf, 3, 1, 1)
            self.body = nn.Sequential(*(RRDB(nf, o["gc"]) for _ in range(o["nb"])))
            self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
            for i in range(1, o["ups"] + 1):
                setattr(self, f"conv_up{i}", nn.Conv2d(nf, nf, 3, 1, 1))
            self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
            self.conv_last = nn.Conv2d(nf, o["out_ch"], 3, 1, 1)

        def forward(self, x):
            if self.unshuffle > 1:
                x = F.pixel_unshuffle(x, self.unshuffle)
            feat = self.conv_first(x)
            feat = feat + self.conv_body(self.body(feat))
            for i in range(1, o["ups"] + 1):
                feat = lrelu(getattr(self, f"conv_up{i}")(F.interpolate(feat, scale_factor=2, mode="nearest")))
            return self.conv_last(lrelu(self.conv_hr(feat)))

    class SRVGGNetCompact(nn.Module):
        def __init__(self):
            super().__init__()
            nf = o["nf"]
            layers: list[nn.Module] = [nn.Conv2d(o["in_ch"], nf, 3, 1, 1), nn.PReLU(num_parameters=nf)]
            for _ in range(o["num_conv"]):
                layers += [nn.Conv2d(nf, nf, 3, 1, 1), nn.PReLU(num_parameters=nf)]
            layers.append(nn.Conv2d(nf, o["out_ch"] * o["scale"] ** 2, 3, 1, 1))
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            out = F.pixel_shuffle(self.body(x), o["scale"])
            return out + F.interpolate(x, scale_factor=o["scale"], mode="nearest")

    return {"RRDBNet": RRDBNet, "SRVGGNetCompact": SRVGGNetCompact}[arch.name]()


def read_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The tensors of a ``.safetensors`` or ``.pth`` file (``params_ema``/``params``/``state_dict`` unwrapped).

    ``.pth`` files are read with ``torch.load(weights_only=True)``: no pickled code runs.
    """
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            import torch

            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ProviderError(f"cannot read the weights in {path}: {exc}") from exc
    for wrapper in ("params_ema", "params", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict) or not state:
        raise ProviderError(f"{path} holds no state dict of tensors")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def header_arch(path: str | os.PathLike) -> SRArch | None:
    """The SR architecture of a ``.safetensors`` file from its header alone (None when it is no SR net)."""
    from ..weightfiles import read_safetensors_header, tensor_shapes

    try:
        shapes = {k: tuple(v) for k, v in tensor_shapes(read_safetensors_header(path)).items()}
    except Exception:
        return None
    try:
        return detect(shapes)
    except ProviderError:
        return None


@dataclass
class SRModel:
    """A loaded SR network: ``model(tensor)`` maps (B, C, H, W) in [0, 1] to (B, C, H·scale, W·scale)."""

    model: Callable[[Any], Any]
    scale: int
    architecture: str
    loader: str  # "spandrel" or "built-in"
    module: Any


def spandrel_available() -> bool:
    """True when ``import spandrel`` works here (it needs torchvision)."""
    try:
        import spandrel  # noqa: F401
    except Exception:
        return False
    return True


def load(path: str | os.PathLike, device: str, dtype: str, *, use_spandrel: bool | None = None) -> SRModel:
    """Load the SR network in ``path`` on ``device`` in ``dtype`` (eval mode, no gradients).

    spandrel is used when importable (``use_spandrel=None``), else the built-in detector.
    """
    import torch

    use_spandrel = spandrel_available() if use_spandrel is None else use_spandrel
    if use_spandrel:
        from spandrel import ImageModelDescriptor, ModelLoader

        try:
            descriptor = ModelLoader(device=torch.device(device)).load_from_file(str(path))
        except Exception as exc:
            raise ProviderError(f"spandrel cannot load {path}: {exc}") from exc
        if not isinstance(descriptor, ImageModelDescriptor):
            raise ProviderError(f"{path} holds a {descriptor.architecture.name} model, which is no image-to-image"
                                " super-resolution network")
        descriptor.eval()
        module = descriptor.model.to(dtype=getattr(torch, dtype))
        return SRModel(descriptor.model, int(descriptor.scale), descriptor.architecture.name, "spandrel", module)
    state = read_state_dict(path)
    shapes = {k: tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}
    arch = detect(shapes)
    if "model.0.weight" in state:
        state = convert_old_esrgan(state)
    module = build(arch)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ProviderError(f"the weights in {path} look like {arch.name} but do not fit it: {exc}") from exc
    module = module.eval().to(device=device, dtype=getattr(torch, dtype))
    module.requires_grad_(False)
    return SRModel(module, arch.scale, arch.name, "built-in", module)
