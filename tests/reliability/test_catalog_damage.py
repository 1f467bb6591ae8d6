"""A damaged or deleted catalog: one clear error, the home not left locked, no product file
trashed, and a rebuild (or a checkpoint) that brings the gallery back. Real DuckDB files, damaged
the ways disks and people damage them."""

from __future__ import annotations

import fcntl
import logging
import os

import duckdb
import pytest

import imagen_nb as inb
from imagen_nb.catalog import checkpoints
from imagen_nb.cli import main
from imagen_nb.core.errors import CatalogBusy, CatalogDamaged

BLOCK = 262144  # DuckDB's block size
HEADER = 3 * 4096  # its file header and two database headers come first


@pytest.fixture
def made(home):
    """A closed home with 8 products; returns {product id: (prompt, seed, model, bytes)}."""
    with inb.Studio(home) as studio:
        order = studio.order("instant:swatch", prompt="a [red,blue] [cat,dog]", seed="[1,2]").wait(60)
        return {p.id: (p.prompt, p.seed, p.model_id, p.read_bytes()) for p in order.products}


def files_of(home):
    return {p.relative_to(home): p.read_bytes() for p in (home / "products").rglob("*") if p.is_file()}


def zero_length(path):
    path.write_bytes(b"")


def bad_header(path):
    with open(path, "r+b") as f:
        f.write(b"this is not a duckdb file" * 4)


def truncated(path):
    os.truncate(path, path.stat().st_size // 3)


def flipped_blocks(path):
    """Bytes flipped inside every block after the headers (where rows are; a small catalog fills
    only the first kilobytes of each block): a checksum error wherever DuckDB reads."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for start in range(HEADER, size, BLOCK):
            f.seek(start + 1000)
            chunk = f.read(64)
            f.seek(start + 1000)
            f.write(bytes(b ^ 0xFF for b in chunk))


def flipped_silent_block(path):
    """One flipped block that opening the file and reading its schema does not notice: only
    reading the rows finds it (the case an open that trusts the file would miss)."""
    good = path.read_bytes()
    for start in range(HEADER, len(good), BLOCK):
        damaged = bytearray(good)
        middle = start + 100
        damaged[middle:middle + 64] = bytes(b ^ 0xFF for b in damaged[middle:middle + 64])
        path.write_bytes(bytes(damaged))
        try:
            con = duckdb.connect(str(path))
        except duckdb.Error:
            continue
        try:
            con.execute("SELECT name FROM schema_migrations").fetchall()
            try:
                for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_type = 'BASE TABLE'").fetchall():
                    con.execute(f'SELECT * FROM "{table}"').fetchall()
            except duckdb.Error:
                return  # damaged in a block only a full read touches
        except duckdb.Error:
            pass
        finally:
            con.close()
    pytest.fail("no block of the catalog is silent when damaged")


DAMAGE = {
    "zero-length": (zero_length, "not a valid DuckDB database file"),
    "bad-header": (bad_header, "not a valid DuckDB database file"),
    "truncated": (truncated, "Could not read"),
    "flipped-bytes": (flipped_blocks, "checksum"),
    "flipped-silent-block": (flipped_silent_block, "checksum"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_catalog_is_reported_once_clearly_and_rebuilt(home, made, case, capsys):
    damage, reason = DAMAGE[case]
    catalog = home / "catalog.duckdb"
    before = files_of(home)
    damage(catalog)
    damaged_bytes = catalog.read_bytes()

    for _ in range(2):  # the same answer twice: a failed open leaves nothing locked in the process
        with pytest.raises(CatalogDamaged) as info:
            inb.Studio(home)
        err = info.value
        assert not isinstance(err, CatalogBusy)
        message = str(err)
        assert str(catalog) in message and reason in message
        assert "imagen-nb --home" in message and "rebuild" in message and "restore" in message
        assert "\n" not in message
        assert err.__cause__ is None and err.__suppress_context__  # no DuckDB traceback on screen
        assert err.checkpoint is None or checkpoints.is_good(err.checkpoint)
    assert files_of(home) == before and not (home / "trash").exists()  # nothing touched
    fd = os.open(home / "catalog.lock", os.O_RDWR)  # and the home is free for any process
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

    # The command line says it in one line too.
    capsys.readouterr()
    assert main(["--home", str(home), "sql", "select 1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is damaged" in err and "Traceback" not in err

    report = inb.Studio.rebuild(home)
    assert report.products_added == len(made) and report.orders_added == 1
    assert report.moved_aside is not None and report.moved_aside.read_bytes() == damaged_bytes  # kept
    with inb.Studio(home) as studio:
        assert not studio.recovery.orphan_files and not studio.recovery.missing_files
        assert studio.gallery_count() == len(made)
        for pid, (prompt, seed, model, data) in made.items():
            product = studio.product(pid)
            assert (product.prompt, product.seed, product.model_id) == (prompt, seed, model)
            assert product.read_bytes() == data
            assert product.params["guidance_scale"] == 7.5
        order = studio.get_order(studio.product(pid).order_id)
        assert order.status == "fulfilled" and len(order.products) == len(made)
        assert studio.sql("select count(*) as n from generations where status = 'complete'").n[0] == len(made)
        assert studio.gallery_count(text="red cat") == 2
    assert files_of(home) == before


def test_damage_message_names_the_newest_good_checkpoint_and_rolls_back(home, made):
    with inb.Studio(home) as studio:  # a clean open takes a checkpoint of the catalog
        assert studio.catalog.checkpoint is not None
        first = studio.gallery(limit=1).product_id[0]
        studio.rate(first, 5)
    with inb.Studio(home) as studio:
        newest = studio.catalog.checkpoint
        assert newest is not None  # the rating changed the catalog: a new checkpoint
        later = studio.order("instant:swatch", prompt="made after the checkpoint", seed=9).wait(60).products[0]
    bad_header(home / "catalog.duckdb")
    with pytest.raises(CatalogDamaged) as info:
        inb.Studio(home)
    assert info.value.checkpoint == newest and str(newest) in str(info.value)

    report = inb.Studio.restore(info.value.checkpoint, home)
    assert report.moved_aside is not None and "damaged" in report.moved_aside.name
    assert report.rebuild.products_added == 1  # the product newer than the checkpoint is listed again
    with inb.Studio(home) as studio:
        assert studio.gallery_count() == len(made) + 1
        assert studio.product(first).rating == 5  # what only the catalog knew is back
        assert studio.product(later.id).prompt == "made after the checkpoint"
        assert not studio.recovery.orphan_files


def test_checkpoints_rotate_and_skip_empty_or_unchanged_catalogs(home, made):
    for i in range(5):
        with inb.Studio(home) as studio:
            studio.tokens[f"t{i}"] = ["x"]  # a change, so the next open takes a new checkpoint
    kept = checkpoints.checkpoints(home)
    assert len(kept) == checkpoints.KEEP and all(checkpoints.is_good(p) for p in kept)
    with inb.Studio(home) as studio:
        assert studio.catalog.checkpoint == checkpoints.checkpoints(home)[0]  # the last change
    kept = checkpoints.checkpoints(home)
    with inb.Studio(home) as studio:  # nothing changed since the last one: no new copy
        assert studio.catalog.checkpoint is None
    assert checkpoints.checkpoints(home) == kept


def _changes(home, n):
    """Open the home ``n`` times, each time changing the catalog (so each next open takes a checkpoint)."""
    for i in range(n):
        with inb.Studio(home) as studio:
            studio.tokens[f"later{i}"] = ["x"]


def test_checkpoints_from_before_a_restore_survive_the_rotation_after_it(home, made):
    _changes(home, checkpoints.KEEP + 1)
    with inb.Studio(home) as studio:  # takes the checkpoint of the last change
        only_newest = studio.sql("select name from smart_tokens").name.tolist()
    before = checkpoints.checkpoints(home)
    oldest, newest = before[-1], before[0]
    inb.Studio.restore(oldest, home, force=True)  # roll back further than the user meant to
    _changes(home, checkpoints.KEEP + 2)  # the opens after it take checkpoints of their own
    kept = checkpoints.checkpoints(home)
    assert newest in kept, "the last checkpoint from before the restore was rotated out"
    assert oldest in kept, "the checkpoint restored was rotated out"
    assert checkpoints.pinned(newest) == "before-restore" and checkpoints.pinned(oldest) == "restored-from"
    assert len([c for c in kept if checkpoints.pinned(c) is None]) == checkpoints.KEEP
    inb.Studio.restore(newest, home, force=True)  # the way back still exists
    with inb.Studio(home) as studio:
        assert set(only_newest) <= set(studio.sql("select name from smart_tokens").name)


def test_the_checkpoint_from_before_a_rebuild_survives_the_rotation_after_it(home, made):
    _changes(home, 2)
    newest = checkpoints.checkpoints(home)[0]
    bad_header(home / "catalog.duckdb")
    inb.Studio.rebuild(home)
    _changes(home, checkpoints.KEEP + 2)
    assert newest in checkpoints.checkpoints(home), "the last checkpoint from before the rebuild was rotated out"
    assert checkpoints.pinned(newest) == "before-rebuild" and checkpoints.is_good(newest)


def test_deleted_catalog_trashes_nothing_and_says_to_rebuild(home, made, caplog):
    with inb.Studio(home) as studio:
        checkpoint = studio.catalog.checkpoint
    before = files_of(home)
    (home / "catalog.duckdb").unlink()
    with caplog.at_level(logging.WARNING), inb.Studio(home) as studio:
        assert studio.gallery_count() == 0
        assert len(studio.recovery.unindexed_files) == len(made)
        assert not studio.recovery.orphan_files
    assert f"imagen-nb --home {home} rebuild" in caplog.text
    assert f"restore {checkpoint} --force" in caplog.text
    assert files_of(home) == before and not (home / "trash").exists()
    # and reopening the (still empty) catalog does not trash them either
    with inb.Studio(home) as studio:
        assert not studio.recovery.orphan_files
    report = inb.Studio.rebuild(home)
    assert report.moved_aside is None and report.products_added == len(made)
    assert inb.Studio.rebuild(home).products_added == 0  # twice adds nothing
    with inb.Studio(home) as studio:
        assert studio.gallery_count() == len(made)


def test_rebuild_reads_a1111_text_when_that_is_all_a_file_has(home, made):
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    with inb.Studio(home) as studio:
        pid = "0" * 26
        target = studio.home / "products" / "2024" / "05" / f"{pid}.png"
        target.parent.mkdir(parents=True)
        info = PngInfo()
        info.add_text("parameters", "a lighthouse at dusk\nNegative prompt: fog\n"
                                    "Steps: 20, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 32x32, Model: sd15")
        Image.new("RGB", (32, 32), "navy").save(target, pnginfo=info)
    report = inb.Studio.rebuild(home)
    assert report.products_added == 1
    with inb.Studio(home) as studio:
        product = studio.product(pid)
        assert product.prompt == "a lighthouse at dusk" and product.seed == 1234
        assert product.params["negative_prompt"] == "fog" and product.params["num_inference_steps"] == 20
        assert product.source == "imported"


def test_rebuild_refuses_while_a_studio_has_the_home_open(home, made):
    with inb.Studio(home):
        with pytest.raises(CatalogBusy, match=r"close it first"):
            inb.Studio.rebuild(home)


def test_cli_rebuild_prints_one_line(home, made, capsys):
    truncated(home / "catalog.duckdb")
    assert main(["--home", str(home), "sql", "select 1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "rebuild" in err
    assert main(["--home", str(home), "rebuild"]) == 0
    out = capsys.readouterr().out
    assert f"{len(made)} product(s)" in out and "moved to" in out
    with inb.Studio(home) as studio:
        assert studio.gallery_count() == len(made)


def test_rebuild_survives_hostile_parameters_and_adds_nothing_twice(tmp_path):
    """A file whose JSON holds a seed of 2**70 and a lone surrogate, and one not named by an id."""
    import io
    import json
    import zlib
    from datetime import datetime, timezone

    from PIL import Image

    from imagen_nb.store import ProductStore, embed

    home = tmp_path / "home"
    store = ProductStore(home)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    good = embed(buf.getvalue(), {"prompt": "fine", "seed": 3}, "instant:swatch")
    # Our JSON chunk with values no catalog column can hold, written as a hostile tool would.
    payload = json.dumps({"model": "x:y", "params": {"prompt": "a\ud800b", "seed": 2**70}}).encode()
    chunk = b"imagen_nb\x00\x00" + zlib.compress(payload)
    hostile = buf.getvalue()[:33] + len(chunk).to_bytes(4, "big") + b"zTXt" + chunk + \
        zlib.crc32(b"zTXt" + chunk).to_bytes(4, "big") + buf.getvalue()[33:]
    now = datetime.now(timezone.utc)
    store.write("a" * 26, good, "png", now)
    store.write("b" * 26, hostile, "png", now)
    (store.write("c" * 26, good, "png", now).path).rename(home / "products" / f"{now:%Y}" / f"{now:%m}" / "cat.png")
    first = inb.Studio.rebuild(home)
    assert first.products_added == 3, first.summary()
    second = inb.Studio.rebuild(home)
    assert second.products_added == 0, second.summary()
    with inb.Studio(home=home) as studio:
        rows = studio.sql("select prompt, seed from gallery order by prompt")
    assert len(rows) == 3 and "fine" in set(rows.prompt)
