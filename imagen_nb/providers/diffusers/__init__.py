"""The built-in ``diffusers`` provider (torch and diffusers are imported only when a model runs)."""

import logging

from .provider import DiffusersProvider

# transformers 5 warns on stderr that its CLIP/Siglip image processors fall back to PIL when
# torchvision is missing. We never use those processors (no safety checker, no feature
# extractor) and torchvision has no CPU build here: the warning would only alarm notebook users.
logging.getLogger("transformers.utils.import_utils").setLevel(logging.ERROR)

__all__ = ["DiffusersProvider"]
