"""The Projects panel's messages: cards with counts and thumbnails, create, rename, describe, archive."""

from __future__ import annotations

import pytest

from imagen_nb.ui.projects import ProjectsController


def _cards(result) -> dict:
    return {c["name"]: c for c in result["projects"]}


def test_init_lists_active_projects_as_cards_with_counts_and_a_sample_thumbnail(studio, page):
    cats = studio.project("cats", description="whiskers")
    studio.project("empty")
    order = cats.order("instant:swatch", prompt="cat [1..3]").wait(30)
    best = order.products[1]
    studio.rate(best, 5)
    studio.order("instant:swatch", prompt="no project").wait(30)

    result, bufs = page(ProjectsController(studio)).call_with_buffers("init")
    cards = _cards(result)
    assert set(cards) == {"cats", "empty"}
    card = cards["cats"]
    assert (card["orders"], card["products"], card["description"], card["status"]) == (3 - 2, 3, "whiskers", "active")
    assert card["last_activity"] > 0
    # the best-rated product is the sample, its thumbnail bytes travel as a buffer
    assert card["sample_product_id"] == best.id
    assert bufs[card["thumb"]] == best.thumb_path.read_bytes()
    assert card["thumb_type"] == {".webp": "image/webp", ".png": "image/png"}[best.thumb_path.suffix]
    assert cards["empty"]["thumb"] is None and cards["empty"]["products"] == 0
    # the all-products card counts every product and those without a project
    assert (result["all"]["products"], result["all"]["unassigned"]) == (4, 1)
    newest = studio.gallery(limit=1).iloc[0]
    assert result["all"]["sample_product_id"] == newest.product_id
    assert bufs[result["all"]["thumb"]] == open(newest.thumb_path, "rb").read()


def test_create_rename_describe_archive_unarchive_round_trips(studio, page):
    p = page(ProjectsController(studio))
    created = p.call("create", name="  deck ", description="54 cards")
    assert created["name"] == "deck" and created["description"] == "54 cards" and created["orders"] == 0
    listing = studio.projects().set_index("name")
    assert listing.loc["deck", "description"] == "54 cards"

    renamed = p.call("rename", project_id=created["id"], name="card deck")
    assert renamed["name"] == "card deck" and studio.project("card deck", create=False).id == created["id"]
    described = p.call("describe", project_id=created["id"], description="a full deck")
    assert described["description"] == "a full deck"
    assert studio.projects().set_index("name").loc["card deck", "description"] == "a full deck"

    archived = p.call("archive", project_id=created["id"])
    assert archived["status"] == "archived"
    assert "card deck" not in set(studio.projects().name)
    assert p.call("list")["projects"] == []
    shown = _cards(p.call("list", include_archived=True))
    assert shown["card deck"]["status"] == "archived"

    assert p.call("unarchive", project_id=created["id"])["status"] == "active"
    assert studio.projects().set_index("name").loc["card deck", "status"] == "active"


def test_errors_show_at_the_name_field(studio, page):
    p = page(ProjectsController(studio))
    p.call("create", name="cats")
    taken = p.error("create", name="cats")
    assert taken["field"] == "name" and "exists already" in taken["message"]
    assert p.error("create", name="   ")["field"] == "name"
    dogs = p.call("create", name="dogs")
    assert p.error("rename", project_id=dogs["id"], name="cats")["field"] == "name"
    p.call("archive", project_id=dogs["id"])
    archived = p.error("create", name="dogs")
    assert archived["field"] == "name" and "archived" in archived["message"]
    assert p.error("archive", project_id="nope")["field"] == "project_id"
    assert len(studio.projects(include_archived=True)) == 2


def test_counts_follow_orders_as_a_push(studio, page):
    p = page(ProjectsController(studio))
    p.call("init")
    studio.project("live")
    studio.order("instant:swatch", project="live", prompt="[a,b]").wait(30)
    pushed = p.wait_for(lambda pg: [c for d in pg.pushes("cards") for c in d["projects"]
                                    if c["name"] == "live" and c["products"] == 2])
    assert pushed[-1]["orders"] == 1 and pushed[-1]["sample_product_id"]


@pytest.mark.parametrize("method", ["rename", "describe", "archive", "unarchive"])
def test_every_change_needs_a_project(studio, page, method):
    assert page(ProjectsController(studio)).error(method)["type"] == "TypeError"
