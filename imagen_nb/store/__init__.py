"""Product files on disk: atomic writes, thumbnails, parameters inside PNGs, imports.

Imports only :mod:`imagen_nb.core`, the standard library and Pillow; the catalog records
what this layer writes, never the other way round.
"""

from imagen_nb.store.files import TEMP_PREFIX, ProductStore, StoredFile, media_type_of
from imagen_nb.store.imports import ImportedFile, inspect_file
from imagen_nb.store.pngmeta import embed, infotext, parse_infotext, read
from imagen_nb.store.thumbs import THUMB_SIZE, image_size, thumbnail

__all__ = [
    "TEMP_PREFIX",
    "THUMB_SIZE",
    "ImportedFile",
    "ProductStore",
    "StoredFile",
    "embed",
    "image_size",
    "infotext",
    "inspect_file",
    "media_type_of",
    "parse_infotext",
    "read",
    "thumbnail",
]
