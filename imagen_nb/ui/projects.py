"""The Projects panel's controller: project cards with counts and a sample thumbnail.

A card shows the project's name, description, how many orders and products it holds, when
it was last active, and the thumbnail of its best-rated (else newest) product as a binary
buffer. The page creates, renames, describes, archives and unarchives projects through the
Studio's handles (``studio.project(name)``, ``Project.update/archive/unarchive``); each
change answers with the changed card, so the page replaces one card, not the grid.

Counts follow the Studio's events: an order placed or finished, or a product made, asks for
a fresh ``cards`` push, at most every two seconds (card thumbnails are sent only when a
card's sample product changed).
"""

from __future__ import annotations

import threading
from typing import Any

from ..core.records import Event, OrderFinished, OrderQueued, ProductReady
from .bridge import Controller, PanelRequestError, Reply, need_id
from .jsonable import epoch, jsonable
from .thumbs import attach, product_thumb

#: longest project name accepted from the page (a card shows about 40 characters)
MAX_NAME = 120
#: longest description accepted from the page
MAX_DESCRIPTION = 4000


class ProjectsController(Controller):
    """Answers the Projects panel: cards, create, rename, describe, archive, unarchive.

    Requests (``ctx.call`` in the page) and their results:

    - ``init()`` / ``list(include_archived=False)`` → ``{projects: [Card], all: AllCard}``
    - ``create(name, description="")`` → ``Card``; a taken or empty name is an error at ``name``
    - ``rename(project_id, name)``, ``describe(project_id, description)``,
      ``archive(project_id)``, ``unarchive(project_id)`` → ``Card``

    Pushes: ``cards`` ``{projects: [Card], all: AllCard}`` when counts change (≤ 1 every 2 s).
    A card's ``thumb`` is the index of its thumbnail buffer (None without one).
    """

    name = "projects"
    #: counts change with every product; a card refresh every two seconds is plenty
    interval = 2.0

    def __init__(self, studio):
        super().__init__(studio)
        self._lock = threading.Lock()
        self._include_archived = False
        self._stale = False
        self._sent_samples: dict[str, str | None] = {}

    # -- requests --------------------------------------------------------------------------
    def rpc_init(self) -> Reply:
        """The active projects as cards, and the all-products card."""
        return self.rpc_list(include_archived=False)

    def rpc_list(self, include_archived: bool = False) -> Reply:
        """Every project's card (archived ones too when asked), newest activity first."""
        with self._lock:
            self._include_archived = bool(include_archived)
        return self._cards(thumbs_for=None)

    def rpc_create(self, name: str = "", description: str = "") -> Reply:
        """Create a project; its card (errors at ``name`` when empty or taken)."""
        name = self._name(name)
        description = self._description(description)
        existing = self.studio.projects(include_archived=True)
        taken = existing[existing["name"] == name]
        if len(taken):
            archived = taken.iloc[0]["status"] == "archived"
            raise PanelRequestError(
                f"a project called {name!r} exists already" + (" (archived: show archived projects to "
                                                               "find it)" if archived else ""), field="name")
        project = self.studio.project(name, description=description)
        return self._card(project.id)

    def rpc_rename(self, project_id: str, name: str = "") -> Reply:
        """Rename a project (an error at ``name`` when another project has that name)."""
        project = self._project(project_id)
        project.update(name=self._name(name))
        return self._card(project.id)

    def rpc_describe(self, project_id: str, description: str = "") -> Reply:
        """Set a project's description (empty clears it)."""
        project = self._project(project_id)
        project.update(description=self._description(description))
        return self._card(project.id)

    def rpc_archive(self, project_id: str) -> Reply:
        """Archive a project: hidden from the active cards, its orders and products stay."""
        project = self._project(project_id)
        project.archive()
        return self._card(project.id)

    def rpc_unarchive(self, project_id: str) -> Reply:
        """Make an archived project active again."""
        project = self._project(project_id)
        project.unarchive()
        return self._card(project.id)

    # -- live counts -----------------------------------------------------------------------
    def on_event(self, event: Event) -> bool:
        """Orders placed or finished and new products change the cards' counts."""
        if isinstance(event, (OrderQueued, OrderFinished, ProductReady)):
            with self._lock:
                self._stale = True
            return True
        return False

    def flush(self) -> None:
        """Push fresh cards; thumbnails only for cards whose sample product changed."""
        with self._lock:
            if not self._stale:
                return
            self._stale = False
        reply = self._cards(thumbs_for="changed")
        self.push("cards", reply.result, reply.buffers)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _name(name: Any) -> str:
        if not isinstance(name, str) or not name.strip():
            raise PanelRequestError("give the project a name", field="name")
        name = name.strip()
        if len(name) > MAX_NAME:
            raise PanelRequestError(f"a project name has at most {MAX_NAME} characters", field="name")
        return name

    @staticmethod
    def _description(description: Any) -> str:
        if description is None:
            return ""
        if not isinstance(description, str):
            raise PanelRequestError("a description is text", field="description")
        if len(description) > MAX_DESCRIPTION:
            raise PanelRequestError(f"a description has at most {MAX_DESCRIPTION} characters", field="description")
        return description.strip()

    def _project(self, project_id: Any):
        need_id(project_id, "project_id", "which project? (no project id given)")
        rows = self.studio.projects(include_archived=True)
        row = rows[rows["id"] == project_id]
        if not len(row):
            raise PanelRequestError("this project no longer exists; reload the list", field="project_id")
        return self.studio.project(row.iloc[0]["name"], create=False)

    def _card(self, project_id: str) -> Reply:
        rows = self.studio.projects(include_archived=True)
        row = rows[rows["id"] == project_id]
        reply = Reply()
        reply.result = self._card_json(row.iloc[0].to_dict(), reply, with_thumb=True)
        return reply

    def _card_json(self, row: dict, reply: Reply, *, with_thumb: bool) -> dict:
        sample = jsonable(row.get("sample_product_id"))
        card = {
            "id": row["id"], "name": row["name"], "description": row["description"] or "",
            "status": row["status"], "orders": int(row["orders"]), "products": int(row["products"]),
            "last_activity": epoch(row.get("last_activity")), "sample_product_id": sample,
            "thumb": None, "thumb_type": None,
        }
        if with_thumb:
            self._sent_samples[row["id"]] = sample
            if sample:
                self._add_thumb(card, sample, reply)
        return card

    def _add_thumb(self, card: dict, product_id: str, reply: Reply) -> None:
        products = self.studio.products([product_id])
        attach(reply, card, product_thumb(products[0]) if products else None)

    def _cards(self, thumbs_for: str | None) -> Reply:
        """All cards; ``thumbs_for="changed"`` sends thumbnails only for changed samples."""
        with self._lock:
            include_archived = self._include_archived
        reply = Reply()
        cards = []
        for row in self.studio.projects(include_archived=include_archived).to_dict("records"):
            sample = jsonable(row.get("sample_product_id"))
            with_thumb = thumbs_for is None or self._sent_samples.get(row["id"], "") != sample
            cards.append(self._card_json(row, reply, with_thumb=with_thumb))
        return Reply({"projects": cards, "all": self._all_card(reply, thumbs_for)}, reply.buffers)

    def _all_card(self, reply: Reply, thumbs_for: str | None) -> dict:
        newest = self.studio.gallery(limit=1)
        sample = newest.iloc[0]["product_id"] if len(newest) else None
        card = {
            "products": int(self.studio.gallery_count()),
            "unassigned": int(self.studio.gallery_count(no_project=True)),
            "last_activity": epoch(newest.iloc[0]["created_at"]) if len(newest) else None,
            "sample_product_id": sample, "thumb": None, "thumb_type": None,
        }
        if sample and (thumbs_for is None or self._sent_samples.get("*all*", "") != sample):
            self._sent_samples["*all*"] = sample
            self._add_thumb(card, sample, reply)
        return card
