"""Drawing comparison grids: thumbnails in cells, axis titles and values, a legend (PIL)."""

from __future__ import annotations

import math
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..core.grid import MAX_SIDE, GridItem, GridLayout, fit_cell, label

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
MUTED = (110, 110, 110)
CELL_COLOURS = {"missing": (235, 235, 235), "pending": (222, 229, 240), "generating": (205, 220, 245),
                "failed": (250, 215, 215), "cancelled": (238, 232, 214)}
#: Above this many positions a lone x axis wraps into rows (a contact sheet with captions).
WRAP = 12


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _lines(draw: ImageDraw.ImageDraw, text: str, font, width: int, most: int) -> list[str]:
    """``text`` wrapped to ``width`` px, at most ``most`` lines (the last one cut with …)."""
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1] + " …"
    out = []
    for ln in lines:  # a single long word still has to fit
        while draw.textlength(ln, font=font) > width and len(ln) > 1:
            ln = ln[:-2] + "…"
        out.append(ln)
    return out


def _text_block(draw, xy, text, font, width, most, fill=INK, centre=True, line_h=None) -> None:
    x, y = xy
    line_h = line_h or font.size + 2
    for i, ln in enumerate(_lines(draw, text, font, width, most)):
        dx = (width - draw.textlength(ln, font=font)) / 2 if centre else 0
        draw.text((x + dx, y + i * line_h), ln, font=font, fill=fill)


def _cell(canvas: Image.Image, draw, box: tuple[int, int, int], items: Sequence[GridItem], font) -> None:
    x, y, size = box
    if not items:
        draw.rectangle([x, y, x + size - 1, y + size - 1], fill=CELL_COLOURS["missing"])
        draw.line([x, y + size - 1, x + size - 1, y], fill=(200, 200, 200))
        _text_block(draw, (x, y + size // 2 - font.size), "missing", font, size, 1, fill=MUTED)
        return
    item = items[0]
    drawn = False
    if item.status == "complete" and item.image:
        try:
            with Image.open(item.image) as im:
                im.draft("RGB", (size, size))
                im = ImageOps.contain(im.convert("RGB"), (size, size))  # small images are scaled up too
                canvas.paste(im, (x + (size - im.width) // 2, y + (size - im.height) // 2))
                drawn = True
        except OSError:
            pass
    if not drawn:
        status = item.status if item.status in CELL_COLOURS else ("missing" if item.status == "complete" else "pending")
        draw.rectangle([x, y, x + size - 1, y + size - 1], fill=CELL_COLOURS[status])
        word = {"generating": "running", "complete": "no file"}.get(item.status, item.status)
        _text_block(draw, (x, y + size // 2 - font.size), word, font, size, 1, fill=MUTED)
        if item.note:
            _text_block(draw, (x, y + size // 2 + 2), item.note, font, size, 2, fill=MUTED)
    if len(items) > 1:
        tag = f"+{len(items) - 1}"
        w = int(draw.textlength(tag, font=font)) + 6
        draw.rectangle([x + size - w, y, x + size - 1, y + font.size + 4], fill=(0, 0, 0))
        draw.text((x + size - w + 3, y + 1), tag, font=font, fill=(255, 255, 255))


def render(grid: GridLayout, *, cell: int = 160, max_side: int = MAX_SIDE, title: str = "") -> Image.Image:
    """Draw ``grid``: one block per z value (stacked), x values as column heads, y values as row
    heads, axis titles, and a legend of the fixed parameters. A lone x axis with many values
    wraps into rows with a caption under each cell.

    Cells are shrunk (down to :data:`~imagen_nb.core.grid.MIN_CELL`) so the image's longer side
    stays within ``max_side``; beyond that GridTooLarge is raised before anything is drawn.
    """
    nx, ny, nz = grid.size()
    wrap = grid.y is None and grid.z is None and nx > WRAP
    cols = math.ceil(math.sqrt(nx * 1.5)) if wrap else nx
    rows_per_block = math.ceil(nx / cols) if wrap else ny
    small = max(10, min(14, cell // 10))
    head_h = 0 if wrap or grid.x is None else 3 * (small + 2) + 8
    side_w = 0 if grid.y is None else 150
    caption_h = 2 * (small + 2) + 4 if wrap else 0
    z_h = 0 if grid.z is None else small + 12
    title_h = small + 14
    legend_h = 4 * (small + 2) + 10
    margin_x = side_w + 16
    margin_y = title_h + legend_h + nz * (head_h + z_h + rows_per_block * caption_h) + 16
    cell = fit_cell(cols, rows_per_block * nz, cell=cell, max_side=max_side, margin_x=margin_x, margin_y=margin_y)
    font = _font(max(9, min(small, cell // 8)))
    bold = _font(small + 2)
    width = margin_x + cols * cell
    block_h = z_h + head_h + rows_per_block * (cell + caption_h)
    height = title_h + nz * block_h + legend_h + 8
    canvas = Image.new("RGB", (max(width, 320), height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    axes = "   ".join(f"{w}: {a.name}" for w, a in (("x", grid.x), ("y", grid.y), ("z", grid.z)) if a is not None)
    draw.text((8, 6), f"{title}   {axes}".strip(), font=bold, fill=INK)
    top = title_h
    for zi in range(nz):
        if grid.z is not None:
            draw.text((8, top + 4), f"{grid.z.name} = {grid.z.labels[zi]}", font=bold, fill=INK)
            top += z_h
        if head_h:
            for xi in range(nx):
                _text_block(draw, (margin_x - 8 + xi * cell, top + 4), grid.x.labels[xi], font, cell, 3)  # type: ignore[union-attr]
            top += head_h
        for r in range(rows_per_block):
            if grid.y is not None:
                _text_block(draw, (8, top + r * cell + cell // 2 - font.size), grid.y.labels[r], font,
                            side_w - 12, 3, centre=False)
            for c in range(cols):
                xi, yi = (r * cols + c, 0) if wrap else (c, r)
                if xi >= nx:
                    continue
                x0 = margin_x - 8 + c * cell
                y0 = top + r * (cell + caption_h)
                _cell(canvas, draw, (x0 + 1, y0 + 1, cell - 2), grid.cells.get((zi, yi, xi), []), font)
                if wrap and grid.x is not None:
                    _text_block(draw, (x0, y0 + cell + 1), grid.x.labels[xi], font, cell, 2)
        top += rows_per_block * (cell + caption_h)
    fixed = ", ".join(f"{k}: {label(v, 40)}" for k, v in grid.fixed.items())
    if fixed:
        _text_block(draw, (8, top + 6), f"fixed: {fixed}", font, canvas.width - 16, 4, fill=MUTED, centre=False)
    return canvas
