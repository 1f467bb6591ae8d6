"""The Studio facade: home, models, projects, collections, ratings, deletes, imports, gallery."""

from __future__ import annotations


import pytest
from PIL import Image, PngImagePlugin

import imagen_nb as inb


def test_home_comes_from_the_environment(home):
    with inb.Studio() as studio:
        assert studio.home == home
        assert (home / "catalog.duckdb").exists()


def test_a_relative_home_is_stored_as_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with inb.Studio("rel-home") as studio:
        product = studio.order("instant:swatch", prompt="p").wait(30).products[0]
    assert product.path.is_absolute() and str(product.path).startswith(str(tmp_path / "rel-home"))
    monkeypatch.chdir("/")
    assert product.path.exists()


def test_default_home_is_the_platform_user_data_dir(monkeypatch):
    import platformdirs

    from imagen_nb.studio import default_home

    monkeypatch.delenv("IMAGEN_NB_HOME")
    assert str(default_home()) == platformdirs.user_data_dir("imagen-nb", appauthor=False)


def test_models_lists_the_built_ins_with_their_kinds(studio):
    models = studio.models().set_index("id")
    assert list(studio.models().columns)[:5] == ["id", "provider", "type", "family", "description"]  # + capabilities
    assert models.loc["diffusers:tiny", "type"] == "text-to-image"
    assert models.loc["diffusers:tiny", "family"] == "stable-diffusion-1"
    assert "noise" in models.loc["diffusers:tiny", "description"]
    assert models.loc["instant:swatch", "provider"] == "instant"
    spec = studio.model("diffusers:tiny").spec
    assert spec["properties"]["width"]["multipleOf"] == 8


def test_closed_studio_says_how_to_go_on(studio):
    studio.close()
    with pytest.raises(inb.ImagenError, match="closed; open a new one"):
        studio.order("instant:swatch", prompt="x")


def test_projects_group_orders(studio):
    project = studio.project("cards", description="a deck")
    order = studio.order("instant:swatch", project="cards", prompt="card [1..3]").wait(30)
    project.order("instant:swatch", prompt="one more").wait(30)
    listing = studio.projects().set_index("name")
    assert listing.loc["cards", "orders"] == 2 and listing.loc["cards", "products"] == 4
    assert listing.loc["cards", "description"] == "a deck"
    assert set(studio.gallery(project="cards").prompt) == {"card 1", "card 2", "card 3", "one more"}
    assert studio.sql("select distinct project from gallery where order_id = ?", [order.id]).project[0] == "cards"
    project.update(name="deck").archive()
    assert "deck" not in set(studio.projects().name)
    assert studio.projects(include_archived=True).set_index("name").loc["deck", "status"] == "archived"
    project.unarchive()
    assert project.status == "active" and project.name == "deck"
    with pytest.raises(LookupError, match="Did you mean 'deck'"):
        studio.project("dek", create=False)


def test_collections_ratings_and_soft_delete_with_undo(studio):
    a, b, c = studio.order("instant:swatch", prompt="[a,b,c]").wait(30).products
    favourites = studio.collection("favourites")
    assert favourites.add([a, b.id]) == 2
    assert favourites.add(a) == 0  # already there
    assert [p.id for p in favourites.products] == [a.id, b.id]
    assert favourites.remove(a) == 1
    assert favourites.product_ids == [b.id]
    with pytest.raises(LookupError, match="no product"):
        favourites.add("nope")

    assert studio.rate([a, c], 4) == 2
    assert studio.product(a.id).rating == 4
    assert list(studio.gallery(min_rating=4).product_id.sort_values()) == sorted([a.id, c.id])
    with pytest.raises(inb.ValidationError, match="1 to 5"):
        studio.rate(a, 6)

    assert studio.delete(b) == 1
    assert b.id not in set(studio.gallery().product_id)
    assert favourites.product_ids == []
    assert b.path.exists()  # soft: the file stays
    assert studio.delete(b, undo=True) == 1
    assert b.id in set(studio.gallery().product_id)
    assert studio.gallery(collection="favourites").product_id.tolist() == [b.id]


def test_gallery_pages_newest_first_and_filters(studio):
    studio.order("instant:swatch", prompt="old [1..3]").wait(30)
    newer = studio.order("instant:swatch", prompt="new fox [1..3]").wait(30)
    whole = studio.gallery(limit=100)
    assert list(whole.created_at) == sorted(whole.created_at, reverse=True)
    assert set(whole.prompt[:3]) == {"new fox 1", "new fox 2", "new fox 3"}  # newest order first
    pages = [studio.gallery(limit=2, offset=o) for o in (0, 2, 4)]
    assert [pid for page in pages for pid in page.product_id] == list(whole.product_id)
    assert set(studio.gallery(text="FOX").order_id) == {newer.id}
    assert len(studio.gallery(model="instant:swatch", limit=100)) == 6
    with pytest.raises(ValueError, match="unknown gallery filter"):
        studio.gallery(colour="red")


def test_gallery_counts_groups_and_generations(studio):
    cats = studio.order("instant:swatch", project="cats", prompt="cat [1..3]").wait(30)
    loose = studio.order("instant:swatch", prompt="loose [1,2]").wait(30)
    a, b = loose.products
    studio.collection("picks").add([a, cats.products[0]])
    studio.collection("best").add(a)

    assert studio.gallery_count() == 5
    assert studio.gallery_count(text="CAT") == 3
    assert studio.gallery_count(no_project=True) == 2
    assert studio.gallery_count(no_collection=True, no_project=False) == 3
    assert set(studio.gallery(ids=[a.id, b.id, "nope"]).product_id) == {a.id, b.id}

    by_project = studio.views.gallery_groups("project")
    assert list(by_project.label) == ["cats", None] and list(by_project.products) == [3, 2]
    assert by_project.key[0] == studio.project("cats").id and by_project.key[1] is None
    by_collection = studio.views.gallery_groups("collection").set_index("label", drop=False)
    assert by_collection.loc["picks", "products"] == 2 and by_collection.loc["best", "products"] == 1
    assert by_collection.key.iloc[-1] is None and by_collection.products.iloc[-1] == 3  # in no collection
    assert studio.views.gallery_groups("kind", text="loose").set_index("key").products.to_dict() == {"image": 2}
    with pytest.raises(ValueError, match="cannot group"):
        studio.views.gallery_groups("colour")

    gen = studio.generation(a.generation_id)
    assert gen["order_id"] == loose.id and gen["params"]["prompt"] == "loose 1"
    assert gen["actual_params"]["width"] == 64 and gen["return_params"]["seed"] == a.seed
    with pytest.raises(LookupError, match="no generation"):
        studio.generation("nope")


def a1111_png(path, text: str, size=(96, 64)):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", size, (10, 20, 30)).save(path, pnginfo=info)
    return path


def test_import_reads_sizes_and_embedded_parameters(studio, tmp_path):
    png = a1111_png(tmp_path / "from_a1111.png",
                    "a castle, at dusk\nNegative prompt: blurry\n"
                    "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123, Size: 96x64, Model: sd15")
    jpg = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), "red").save(jpg)
    generated = studio.order("instant:swatch", prompt="made here", seed=5).wait(30).products[0]
    again = tmp_path / "again.png"
    again.write_bytes(generated.read_bytes())

    imported = studio.import_products([png, jpg, again], project="imports")
    assert [(p.width, p.height) for p in imported] == [(96, 64), (40, 30), (64, 64)]
    assert all(p.source == "imported" and p.path.exists() for p in imported)
    row = studio.sql("select prompt, negative_prompt, seed, num_inference_steps, guidance_scale, project "
                     "from gallery where product_id = ?", [imported[0].id]).iloc[0]
    assert (row.prompt, row.negative_prompt, row.seed, row.num_inference_steps, row.guidance_scale,
            row.project) == ("a castle, at dusk", "blurry", 123, 20, 7.0, "imports")
    assert imported[2].params["prompt"] == "made here" and imported[2].params["seed"] == 5
    assert imported[1].params is None


def test_import_checks_every_file_before_copying_any(studio, tmp_path):
    good = a1111_png(tmp_path / "good.png", "ok\nSteps: 1, Seed: 1")
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    with pytest.raises(inb.ValidationError, match="notes.txt"):
        studio.import_products([good, bad])
    with pytest.raises(inb.ValidationError, match="missing.png"):
        studio.import_products([tmp_path / "missing.png"])
    assert studio.sql("select count(*) as n from products").n[0] == 0


def _home_files(studio):
    return sorted(p for p in (studio.home / "products").rglob("*") if p.is_file()) + sorted(
        p for p in (studio.home / "thumbs").rglob("*") if p.is_file())


@pytest.mark.parametrize("seed", ["2**70", "abc", "1e23"])
def test_import_drops_a_seed_the_catalog_cannot_hold_with_a_warning(studio, tmp_path, seed):
    text = f"a castle\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: {seed}, Size: 96x64"
    if seed == "2**70":
        text = text.replace("2**70", str(2**70))
    png = a1111_png(tmp_path / "odd seed.png", text)
    with pytest.warns(inb.MetadataWarning, match=r"odd seed\.png: seed .* dropped"):
        (product,) = studio.import_products([png])
    row = studio.sql("select prompt, seed, num_inference_steps from gallery").iloc[0]
    assert (row.prompt, row.num_inference_steps) == ("a castle", 20) and row.seed != row.seed  # NULL
    assert "seed" not in product.params


def test_a_failed_import_leaves_no_file_and_no_row(studio, tmp_path, monkeypatch):
    from imagen_nb.catalog import products as q_products

    files = [a1111_png(tmp_path / f"{i}.png", f"p{i}\nSteps: 1, Seed: {i}", size=(300, 200)) for i in range(3)]
    real_write, calls = studio.store.write, []

    def write_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(studio.store, "write", write_then_fail)
    with pytest.raises(OSError, match="No space"):
        studio.import_products(files)
    assert _home_files(studio) == [] and studio.sql("select count(*) as n from products").n[0] == 0

    monkeypatch.setattr(studio.store, "write", real_write)
    real_insert = q_products.insert_products

    def insert_then_fail(cur, rows):
        real_insert(cur, rows[:1])
        raise RuntimeError("catalog went away")

    monkeypatch.setattr(q_products, "insert_products", insert_then_fail)
    with pytest.raises(RuntimeError, match="catalog went away"):
        studio.import_products(files)
    assert _home_files(studio) == [] and studio.sql("select count(*) as n from products").n[0] == 0


def test_import_refuses_a_truncated_png_and_imports_nothing(studio, tmp_path):
    good = a1111_png(tmp_path / "good.png", "ok\nSteps: 1, Seed: 1")
    whole = a1111_png(tmp_path / "whole.png", "ok\nSteps: 1, Seed: 1", size=(300, 200)).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole[: len(whole) - 200])
    with pytest.raises(inb.ValidationError, match="cut.png does not decode"):
        studio.import_products([good, cut])
    assert _home_files(studio) == [] and studio.sql("select count(*) as n from products").n[0] == 0


def test_a_collection_is_stored_with_its_first_products(studio):
    """``collection('c1').add(['nope'])`` raises and leaves no empty 'c1' behind."""
    with pytest.raises(LookupError, match="nope"):
        studio.collection("c1").add(["nope"])
    assert studio.collections().empty
    with pytest.raises(LookupError, match="no collection 'c1'"):
        studio.collection("c1", create=False)
    (a,) = studio.order("instant:swatch", prompt="a").wait(30).products
    first, second = studio.collection("c1"), studio.collection("c1")
    assert first.product_ids == [] and first.remove(a) == 0
    assert first.add(a) == 1 and second.add(a) == 0  # one collection, however many handles
    assert second.id == first.id and list(studio.collections().name) == ["c1"]


def test_trash_lists_and_empties(studio):
    store = studio.store
    from datetime import datetime, timezone

    store.move_to_trash(store.write("0" * 26, b"left by a crash", "png", datetime.now(timezone.utc)).path)
    listed = studio.trash()
    assert list(listed.columns) == ["path", "size", "modified"] and listed["size"].tolist() == [15]
    assert studio.empty_trash() == 1 and studio.trash().empty


def test_paused_is_none_while_the_queue_runs(studio):
    assert studio.paused is None
