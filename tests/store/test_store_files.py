"""ProductStore: layout, atomic writes, hashes, thumbnails, trash and crash clean-up."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from imagen_nb.store import TEMP_PREFIX, ProductStore
from imagen_nb.store import files as files_module

CREATED = datetime(2025, 3, 7, 12, 0, tzinfo=timezone.utc)


def png_bytes(size=(64, 64), color=(200, 30, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def temp_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def test_write_puts_product_and_thumbnail_in_the_layout_and_leaves_no_temp_file(tmp_path):
    store = ProductStore(tmp_path)
    data = png_bytes((640, 480))

    stored = store.write("p1", data, "png", CREATED)

    assert stored.path == tmp_path / "products" / "2025" / "03" / "p1.png"
    assert stored.thumb_path == tmp_path / "thumbs" / "2025" / "03" / "p1.webp"
    assert stored.path.read_bytes() == data
    assert (stored.size, stored.width, stored.height, stored.media_type) == (len(data), 640, 480, "image/png")
    assert temp_files(tmp_path) == []
    assert store.product_path("p1", "png", CREATED) == stored.path
    assert store.thumb_path("p1", CREATED) == stored.thumb_path


def test_sha256_is_the_hash_of_the_stored_bytes(tmp_path):
    data = png_bytes()
    stored = ProductStore(tmp_path).write("p1", data, "png", CREATED)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.sha256 == hashlib.sha256(stored.path.read_bytes()).hexdigest()


def test_a_small_web_image_is_its_own_thumbnail(tmp_path):
    # Writing and decoding a second file would be most of the cost of a 64 px product.
    store = ProductStore(tmp_path)
    stored = store.write("small", png_bytes((64, 48)), "png", CREATED)
    assert stored.thumb_path == stored.path
    assert (stored.width, stored.height) == (64, 48)
    assert not (tmp_path / "thumbs").exists()
    big = store.write("big", png_bytes((257, 10)), "png", CREATED)
    assert big.thumb_path == tmp_path / "thumbs" / "2025" / "03" / "big.webp"
    store.remove(stored.path)
    assert not stored.path.exists()


def test_thumbnail_is_webp_within_256_px_with_the_aspect_kept(tmp_path):
    stored = ProductStore(tmp_path).write("wide", png_bytes((1024, 512)), "png", CREATED)
    with Image.open(stored.thumb_path) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == (256, 128)


def test_write_replaces_an_existing_file_of_the_same_id(tmp_path):
    store = ProductStore(tmp_path)
    store.write("p1", png_bytes(color=(0, 0, 0)), "png", CREATED)
    second = png_bytes(color=(255, 255, 255))
    stored = store.write("p1", second, "png", CREATED)
    assert stored.path.read_bytes() == second
    assert list(store.iter_product_files()) == [stored.path]


def test_write_with_fsync_gives_the_same_result(tmp_path):
    data = png_bytes()
    stored = ProductStore(tmp_path, fsync=True).write("p1", data, "png", CREATED)
    assert stored.path.read_bytes() == data
    assert stored.thumb_path.exists()


def test_video_gets_an_icon_thumbnail_and_other_media_none(tmp_path):
    stored = ProductStore(tmp_path).write("clip", b"\x00\x00\x00\x18ftypmp42", "mp4", CREATED)
    assert stored.path == tmp_path / "products" / "2025" / "03" / "clip.mp4"
    assert stored.thumb_path == tmp_path / "thumbs" / "2025" / "03" / "clip.webp"
    assert (stored.width, stored.height) == (None, None)
    assert stored.media_type == "video/mp4"
    text = ProductStore(tmp_path).write("notes", b"{}", "json", CREATED)
    assert (text.thumb_path, text.width, text.height) == (None, None, None)


def test_an_image_that_does_not_decode_is_kept_without_thumbnail(tmp_path):
    # The product may have been paid for: losing it over a thumbnail would be worse.
    stored = ProductStore(tmp_path).write("broken", b"\x89PNG\r\n\x1a\nnot really", "png", CREATED)
    assert stored.path.read_bytes() == b"\x89PNG\r\n\x1a\nnot really"
    assert stored.thumb_path is None
    assert not (tmp_path / "thumbs").exists()


@pytest.mark.parametrize("bad_id", ["", "../escape", "a/b", ".hidden"])
def test_ids_that_are_not_plain_file_names_are_refused(tmp_path, bad_id):
    with pytest.raises(ValueError, match="plain file name"):
        ProductStore(tmp_path).write(bad_id, png_bytes(), "png", CREATED)
    assert not (tmp_path / "products").exists()


def test_a_failed_rename_leaves_neither_temp_nor_final_file(tmp_path, monkeypatch):
    # A full disk or a crash at the rename cannot be produced on demand; fake the rename.
    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "replace", failing_replace)
    store = ProductStore(tmp_path)
    with pytest.raises(OSError, match="No space"):
        store.write("p1", png_bytes(), "png", CREATED)
    assert temp_files(tmp_path) == []
    assert not store.product_path("p1", "png", CREATED).exists()


def test_iter_product_files_lists_products_and_skips_temp_files(tmp_path):
    store = ProductStore(tmp_path)
    assert list(store.iter_product_files()) == []
    a = store.write("a", png_bytes(), "png", datetime(2024, 12, 31)).path
    b = store.write("b", png_bytes(), "png", CREATED).path
    (b.parent / f"{TEMP_PREFIX}123-0-c.png").write_bytes(b"half a file")
    assert list(store.iter_product_files()) == [a, b]


def test_clean_temp_files_removes_crash_leftovers_only(tmp_path):
    store = ProductStore(tmp_path)
    stored = store.write("a", png_bytes(), "png", CREATED)
    leftovers = [
        stored.path.parent / f"{TEMP_PREFIX}99-1-b.png",
        stored.thumb_path.parent / f"{TEMP_PREFIX}99-0-b.webp",
    ]
    for path in leftovers:
        path.write_bytes(b"half")

    assert store.clean_temp_files() == 2
    assert temp_files(tmp_path) == []
    assert stored.path.exists() and stored.thumb_path.exists()
    assert store.clean_temp_files() == 0


def test_move_to_trash_keeps_the_layout_and_takes_the_thumbnail_along(tmp_path):
    store = ProductStore(tmp_path)
    stored = store.write("a", png_bytes((512, 512)), "png", CREATED)

    moved = store.move_to_trash(stored.path)

    assert moved == tmp_path / "trash" / "products" / "2025" / "03" / "a.png"
    assert moved.read_bytes() == png_bytes((512, 512))
    assert (tmp_path / "trash" / "thumbs" / "2025" / "03" / "a.webp").exists()
    assert not stored.path.exists() and not stored.thumb_path.exists()
    assert list(store.iter_product_files()) == []


def test_move_to_trash_never_overwrites_what_is_in_the_trash(tmp_path):
    store = ProductStore(tmp_path)
    first = store.move_to_trash(store.write("a", png_bytes(color=(1, 1, 1)), "png", CREATED).path)
    second = store.move_to_trash(store.write("a", png_bytes(color=(2, 2, 2)), "png", CREATED).path)
    assert second == first.with_name("a.png.1")
    assert first.read_bytes() == png_bytes(color=(1, 1, 1))
    assert second.read_bytes() == png_bytes(color=(2, 2, 2))


def test_move_to_trash_refuses_missing_files_and_paths_outside_home(tmp_path):
    store = ProductStore(tmp_path / "home")
    with pytest.raises(FileNotFoundError, match="x.png"):
        store.move_to_trash(store.product_path("x", "png", CREATED))
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="not under the imagen-nb home"):
        store.move_to_trash(outside)
    assert outside.read_bytes() == b"keep me"


def test_remove_deletes_product_and_thumbnail_and_tolerates_missing_files(tmp_path):
    store = ProductStore(tmp_path)
    stored = store.write("a", png_bytes(), "png", CREATED)
    store.remove(stored.path)
    assert not stored.path.exists() and not stored.thumb_path.exists()
    store.remove(stored.path)  # already gone: reconciliation may run twice
    with pytest.raises(ValueError, match="not under"):
        store.remove(Path(os.path.abspath(tmp_path / ".." / "x.png")))


def test_trashing_the_same_content_again_keeps_one_copy(tmp_path):
    """A crash used to leave one more copy of the same file in the trash each time (54 seen)."""
    from datetime import datetime, timezone

    store = ProductStore(tmp_path)
    now = datetime(2025, 1, 2, tzinfo=timezone.utc)
    for _ in range(5):
        stored = store.write("same", b"identical bytes", "bin", now)
        store.move_to_trash(stored.path)
    other = store.write("same", b"different bytes", "bin", now)
    store.move_to_trash(other.path)
    names = sorted(p.name for p in store.trash_files())
    assert names == ["same.bin", "same.bin.1"]


def test_empty_trash_removes_files_and_folders(tmp_path):
    from datetime import datetime, timezone

    store = ProductStore(tmp_path)
    now = datetime(2025, 1, 2, tzinfo=timezone.utc)
    for i in range(3):
        store.move_to_trash(store.write(f"p{i}", b"x" * (i + 1), "bin", now).path)
    assert store.empty_trash() == (3, 6)
    assert store.trash_files() == [] and not any(p.is_dir() for p in store.trash.rglob("*"))
    assert store.empty_trash() == (0, 0)
