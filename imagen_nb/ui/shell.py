"""The Studio widget's own controller: the tab bar and navigation between panels."""

from __future__ import annotations

from importlib.metadata import version

from .bridge import Controller, PanelRequestError

#: the Studio widget's tabs, left to right
TABS = ("projects", "order", "production", "gallery")


class ShellController(Controller):
    """Answers the tab shell's requests and moves it to a tab when Python asks."""

    name = "studio"

    def rpc_init(self) -> dict:
        """What the tab bar shows on mount: the Studio's home, imagen-nb's version and the tabs."""
        return {"home": str(self.studio.home), "version": version("imagen-nb"), "tabs": list(TABS)}

    def navigate(self, tab: str, payload: dict) -> None:
        """Show ``tab`` with ``payload`` (``project`` may be a name; it is sent as ``project_id``)."""
        if tab not in TABS:
            raise PanelRequestError(f"no tab {tab!r}; choose one of {', '.join(TABS)}", field="tab")
        payload = dict(payload)
        project = payload.pop("project", None)
        if project is not None:
            payload["project_id"] = getattr(project, "id", None) or self.studio.project(project, create=False).id
        product = payload.pop("product", None)
        if product is not None:
            payload["product_id"] = getattr(product, "id", product)
        order = payload.pop("order", None)
        if order is not None:
            payload["order_id"] = getattr(order, "id", order)
        self.push("navigate", {"tab": tab, "payload": payload})
