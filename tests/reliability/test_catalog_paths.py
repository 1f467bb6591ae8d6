"""A tampered catalog (a restored backup or checkpoint, an old file) never makes us read outside the home."""

from __future__ import annotations

import pytest

import imagen_nb as inb
from imagen_nb.catalog import products as q_products
from imagen_nb.core.paths import inside_home
from imagen_nb.ui.thumbs import row_thumb

ATTACKS = [  # (path, thumb_path) a hostile catalog row may hold
    ("/etc/passwd", "/etc/passwd"),
    ("products/../../../../etc/passwd", "thumbs/../../../../etc/passwd"),
    ("..", "."),
    ("products/2025/01/../../../../../../etc/hostname", None),
]


@pytest.mark.parametrize("path, thumb", ATTACKS)
def test_a_row_naming_a_file_outside_the_home_reads_as_missing(home, tmp_path, path, thumb):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not yours")
    with inb.Studio() as studio:
        (product,) = studio.order("instant:swatch", prompt="p").wait(30).products
        for stored in (path, thumb, str(secret)):
            assert inside_home(studio.home, stored) is None
        q_products.set_paths(studio.catalog.cursor(), [{"id": product.id, "path": path, "thumb_path": thumb}])
        (handle,) = studio.products([product.id])
        assert studio.home in handle.path.parents and not handle.path.exists()
        assert handle.thumb_path is None or studio.home in handle.thumb_path.parents
        row = studio.gallery().iloc[0].to_dict()
        assert row_thumb(row, studio.home) is None  # what a panel sends a browser: nothing
        with pytest.raises(OSError):
            handle.read_bytes()


def test_a_lora_name_cannot_climb_out_of_the_lora_folder(tmp_path):
    from imagen_nb.core.errors import ValidationError
    from imagen_nb.providers.diffusers.loras import _named_file

    folder = tmp_path / "loras"
    (folder / "styles").mkdir(parents=True)
    (folder / "styles" / "ink.safetensors").write_bytes(b"x")
    (tmp_path / "elsewhere.safetensors").write_bytes(b"x")
    assert _named_file("styles/ink", folder, 0) == (folder / "styles" / "ink.safetensors").resolve()
    for name in ("../elsewhere", "styles/../../elsewhere", str(tmp_path / "elsewhere")):
        with pytest.raises(ValidationError, match="is not a LoRA name"):
            _named_file(name, folder, 0)


@pytest.mark.parametrize("name", ["../../../etc/x", "/srv/models/x"])
def test_a_panel_order_with_a_lora_name_climbing_out_is_refused_at_the_field(tmp_path, name):
    from imagen_nb.ui.bridge import PanelRequestError
    from imagen_nb.ui.paths import check_inputs

    with pytest.raises(PanelRequestError) as info:
        check_inputs(tmp_path, {}, {"prompt": "p", "loras": [{"name": name, "weight": 1}]})
    assert info.value.field == "loras"
    check_inputs(tmp_path, {}, {"prompt": "p", "loras": [{"name": "styles/ink", "weight": 1}]})  # a subfolder is fine
