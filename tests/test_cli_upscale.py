"""``imagen-nb doctor`` and ``imagen-nb upscale``."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagen_nb.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_doctor_lists_each_provider_and_fails_while_one_cannot_run(capsys, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    code, out, err = run(capsys, "doctor")
    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"diffusers", "fal", "instant", "replicate"} <= set(lines)
    assert " yes " in lines["diffusers"] and " cpu " in lines["diffusers"] and "GB" in lines["diffusers"]
    assert " NO " in lines["fal"] and "imagen-nb keys set fal" in lines["fal"]
    assert "reachable" not in out.splitlines()[0]  # not contacted unless --reach
    assert "providers ready" in err and "--reach" in err


def test_doctor_passes_when_every_enabled_provider_is_ready(capsys, monkeypatch):
    monkeypatch.setenv("IMAGEN_NB_PROVIDERS", "diffusers,instant")
    code, out, err = run(capsys, "doctor", "--reach")
    assert code == 0, out
    assert "reachable" in out.splitlines()[0] and "2 of 2 providers ready" in err


@pytest.mark.slow
def test_upscale_prints_the_upscaled_products(capsys, home, tmp_path):
    from PIL import Image

    import imagen_nb as inb

    path = tmp_path / "in.png"
    Image.new("RGB", (10, 6), (200, 40, 40)).save(path)
    with inb.Studio() as studio:
        (product,) = studio.import_products([path])
    code, out, err = run(capsys, "upscale", product.id, "--scale", "2", "--model", "diffusers:tiny-esrgan")
    assert code == 0, err
    (made,) = out.split()
    assert Path(made).exists()
    assert Image.open(made).size == (20, 12)
    code, _, err = run(capsys, "upscale", product.id)
    assert code == 2 and "no upscale model with real weights" in err
