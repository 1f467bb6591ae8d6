"""imagen-nb: a Jupyter-native workbench for generative image models.

>>> import imagen_nb as inb
>>> studio = inb.Studio()
>>> order = studio.order("diffusers:tiny", prompt="a [brown,black] [cat,dog]", seed="[1,2]")
>>> order.wait().products
"""

from .core.errors import (
    CatalogBusy,
    DiskFull,
    DiskFullWarning,
    DownloadCancelled,
    GenerationCancelled,
    ImagenError,
    MetadataWarning,
    OrderTooLarge,
    ProviderError,
    RateLimited,
    SettingsError,
    SmartParameterError,
    SqlError,
    SqlRefused,
    SqlTimeout,
    UnknownModelError,
    ValidationError,
)
from .core.grid import GridTooLarge
from .core.rows import RowsError
from .core.sets import SetRecipe
from .core.smart import expand
from .studio import Collection, Order, Product, Project
from .studio import Studio
from .studio.downloads import ModelImport
from .studio.grid import Grid
from .studio.rows import example_sets

__version__ = "0.1.0"

_PANELS = ("Gallery", "OrderPanel", "Production", "Projects", "StudioWidget")


def _studio_widget(studio: Studio):
    try:
        from .ui import StudioWidget
    except ImportError as exc:
        raise ImportError("the panels need the panel extra: pip install 'imagen-nb[panel]'") from exc
    return StudioWidget(studio)


Studio._widget_factory = staticmethod(_studio_widget)


def __getattr__(name: str):
    # The panels import anywidget: load them when first asked for, not with the package.
    if name in _PANELS:
        from . import ui

        return getattr(ui, name)
    raise AttributeError(f"module 'imagen_nb' has no attribute {name!r}")

__all__ = [
    "CatalogBusy", "Collection", "DiskFull", "DiskFullWarning", "DownloadCancelled", "GenerationCancelled", "Grid",
    "GridTooLarge", "ImagenError", "MetadataWarning", "ModelImport", "Order", "OrderTooLarge", "Product", "Project", "ProviderError",
    "RateLimited", "RowsError", "SetRecipe", "SettingsError", "SmartParameterError", "SqlError", "SqlRefused",
    "SqlTimeout", "Studio", "UnknownModelError", "ValidationError", "example_sets", "expand", *_PANELS,
]
