"""A home moved with `mv` or copied keeps its gallery: paths are relative, nothing is trashed."""

from __future__ import annotations

import shutil
import subprocess

import duckdb

import imagen_nb as inb


def make_home(home, n_prompts=2):
    """A home with real products: 2 prompts × 2 seeds, one rated, one in a collection."""
    with inb.Studio(home) as studio:
        order = studio.order("instant:swatch", prompt=f"a [{','.join(f'p{i}' for i in range(n_prompts))}]",
                             seed="[1,2]").wait(60)
        products = order.products
        studio.rate(products[0], 5)
        studio.collection("best").add(products[1])
        return {p.id: (p.prompt, p.seed, p.read_bytes()) for p in products}


def assert_intact(home, made):
    with inb.Studio(home) as studio:
        assert not studio.recovery.orphan_files and not studio.recovery.missing_files
        assert not (home / "trash").exists()
        gallery = studio.gallery(limit=100)
        assert set(gallery.product_id) == set(made)
        for row in gallery.itertuples():
            assert row.path.startswith(str(home) + "/")  # the files where they are now
            assert open(row.path, "rb").read() == made[row.product_id][2]
        for pid, (prompt, seed, data) in made.items():
            product = studio.product(pid)
            assert (product.prompt, product.seed) == (prompt, seed)
            assert product.read_bytes() == data
            assert product.image.size == (64, 64)
        assert studio.gallery_count(min_rating=5) == 1
        assert studio.gallery_count(collection="best") == 1
        # and it keeps working: a new order lands in the new place
        new = studio.order("instant:swatch", prompt="after the move", seed=7).wait(60).products
        assert new[0].path.is_relative_to(home) and new[0].path.is_file()


def test_mv_a_home_keeps_its_gallery(tmp_path):
    old, new = tmp_path / "homeA", tmp_path / "homeB"
    made = make_home(old)
    subprocess.run(["mv", str(old), str(new)], check=True)
    assert_intact(new, made)


def test_a_copied_home_and_its_original_both_keep_their_galleries(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    made = make_home(original)
    shutil.copytree(original, copy)
    assert_intact(copy, made)
    assert_intact(original, made)
    # the copy's rows name its own files, not the original's
    con = duckdb.connect(str(copy / "catalog.duckdb"), read_only=True)
    try:
        assert all(not p.startswith("/") for (p,) in con.execute("SELECT path FROM products").fetchall())
    finally:
        con.close()


def test_an_old_catalog_with_absolute_paths_survives_a_move(tmp_path):
    """The issue's reproduction: rows written with absolute paths, home moved, then opened."""
    old, new = tmp_path / "old", tmp_path / "new"
    made = make_home(old)
    con = duckdb.connect(str(old / "catalog.duckdb"))
    # As catalogs written before relative paths were: absolute paths, migration not applied.
    con.execute("UPDATE products SET path = ? || '/' || path, thumb_path = ? || '/' || thumb_path",
                [str(old), str(old)])
    con.execute("DELETE FROM schema_migrations WHERE name = 'm006_relative_paths'")
    con.execute("DROP TABLE home")
    con.close()
    subprocess.run(["mv", str(old), str(new)], check=True)
    assert_intact(new, made)


def test_recovery_never_trashes_a_file_whose_id_has_a_row(tmp_path):
    """A row naming a wrong place (e.g. an absolute path from elsewhere) is pointed at its file."""
    home = tmp_path / "home"
    made = make_home(home)
    with inb.Studio(home) as studio:
        con = studio.catalog.cursor()
        con.execute("UPDATE products SET path = '/nowhere/' || path")
    with inb.Studio(home) as studio:
        assert sorted(studio.recovery.repointed) == sorted(made)
        assert not studio.recovery.orphan_files and not studio.recovery.missing_files
        assert studio.gallery_count() == len(made)
        assert all(studio.product(pid).read_bytes() == data for pid, (_, _, data) in made.items())
