"""Super-resolution weights: the architecture read from the keys (both ESRGAN layouts, Real-ESRGAN x2,
SRVGGNetCompact), loaded back from .safetensors and .pth, and errors that say what to install."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from imagen_nb.core.errors import ProviderError  # noqa: E402
from imagen_nb.providers.diffusers import srnet  # noqa: E402
from imagen_nb.providers.diffusers.tiny import tiny_esrgan_state, write_tiny_esrgan  # noqa: E402


def shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def image(h=12, w=10):
    return torch.rand((1, 3, h, w), generator=torch.Generator().manual_seed(0))


def test_rrdbnet_in_basicsr_layout_is_detected_with_its_sizes():
    arch = srnet.detect(shapes(tiny_esrgan_state(nf=8, nb=2, gc=4)))
    assert (arch.name, arch.scale) == ("RRDBNet", 4)
    assert {k: arch.options[k] for k in ("nf", "nb", "gc", "ups", "unshuffle")} == \
        {"nf": 8, "nb": 2, "gc": 4, "ups": 2, "unshuffle": 1}


def test_tiny_esrgan_file_loads_back_and_upscales_four_times(tmp_path):
    path = write_tiny_esrgan(tmp_path / "tiny.safetensors")
    assert srnet.header_arch(path).scale == 4  # read from the header alone
    model = srnet.load(path, "cpu", "float32", use_spandrel=False)
    assert (model.architecture, model.scale, model.loader) == ("RRDBNet", 4, "built-in")
    with torch.inference_mode():
        out = model.model(image())
    assert out.shape == (1, 3, 48, 40)
    # The same weights give the same output: the state dict was loaded, not fresh random weights.
    net = srnet.build(srnet.detect(shapes(tiny_esrgan_state())))
    net.load_state_dict(tiny_esrgan_state())
    with torch.inference_mode():
        assert torch.allclose(net(image()), out)


def test_original_esrgan_layout_loads_to_the_same_network(tmp_path):
    state = tiny_esrgan_state()
    old = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":  # body.N.rdbJ.convK.weight → model.1.sub.N.RDBJ.convK.0.weight
            old[f"model.1.sub.{parts[1]}.RDB{parts[2][-1]}.{parts[3]}.0.{parts[4]}"] = value
        else:
            index = {"conv_first": 0, "conv_up1": 3, "conv_up2": 6, "conv_hr": 8, "conv_last": 10}.get(parts[0])
            if parts[0] == "conv_body":
                old[f"model.1.sub.1.{parts[1]}"] = value
            else:
                old[f"model.{index}.{parts[1]}"] = value
    path = tmp_path / "4x_old.pth"
    torch.save(old, path)
    loaded = srnet.load(path, "cpu", "float32", use_spandrel=False)
    reference = srnet.load(write_tiny_esrgan(tmp_path / "new.safetensors"), "cpu", "float32", use_spandrel=False)
    with torch.inference_mode():
        assert torch.equal(loaded.model(image()), reference.model(image()))


def test_real_esrgan_x2_unshuffles_its_input():
    net = srnet.build(srnet.SRArch("RRDBNet", 2, {"in_ch": 3, "out_ch": 3, "nf": 8, "nb": 1, "gc": 4, "ups": 2,
                                                  "unshuffle": 2}))
    arch = srnet.detect(shapes(net.state_dict()))
    assert (arch.name, arch.scale, arch.options["unshuffle"]) == ("RRDBNet", 2, 2)
    with torch.inference_mode():
        assert net(image(8, 6)).shape == (1, 3, 16, 12)


def test_compact_network_and_its_scale_from_the_last_conv(tmp_path):
    net = srnet.build(srnet.SRArch("SRVGGNetCompact", 2, {"in_ch": 3, "out_ch": 3, "nf": 8, "num_conv": 2,
                                                          "scale": 2}))
    from safetensors.torch import save_file

    path = tmp_path / "compact.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded = srnet.load(path, "cpu", "float32", use_spandrel=False)
    assert (loaded.architecture, loaded.scale) == ("SRVGGNetCompact", 2)
    with torch.inference_mode():
        assert torch.allclose(loaded.model(image()), net(image()))


def test_params_ema_wrapper_is_unwrapped(tmp_path):
    path = tmp_path / "wrapped.pth"
    torch.save({"params_ema": tiny_esrgan_state()}, path)
    assert srnet.load(path, "cpu", "float32", use_spandrel=False).scale == 4


def test_an_unknown_architecture_says_how_to_get_spandrel(tmp_path):
    path = tmp_path / "swinir.pth"
    torch.save({"layers.0.residual_group.blocks.0.attn.qkv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ProviderError, match="pip install spandrel torchvision"):
        srnet.load(path, "cpu", "float32", use_spandrel=False)


def test_weights_that_look_like_rrdbnet_but_do_not_fit_fail_clearly(tmp_path):
    state = tiny_esrgan_state()
    state["body.0.rdb1.conv5.weight"] = torch.zeros(8, 9, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ProviderError, match="look like RRDBNet but do not fit"):
        srnet.load(path, "cpu", "float32", use_spandrel=False)


def test_a_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": srnet.SRArch("RRDBNet", 4, {})}, path)  # a pickled object, not only tensors
    with pytest.raises(ProviderError, match="cannot read the weights"):
        srnet.read_state_dict(path)


@pytest.mark.skipif(not srnet.spandrel_available(), reason="spandrel imports torchvision, which has no CPU build in"
                    " this project's lock; the built-in loader is what runs here")
def test_spandrel_loads_the_tiny_esrgan_to_the_same_output(tmp_path):
    path = write_tiny_esrgan(tmp_path / "tiny.safetensors")
    ours = srnet.load(path, "cpu", "float32", use_spandrel=False)
    theirs = srnet.load(path, "cpu", "float32", use_spandrel=True)
    assert (theirs.loader, theirs.architecture, theirs.scale) == ("spandrel", "ESRGAN", 4)
    with torch.inference_mode():
        assert torch.allclose(ours.model(image()), theirs.model(image()), atol=1e-5)
