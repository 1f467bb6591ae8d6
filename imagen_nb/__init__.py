"""imagen-nb: a Jupyter-native workbench for generative image models.

>>> import imagen_nb as inb
>>> studio = inb.Studio()
>>> order = studio.order("diffusers:tiny", prompt="a [brown,black] [cat,dog]", seed="[1,2]")
>>> order.wait().products
"""

from .core.errors import (
    CatalogBusy,
    GenerationCancelled,
    ImagenError,
    OrderTooLarge,
    ProviderError,
    RateLimited,
    SmartParameterError,
    SqlError,
    SqlRefused,
    SqlTimeout,
    UnknownModelError,
    ValidationError,
)
from .core.smart import expand
from .handles import Collection, Order, Product, Project
from .studio import Studio

__version__ = "0.1.0"

__all__ = [
    "CatalogBusy", "Collection", "GenerationCancelled", "ImagenError", "Order", "OrderTooLarge", "Product",
    "Project", "ProviderError", "RateLimited", "SmartParameterError", "SqlError", "SqlRefused", "SqlTimeout", "Studio",
    "UnknownModelError", "ValidationError", "expand",
]
