"""Backups and restores with real DuckDB files: consistent while work goes on, never overwriting a
working catalog unasked, never deleting the catalog they replace."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest

import imagen_nb as inb
from imagen_nb.catalog import checkpoints
from imagen_nb.cli import main
from imagen_nb.core.errors import CatalogBusy, ImagenError


def test_backup_while_an_order_runs_is_consistent_and_lists_every_file(home, tmp_path):
    with inb.Studio(home) as studio:
        first = studio.order("instant:swatch", prompt="first [1..4]", seed=1).wait(60)
        studio.rate(first.products[0], 3)
        running = studio.order("instant:swatch", prompt="busy [1..40]", seed=2, num_inference_steps=3,
                               step_seconds=0.01)
        report = studio.backup(tmp_path / "backup")
        running.wait(60)
    backup = tmp_path / "backup"
    assert checkpoints.is_good(backup / "catalog.duckdb")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert report.products == len(manifest["products"]) >= 4
    for entry in manifest["products"]:
        data = (home / entry["path"]).read_bytes()
        assert not entry["path"].startswith("/")
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    con = duckdb.connect(str(backup / "catalog.duckdb"), read_only=True)
    try:
        # One moment of the catalog: every order's counts agree with its generations' statuses.
        rows = con.execute("""SELECT o.complete_count, count(g.id) FILTER (WHERE g.status = 'complete')
                              FROM orders o JOIN generations g ON g.order_id = o.id
                              WHERE o.status = 'fulfilled' GROUP BY o.id, o.complete_count""").fetchall()
        assert rows and all(a == b for a, b in rows)
        assert con.execute("SELECT count(*) FROM products WHERE rating = 3").fetchone()[0] == 1
    finally:
        con.close()


def test_backup_never_overwrites(home, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with inb.Studio(home) as studio:
        with pytest.raises(ImagenError, match="not an empty folder"):
            studio.backup(tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_restore_refuses_a_working_catalog_unless_forced_and_keeps_it(home, tmp_path):
    with inb.Studio(home) as studio:
        made = studio.order("instant:swatch", prompt="kept [1..3]", seed=1).wait(60).products
        studio.rate(made[0], 5)
        studio.backup(tmp_path / "backup")
        studio.rate(made[0], 1)  # a change after the backup
        with pytest.raises(CatalogBusy, match="close it first"):
            inb.Studio.restore(tmp_path / "backup", home, force=True)  # not under a live studio
    live = (home / "catalog.duckdb").read_bytes()
    with pytest.raises(ImagenError, match=r"force=True.*--force"):
        inb.Studio.restore(tmp_path / "backup", home)
    assert (home / "catalog.duckdb").read_bytes() == live  # refused before touching anything

    report = inb.Studio.restore(tmp_path / "backup", home, force=True)
    assert report.moved_aside.read_bytes() == live and "replaced" in report.moved_aside.name
    assert report.products == 3 and not report.missing and not report.changed
    with inb.Studio(home) as studio:
        assert studio.product(made[0].id).rating == 5
        assert studio.gallery_count() == 3 and not studio.recovery


def test_restore_into_a_new_home_reports_files_the_manifest_misses(home, tmp_path):
    with inb.Studio(home) as studio:
        made = studio.order("instant:swatch", prompt="moved [1..3]", seed=1).wait(60).products
        studio.backup(tmp_path / "backup")
    other = tmp_path / "other-home"
    # the products copied along, but one got lost and one changed on the way
    import shutil

    shutil.copytree(home / "products", other / "products")
    lost = other / made[0].path.relative_to(home)
    lost.unlink()
    changed = other / made[1].path.relative_to(home)
    changed.write_bytes(changed.read_bytes() + b"x")
    report = inb.Studio.restore(tmp_path / "backup", other)
    assert report.moved_aside is None
    assert report.missing == [made[0].path.relative_to(home).as_posix()]
    assert report.changed == [made[1].path.relative_to(home).as_posix()]
    with inb.Studio(other) as studio:
        assert studio.product(made[2].id).read_bytes() == made[2].read_bytes()
        assert studio.recovery.missing_files == [made[0].id]  # reported, not invented


def test_restore_refuses_a_damaged_backup(home, tmp_path):
    with inb.Studio(home) as studio:
        studio.order("instant:swatch", prompt="x", seed=1).wait(60)
        studio.backup(tmp_path / "backup")
    (tmp_path / "backup" / "catalog.duckdb").write_bytes(b"")
    before = (home / "catalog.duckdb").read_bytes()
    with pytest.raises(ImagenError, match="does not read cleanly"):
        inb.Studio.restore(tmp_path / "backup", home, force=True)
    assert (home / "catalog.duckdb").read_bytes() == before


def test_cli_backup_and_restore(home, tmp_path, capsys):
    with inb.Studio(home) as studio:
        studio.order("instant:swatch", prompt="cli [1..2]", seed=1).wait(60)
    target = tmp_path / "cli-backup"
    assert main(["--home", str(home), "backup", str(target)]) == 0
    assert "2 product file(s)" in capsys.readouterr().out
    assert main(["--home", str(home), "restore", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert main(["--home", str(home), "restore", str(target), "--force"]) == 0
    assert "restored 2 product(s)" in capsys.readouterr().out
