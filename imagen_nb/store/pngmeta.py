"""Generation parameters inside image files: the A1111 "infotext" and our own JSON chunk.

A PNG written by imagen-nb carries two text chunks:

- ``parameters``: the A1111 infotext (prompt, ``Negative prompt: …``, ``Steps: …, Sampler: …``)
  that AUTOMATIC1111, ComfyUI, Civitai and most image browsers read;
- ``imagen_nb``: JSON ``{"model": …, "params": {…}, …extra}`` with the exact parameter set.

:func:`read` prefers ``imagen_nb`` (exact types and values) and falls back to ``parameters``
(or an EXIF UserComment in JPEG/WEBP) for files made by other tools.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from os import PathLike
from typing import Any, BinaryIO, Mapping

from PIL import Image

from imagen_nb.store.thumbs import _DECODE_ERRORS

PARAMETERS_KEY = "parameters"
"""PNG text keyword of the A1111 infotext."""
IMAGEN_NB_KEY = "imagen_nb"
"""PNG text keyword of imagen-nb's JSON."""

MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
"""Media type of each Pillow format name imagen-nb handles."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")
_OUR_KEYWORDS = (PARAMETERS_KEY.encode(), IMAGEN_NB_KEY.encode())

# Our diffusers names and the infotext keys A1111 uses for them, in A1111's order.
_SCALAR_KEYS = (
    ("num_inference_steps", "Steps"),
    ("scheduler", "Sampler"),
    ("guidance_scale", "CFG scale"),
    ("seed", "Seed"),
)
# Parameters that have their own place in the infotext and are not repeated as "Key: value".
_PLACED = frozenset({"prompt", "negative_prompt", "width", "height", "model"} | {n for n, _ in _SCALAR_KEYS})
_NEGATIVE = "Negative prompt:"

# One "Key: value" of the last line, A1111's pattern (modules/infotext_utils.py) widened to
# one-letter keys and empty quoted strings: a value is either a JSON string in double quotes
# (it may contain commas) or runs to the next comma.
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_PARAMS_LINE_RE = re.compile(r'(?:\s*\w[\w \-/]*:\s*(?:"(?:\\.|[^\\"])*"|[^,]*)(?:,|$))+')
_KNOWN_KEYS = frozenset({"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model"})


# ---- infotext --------------------------------------------------------------------------------


def infotext(params: Mapping[str, Any], model: str) -> str:
    """Write ``params`` as an A1111 infotext.

    Line 1 (and following, for multi-line prompts) is the prompt; then
    ``Negative prompt: …`` when there is one; the last line is
    ``Steps: N, Sampler: X, CFG scale: G, Seed: S, Size: WxH, Model: M`` followed by the
    other scalar parameters as ``Key: value`` (``clip_skip`` → ``Clip skip``). Absent and
    ``None`` values are left out, and so are lists and mappings (they live in the JSON chunk).
    Values containing ``,``, ``:``, ``"`` or a newline are written as JSON strings, as A1111 does.

    Args:
        params: generation parameters under diffusers' names.
        model: the model id (``diffusers:tiny``), written as ``Model``.
    """
    lines = [_text(params.get("prompt"))]
    negative = params.get("negative_prompt")
    if negative not in (None, ""):
        lines.append(f"{_NEGATIVE} {negative}")
    fields: list[tuple[str, Any]] = [(key, params.get(name)) for name, key in _SCALAR_KEYS]
    width, height = params.get("width"), params.get("height")
    if width is not None and height is not None:
        fields.append(("Size", f"{width}x{height}"))
    else:
        # Only one side known: keep it rather than lose it, under its own name.
        fields += [("Width", width), ("Height", height)]
    fields.append(("Model", model or None))
    used = {key for key, _ in fields}
    for name, value in params.items():
        key = _display_key(name)
        if name in _PLACED or key in used:
            continue
        used.add(key)
        fields.append((key, value))
    lines.append(
        ", ".join(
            f"{key}: {_quote(value)}"
            for key, value in fields
            if value is not None and isinstance(value, (str, int, float))
        )
    )
    return "\n".join(lines)


def parse_infotext(text: str) -> dict[str, Any]:
    """Read an A1111 infotext back into our names.

    Returns a dict with ``prompt`` (always), and when present ``negative_prompt``,
    ``num_inference_steps`` (int), ``guidance_scale`` (float), ``seed`` (int), ``width`` and
    ``height`` (ints from ``Size``), ``scheduler`` (the ``Sampler``), ``model``, and every other
    key in snake case (``Model hash`` → ``model_hash``) with its value as a string.
    Accepts infotexts of other tools: multi-line prompts, CRLF line ends, quoted values with
    commas. A value that does not convert (``Seed: -1x``) is kept as a string.

    The prompt and negative prompt are stripped of surrounding whitespace, as A1111 does;
    the JSON chunk keeps them exactly.
    """
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    fields: list[tuple[str, str]] = []
    if _is_params_line(lines[-1]):
        fields = _PARAM_RE.findall(lines.pop())
    prompt: list[str] = []
    negative: list[str] | None = None
    for line in lines:
        if negative is None and line.startswith(_NEGATIVE):
            negative = [line[len(_NEGATIVE) :].removeprefix(" ")]
        elif negative is not None:
            negative.append(line)
        else:
            prompt.append(line)
    out: dict[str, Any] = {"prompt": "\n".join(prompt).strip()}
    if negative is not None:
        out["negative_prompt"] = "\n".join(negative).strip()
    others: dict[str, str] = {}
    for key, raw in fields:
        value = _unquote(raw.strip())
        if key == "Steps":
            out["num_inference_steps"] = _convert(int, value)
        elif key == "Sampler":
            out["scheduler"] = value
        elif key == "CFG scale":
            out["guidance_scale"] = _convert(float, value)
        elif key == "Seed":
            out["seed"] = _convert(int, value)
        elif key == "Size" and re.fullmatch(r"\d+x\d+", value):
            width, height = value.split("x")
            out["width"], out["height"] = int(width), int(height)
        elif key == "Model":
            out["model"] = value
        elif key in ("Width", "Height"):
            out[key.lower()] = _convert(int, value)
        else:
            others.setdefault(_snake_key(key), value)
    # Other keys never override the ones above (a tool may write e.g. its own "Prompt: …").
    for name, value in others.items():
        out.setdefault(name, value)
    return out


def _is_params_line(line: str) -> bool:
    # A1111 needs three "Key: value" pairs; ours may have fewer (only a model), so a line made
    # of nothing but pairs that names one of the standard keys counts as well.
    pairs = _PARAM_RE.findall(line)
    if len(pairs) >= 3:
        return True
    return bool(pairs) and _PARAMS_LINE_RE.fullmatch(line) is not None and any(k in _KNOWN_KEYS for k, _ in pairs)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _quote(value: Any) -> str:
    text = str(value)
    if any(c in text for c in ',:"\n') or text != text.strip():
        return json.dumps(text, ensure_ascii=False)
    return text


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _convert(kind, value: str):
    try:
        return kind(value)
    except ValueError:
        return value


def _display_key(name: str) -> str:
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def _snake_key(key: str) -> str:
    return re.sub(r"\W+", "_", key.strip().lower())


# ---- PNG chunks ------------------------------------------------------------------------------


def embed(
    png_bytes: bytes,
    params: Mapping[str, Any],
    model: str,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """Return ``png_bytes`` with the ``parameters`` infotext and ``imagen_nb`` JSON chunks added.

    The pixels are not re-encoded: the two text chunks are spliced in before the first IDAT
    (where Pillow's lazy ``Image.open().info`` and other tools read them without decoding), with
    their CRCs computed. Existing ``parameters``/``imagen_nb`` chunks are replaced. Text that is
    not Latin-1 goes in an uncompressed UTF-8 ``iTXt`` chunk, otherwise in ``tEXt``.

    Args:
        png_bytes: a complete PNG file.
        params: the generation parameters under diffusers' names; must be JSON-serialisable
            (numpy scalars are converted).
        model: the model id, e.g. ``diffusers:tiny``.
        extra: more top-level JSON keys, e.g. ``generation_id`` and ``order_id``.

    Raises:
        ValueError: ``png_bytes`` is not a PNG, or ``extra`` uses the keys ``model``/``params``.
    """
    if png_bytes[:8] != _PNG_SIGNATURE:
        raise ValueError("embed() needs PNG bytes; other formats keep their parameters in the catalog only")
    extra = dict(extra or {})
    if "model" in extra or "params" in extra:
        raise ValueError("extra must not contain the keys 'model' or 'params'; pass them as arguments")
    payload = {"model": model, "params": dict(params), **extra}
    chunks = _text_chunk(PARAMETERS_KEY, infotext(params, model)) + _text_chunk(
        IMAGEN_NB_KEY, json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    )
    parts: list[bytes] = []
    kept_from = 8
    inserted = False
    for start, end, ctype in _walk(png_bytes):
        if ctype in _TEXT_CHUNKS and _keyword(png_bytes, start) in _OUR_KEYWORDS:
            parts.append(png_bytes[kept_from:start])
            kept_from = end
        elif not inserted and ctype in (b"IDAT", b"IEND"):
            parts += (png_bytes[kept_from:start], chunks)
            kept_from = start
            inserted = True
    if not inserted:
        raise ValueError("not a complete PNG: it has no IDAT or IEND chunk")
    parts.append(png_bytes[kept_from:])
    return _PNG_SIGNATURE + b"".join(parts)


def _walk(data: bytes):
    """Yield ``(start, end, type)`` of each chunk of a PNG held in memory, up to IEND."""
    pos, size = 8, len(data)
    while pos + 8 <= size:
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > size:
            raise ValueError(f"truncated PNG: chunk {ctype!r} at byte {pos} runs past the end")
        yield pos, end, ctype
        if ctype == b"IEND":
            return
        pos = end


def _keyword(data: bytes, start: int) -> bytes:
    # The keyword is 1–79 Latin-1 bytes ended by a NUL at the start of the chunk data.
    body = data[start + 8 : start + 8 + 80]
    return body.split(b"\0", 1)[0]


def _text_chunk(keyword: str, text: str) -> bytes:
    # PNG text never holds NUL (it ends the text for readers); orders refuse such text first,
    # this keeps any other caller from writing a chunk other tools cut short.
    text = text.replace("\0", "")
    try:
        ctype, body = b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1")
    except UnicodeEncodeError:
        # iTXt: keyword, NUL, compression flag 0, method 0, empty language, NUL, empty
        # translated keyword, NUL, then UTF-8 text.
        ctype, body = b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8", "replace")
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(ctype)))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy and torch scalars
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, PathLike):
        return str(value)
    raise TypeError(f"parameter value {value!r} of type {type(value).__name__} cannot be stored as JSON")


def _png_texts(f: BinaryIO) -> tuple[int, int, dict[str, str]]:
    """Read IHDR size and our text chunks from a PNG stream, seeking past everything else."""
    ihdr = f.read(25)  # signature (8) + length/type (8) + width, height (8) + bit depth (1)
    if len(ihdr) < 24 or ihdr[12:16] != b"IHDR":
        raise ValueError("truncated PNG: no IHDR chunk")
    width, height = struct.unpack_from(">II", ihdr, 16)
    texts: dict[str, str] = {}
    f.seek(8)
    while True:
        head = f.read(8)
        if len(head) < 8:
            break
        length, ctype = struct.unpack(">I4s", head)
        if ctype == b"IEND":
            break
        if ctype in _TEXT_CHUNKS:
            body = f.read(length)
            f.seek(4, io.SEEK_CUR)
            keyword, _, rest = body.partition(b"\0")
            if keyword in _OUR_KEYWORDS and keyword.decode() not in texts:
                text = _decode_text(ctype, rest)
                if text is not None:
                    texts[keyword.decode()] = text
        else:
            f.seek(length + 4, io.SEEK_CUR)
    return width, height, texts


def _decode_text(ctype: bytes, rest: bytes) -> str | None:
    try:
        if ctype == b"tEXt":
            return rest.decode("latin-1")
        if ctype == b"zTXt":
            return zlib.decompress(rest[1:]).decode("latin-1")
        compressed, _method = rest[0], rest[1]
        _language, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return (zlib.decompress(text) if compressed else text).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, IndexError):
        return None  # a damaged chunk is treated as absent: the image itself is still good


# ---- reading ---------------------------------------------------------------------------------


def read(source: str | PathLike | bytes) -> dict[str, Any]:
    """Read an image's size, format and generation parameters without decoding its pixels.

    Returns ``{"width", "height", "format", "media_type", "params", "model", "source", "extra"}``:
    ``source`` is ``"imagen_nb"`` when our JSON chunk was found (``params`` exact, ``extra``
    its other keys such as ``generation_id``), ``"a1111"`` when only an infotext was
    (PNG ``parameters`` chunk, or EXIF UserComment of JPEG/WEBP; ``params`` as
    :func:`parse_infotext` gives them, less ``model``), else ``None`` with ``params`` and
    ``model`` ``None``; ``extra`` is ``{}`` unless the source is imagen_nb.

    Args:
        source: a path, or the file's bytes.

    Raises:
        ValueError: not an image Pillow can read.
        OSError: the file cannot be opened.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_stream(io.BytesIO(source))
    with open(source, "rb") as f:
        return _read_stream(f)


def _read_stream(f: BinaryIO) -> dict[str, Any]:
    texts: dict[str, str] = {}
    if f.read(8) == _PNG_SIGNATURE:
        f.seek(0)
        width, height, texts = _png_texts(f)
        fmt = "PNG"
    else:
        f.seek(0)
        try:
            with Image.open(f) as im:
                width, height, fmt = im.width, im.height, im.format
                comment = _user_comment(im)
        except _DECODE_ERRORS as e:
            raise ValueError(f"not an image Pillow can read ({e})") from e
        if comment:
            texts[IMAGEN_NB_KEY if comment.lstrip().startswith("{") else PARAMETERS_KEY] = comment
    out: dict[str, Any] = {
        "width": width,
        "height": height,
        "format": fmt,
        "media_type": MEDIA_TYPES.get(fmt, f"image/{fmt.lower()}"),
        "params": None,
        "model": None,
        "source": None,
        "extra": {},
    }
    ours = _load_ours(texts.get(IMAGEN_NB_KEY))
    if ours is not None:
        out["params"] = ours.pop("params")
        out["model"] = ours.pop("model", None)
        out["source"] = "imagen_nb"
        out["extra"] = ours
    elif texts.get(PARAMETERS_KEY):
        params = parse_infotext(texts[PARAMETERS_KEY])
        out["model"] = params.pop("model", None)
        out["params"] = params
        out["source"] = "a1111"
    return out


def _load_ours(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("params"), dict):
        return data
    return None


_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


def _user_comment(im: Image.Image) -> str | None:
    """The EXIF UserComment of a JPEG/WEBP, where A1111 puts the infotext of non-PNG images."""
    if "exif" not in im.info:
        return None
    try:
        raw = im.getexif().get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception:  # noqa: BLE001 - broken EXIF must not make the image unreadable
        return None
    if isinstance(raw, str):
        return raw or None
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < 8:
        return None
    prefix, body = bytes(raw[:8]), bytes(raw[8:])
    if prefix.startswith(b"UNICODE"):
        # EXIF says UCS-2 in the file's byte order; piexif (A1111) writes big-endian. Text is
        # mostly ASCII, so a zero first byte means big-endian.
        encoding = "utf-16-be" if body[:1] == b"\0" else "utf-16-le"
        text = body.decode(encoding, errors="replace")
    elif prefix.startswith(b"ASCII"):
        text = body.decode("ascii", errors="replace")
    else:
        text = bytes(raw).decode("utf-8", errors="replace")
    text = text.rstrip("\0").strip()
    return text or None
