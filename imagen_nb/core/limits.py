"""Size limits on text that comes from files and goes to the catalog and the panels.

An image file is untrusted input: its metadata can hold a megabyte-long prompt, a compressed
text chunk that inflates a thousandfold, or JSON nested a hundred thousand levels deep. These
limits keep one hostile file from stalling the process, exhausting its memory, or making every
Gallery page slow. Real metadata stays far below them: an A1111 infotext is a few kilobytes.
"""

from __future__ import annotations

MAX_TEXT_CHUNK_BYTES = 1024 * 1024
"""Most bytes of metadata text read from one image: a PNG ``tEXt``/``zTXt``/``iTXt`` chunk
(after decompression, which stops there) or an EXIF UserComment. Longer text is ignored with a
warning. The same as Pillow's ``PngImagePlugin.MAX_TEXT_CHUNK``, which makes Pillow refuse to
open a PNG whose compressed text inflates past it."""

MAX_PROMPT_CHARS = 32_768
"""Most characters of a prompt or negative prompt the catalog stores in its ``prompt`` and
``negative_prompt`` columns (and, for imported files, in ``params``); longer text is cut there.
CLIP-based models read 77 tokens (A1111 chunks them, still rarely past a few thousand
characters), so this only ever cuts text that could not be a working prompt."""

MAX_PARAMS_JSON_BYTES = 256 * 1024
"""Most bytes of parameter JSON an imported file may bring into the catalog; beyond it the
largest values are dropped with a warning."""

MAX_PARAMS_DEPTH = 32
"""Deepest nesting of lists and objects kept from a file's parameter JSON."""

MAX_IMPORT_PIXELS = 89_478_485
"""Most pixels (width × height) of an image imported from a file: Pillow's default
``Image.MAX_IMAGE_PIXELS``, past which it warns of a decompression bomb. Decoding such an image
takes up to four bytes a pixel (about 360 MB at this limit)."""
