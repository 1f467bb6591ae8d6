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
from typing import Any, BinaryIO, Mapping, Sequence

from PIL import Image

from imagen_nb.core.limits import MAX_TEXT_CHUNK_BYTES
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

# "Key: value" pairs of the last line follow A1111's pattern (modules/infotext_utils.py),
# widened to one-letter keys and empty quoted strings: a value is either a JSON string in double
# quotes (it may contain commas) or runs to the next comma. _param_pairs reads them in linear
# time; the regex itself backtracks quadratically over a long line without a colon.
_KNOWN_KEYS = frozenset({"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model"})
# Keys infotext() writes after the parameters; a parameter of the same name would be ambiguous.
_TRAILING = ("Provider", "Lora hashes", "Hashes")
# Civitai's JSON form of the hashes at the end of the last line, which A1111's "Key: value"
# pattern cannot read; matched from the last "Hashes:" only, so the time stays linear.
_HASHES_TAIL_RE = re.compile(r"Hashes:[ \t]*(\{[^{}]*\})[ \t]*")


# ---- infotext --------------------------------------------------------------------------------


def infotext(
    params: Mapping[str, Any],
    model: str,
    *,
    model_hash: str | None = None,
    loras: Sequence[tuple[str, str]] = (),
) -> str:
    """Write ``params`` as an A1111 infotext, the way AUTOMATIC1111 writes it.

    Line 1 (and following, for multi-line prompts) is the prompt; then
    ``Negative prompt: …`` when there is one; the last line is
    ``Steps: N, Sampler: X, CFG scale: G, Seed: S, Size: WxH, Model hash: H, Model: M`` followed
    by the other scalar parameters as ``Key: value`` (``clip_skip`` → ``Clip skip``), then
    ``Provider: P``, ``Lora hashes: "name: hash, …"`` and ``Hashes: {"model": …, "lora:name": …}``
    (the JSON form Civitai and sd-parsers read). Absent and ``None`` values are left out, and so
    are lists and mappings (they live in the JSON chunk). Values containing ``,``, ``:``, ``"`` or
    a newline are written as JSON strings, as A1111 does.

    Args:
        params: generation parameters under diffusers' names.
        model: the model id (``diffusers:tiny``): ``Model`` is its name (``tiny``, no colon, so
            readers that split on ``:`` keep it) and ``Provider`` the rest.
        model_hash: the checkpoint's sha256 (or a folder model's fingerprint); ``Model hash`` is
            its first 10 hex digits, as A1111's.
        loras: ``(name, hash)`` of each LoRA used, the hash as A1111 computes it (12 hex digits).
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
    provider, _, name = (model or "").rpartition(":") if ":" in (model or "") else ("", "", model or "")
    short_hash = model_hash[:10] if model_hash else None
    fields += [("Model hash", short_hash), ("Model", name or None)]
    used = {key for key, _ in fields} | set(_TRAILING)
    for param, value in params.items():
        key = _display_key(param)
        if param in _PLACED or key in used:
            continue
        used.add(key)
        fields.append((key, value))
    names = [(_lora_name(n), h) for n, h in loras]
    fields += [
        ("Provider", provider or None),
        ("Lora hashes", ", ".join(f"{n}: {h}" for n, h in names) or None),
    ]
    last = ", ".join(
        f"{key}: {_quote(value)}" for key, value in fields if value is not None and isinstance(value, (str, int, float))
    )
    hashes = ({"model": short_hash} if short_hash else {}) | {f"lora:{n}": h for n, h in names}
    if hashes:
        last += f", Hashes: {json.dumps(hashes, ensure_ascii=False)}"
    lines.append(last)
    return "\n".join(lines)


def _lora_name(name: str) -> str:
    # A1111 drops the characters its own infotext uses as separators.
    return re.sub(r"[:,{}\"]", "", name)


def parse_infotext(text: str) -> dict[str, Any]:
    """Read an A1111 infotext back into our names.

    Returns a dict with ``prompt`` (always), and when present ``negative_prompt``,
    ``num_inference_steps`` (int), ``guidance_scale`` (float), ``seed`` (int), ``width`` and
    ``height`` (ints from ``Size``), ``scheduler`` (the ``Sampler``), ``model``, and every other
    key in snake case (``Model hash`` → ``model_hash``, ``Lora hashes`` → ``lora_hashes``) with its
    value as a string; ``hashes`` is the ``Hashes: {…}`` JSON as a dict. ``Provider: P`` with
    ``Model: M`` (as imagen-nb writes them) read back as the model id ``P:M``.
    Accepts infotexts of other tools: multi-line prompts, CRLF line ends, quoted values with
    commas. A value that does not convert (``Seed: -1x``) is kept as a string.

    The prompt and negative prompt are stripped of surrounding whitespace, as A1111 does;
    the JSON chunk keeps them exactly. The time is linear in the text's length (a megabyte
    on one line parses in milliseconds), and at most 1,000 pairs of the last line are read.
    """
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    lines[-1], hashes = _split_hashes(lines[-1])
    fields, whole = _param_pairs(lines[-1])
    # A1111 needs three "Key: value" pairs; ours may have fewer (only a model), so a line made
    # of nothing but pairs that names one of the standard keys counts as well.
    if len(fields) >= 3 or (fields and whole and any(k in _KNOWN_KEYS for k, _ in fields)):
        lines.pop()
    else:
        fields = []
        if hashes is not None:  # not a parameters line after all: put the text back
            lines[-1] += hashes[1]
            hashes = None
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
    # A key given twice counts once: the last of the standard keys, the first of the others
    # (so a hostile line repeating one key 100,000 times converts one value, not all of them).
    last: dict[str, str] = {}
    others: dict[str, str] = {}
    first_raw: set[str] = set()
    for key, raw in fields:
        if key in _CONVERTED:
            last[key] = raw
            continue
        if key in first_raw and key != "Size":
            continue
        value = _unquote(raw.strip())
        if key == "Size" and re.fullmatch(r"\d{1,9}x\d{1,9}", value):
            width, height = value.split("x")
            out["width"], out["height"] = int(width), int(height)
        elif key not in first_raw:
            first_raw.add(key)
            others.setdefault(_snake_key(key), value)
    for key, raw in last.items():
        name, kind = _CONVERTED[key]
        value = _unquote(raw.strip())
        out[name] = value if kind is None else _convert(kind, value)
    provider = others.pop("provider", None)
    if provider and isinstance(out.get("model"), str) and out["model"]:
        out["model"] = f"{provider}:{out['model']}"  # imagen-nb writes the id in two parts
    if hashes is not None:
        out["hashes"] = hashes[0]
    # Other keys never override the ones above (a tool may write e.g. its own "Prompt: …").
    for name, value in others.items():
        out.setdefault(name, value)
    return out


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


# Standard keys of the last line other than Size: our name and the type a value converts to.
_CONVERTED = {
    "Steps": ("num_inference_steps", int),
    "Sampler": ("scheduler", None),
    "CFG scale": ("guidance_scale", float),
    "Seed": ("seed", int),
    "Model": ("model", None),
    "Width": ("width", int),
    "Height": ("height", int),
}

# A key: the first word character of a run of key characters (word characters, space, "-", "/")
# to the run's end, followed by a colon. The lookbehind lets a match start only where a run
# starts, and the possessive quantifiers never give characters back, so one search is linear.
_KEY_COLON = re.compile(r"(?<![\w \-/])[ \-/]*+(\w[\w \-/]*+):")
_SPACE = re.compile(r"\s*")
_QUOTED_BODY = re.compile(r'(?:\\.|[^\\"])*+')
_MAX_PAIRS = 1_000


def _split_hashes(line: str) -> tuple[str, tuple[dict[str, str], str] | None]:
    """``line`` without a trailing ``Hashes: {…}``, and that JSON as a dict with the text removed."""
    at = line.rfind("Hashes:")
    if at < 0 or (at > 0 and line[at - 1] not in ", "):
        return line, None
    match = _HASHES_TAIL_RE.fullmatch(line, at)
    if not match:
        return line, None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return line, None
    if not isinstance(data, dict):
        return line, None
    head = line[:at].rstrip(" ")
    head = head[:-1] if head.endswith(",") else head
    return head, ({str(k): str(v) for k, v in data.items()}, line[len(head):])


def _param_pairs(line: str) -> tuple[list[tuple[str, str]], bool]:
    r"""The ``(key, raw value)`` pairs of an infotext's last line, in linear time.

    Gives what ``re.findall`` of A1111's pattern
    ``\s*(\w[\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)`` gives, and whether the pairs
    cover the whole line (nothing but white space between them). Reading stops after
    :data:`_MAX_PAIRS` pairs (A1111 writes a few dozen), the rest of such a line is ignored.
    """
    pairs: list[tuple[str, str]] = []
    n, pos, whole = len(line), 0, True
    # A quoted value's closing quote, from the last search: an opening quote found inside that
    # span is an escaped one the search stepped over, so its closing quote is the same.
    span_start, span_end, closing = -1, -1, -1
    while pos < n:
        if len(pairs) == _MAX_PAIRS:
            whole = False
            break
        found = _KEY_COLON.search(line, pos)
        if found is None:
            whole = False
            break
        key_start = found.start(1)
        if key_start > pos and not line[pos:key_start].isspace():
            whole = False
        start = _SPACE.match(line, found.end()).end()
        end = -1
        if start < n and line[start] == '"':
            if not span_start < start < span_end:
                body_end = _QUOTED_BODY.match(line, start + 1).end()
                closing = body_end if body_end < n and line[body_end] == '"' else -1
                span_start, span_end = start, body_end
            if closing >= 0 and (closing + 1 == n or line[closing + 1] == ","):
                end = closing + 1
        if end < 0:
            end = line.find(",", start)
            end = n if end < 0 else end
        pairs.append((found.group(1), line[start:end]))
        pos = end + 1
    return pairs, whole


# ---- PNG chunks ------------------------------------------------------------------------------


def embed(
    png_bytes: bytes,
    params: Mapping[str, Any],
    model: str,
    extra: Mapping[str, Any] | None = None,
    *,
    model_hash: str | None = None,
    loras: Sequence[tuple[str, str]] = (),
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
        model_hash, loras: the hashes the infotext carries (see :func:`infotext`).

    Raises:
        ValueError: ``png_bytes`` is not a PNG, or ``extra`` uses the keys ``model``/``params``.
    """
    if png_bytes[:8] != _PNG_SIGNATURE:
        raise ValueError("embed() needs PNG bytes; other formats keep their parameters in the catalog only")
    extra = dict(extra or {})
    if "model" in extra or "params" in extra:
        raise ValueError("extra must not contain the keys 'model' or 'params'; pass them as arguments")
    payload = {"model": model, "params": dict(params), **extra}
    chunks = _text_chunk(PARAMETERS_KEY, infotext(params, model, model_hash=model_hash, loras=loras)) + _text_chunk(
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


def _png_texts(f: BinaryIO, warnings: list[str]) -> tuple[int, int, dict[str, str]]:
    """Read IHDR size and our text chunks from a PNG stream, seeking past everything else.

    A text chunk longer than :data:`MAX_TEXT_CHUNK_BYTES`, stored or once inflated, is ignored
    and a line saying so is added to ``warnings``: only that much is ever read or inflated.
    """
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
        if ctype not in _TEXT_CHUNKS:
            f.seek(length + 4, io.SEEK_CUR)
            continue
        # The keyword first (1-79 bytes and a NUL): other tools' chunks are skipped unread.
        start = f.tell()
        keyword = f.read(min(length, 80)).partition(b"\0")[0]
        name = keyword.decode("latin-1")
        if keyword in _OUR_KEYWORDS and name not in texts:
            f.seek(start)
            if length > MAX_TEXT_CHUNK_BYTES + 1024:  # room for the keyword and iTXt's header
                warnings.append(f"text chunk {name!r} holds {length:,} bytes, more than the "
                                f"{MAX_TEXT_CHUNK_BYTES:,} imagen-nb reads; ignored")
                texts[name] = ""
            else:
                text = _decode_text(ctype, f.read(length).partition(b"\0")[2])
                if text is _TOO_LONG:
                    warnings.append(f"text chunk {name!r} inflates to more than {MAX_TEXT_CHUNK_BYTES:,} "
                                    f"bytes (a decompression bomb?); ignored")
                    texts[name] = ""
                elif text is None:
                    warnings.append(f"text chunk {name!r} is damaged (it does not inflate or decode); ignored")
                    texts[name] = ""
                else:
                    texts[name] = text
        f.seek(start + length + 4)
    return width, height, {k: v for k, v in texts.items() if v}


_TOO_LONG = "<too long>"


def _inflate(data: bytes) -> bytes | None:
    """Inflate zlib ``data``, stopping at :data:`MAX_TEXT_CHUNK_BYTES`: None when it is longer."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT_CHUNK_BYTES + 1)
    if len(out) > MAX_TEXT_CHUNK_BYTES or inflater.unconsumed_tail:
        return None
    return out


def _decode_text(ctype: bytes, rest: bytes) -> str | None:
    """The text of a chunk's data after its keyword; ``None`` when damaged, :data:`_TOO_LONG`
    when it would inflate past :data:`MAX_TEXT_CHUNK_BYTES`."""
    try:
        if ctype == b"tEXt":
            return rest.decode("latin-1")
        if ctype == b"zTXt":
            inflated = _inflate(rest[1:])
            return _TOO_LONG if inflated is None else inflated.decode("latin-1")
        compressed, _method = rest[0], rest[1]
        _language, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        if compressed:
            inflated = _inflate(text)
            if inflated is None:
                return _TOO_LONG
            text = inflated
        return text.decode("utf-8")
    except (zlib.error, UnicodeDecodeError, IndexError):
        return None  # a damaged chunk is treated as absent: the image itself is still good


# ---- reading ---------------------------------------------------------------------------------


def read(source: str | PathLike | bytes) -> dict[str, Any]:
    """Read an image's size, format and generation parameters without decoding its pixels.

    Returns ``{"width", "height", "format", "media_type", "params", "model", "source", "extra",
    "warnings"}``:
    ``source`` is ``"imagen_nb"`` when our JSON chunk was found (``params`` exact, ``extra``
    its other keys such as ``generation_id``), ``"a1111"`` when only an infotext was
    (PNG ``parameters`` chunk, or EXIF UserComment of JPEG/WEBP; ``params`` as
    :func:`parse_infotext` gives them, less ``model``), else ``None`` with ``params`` and
    ``model`` ``None``; ``extra`` is ``{}`` unless the source is imagen_nb. ``warnings`` lists
    the metadata that was there but ignored, one sentence each: text longer than
    :data:`~imagen_nb.core.limits.MAX_TEXT_CHUNK_BYTES` (stored, inflated or in EXIF), damaged
    chunks, JSON that does not parse or nests too deeply. The infotext parse is linear in its
    length, so even a megabyte-long line reads in a fraction of a second.

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
    warnings: list[str] = []
    if f.read(8) == _PNG_SIGNATURE:
        f.seek(0)
        width, height, texts = _png_texts(f, warnings)
        fmt = "PNG"
    else:
        f.seek(0)
        try:
            with Image.open(f) as im:
                width, height, fmt = im.width, im.height, im.format
                comment = _user_comment(im, warnings)
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
        "warnings": warnings,
    }
    ours = _load_ours(texts.get(IMAGEN_NB_KEY), warnings)
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


def _load_ours(text: str | None, warnings: list[str]) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except RecursionError:
        warnings.append(f"the {IMAGEN_NB_KEY!r} JSON nests too deeply to read; ignored")
        return None
    except ValueError as e:
        warnings.append(f"the {IMAGEN_NB_KEY!r} JSON does not parse ({e}); ignored")
        return None
    if isinstance(data, dict) and isinstance(data.get("params"), dict):
        return data
    warnings.append(f"the {IMAGEN_NB_KEY!r} JSON has no \"params\" object; ignored")
    return None


_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


def _user_comment(im: Image.Image, warnings: list[str]) -> str | None:
    """The EXIF UserComment of a JPEG/WEBP, where A1111 puts the infotext of non-PNG images."""
    if "exif" not in im.info:
        return None
    try:
        raw = im.getexif().get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception:  # noqa: BLE001 - broken EXIF must not make the image unreadable
        warnings.append("the EXIF data is damaged; its UserComment was not read")
        return None
    if isinstance(raw, (str, bytes, bytearray)) and len(raw) > MAX_TEXT_CHUNK_BYTES:
        warnings.append(f"the EXIF UserComment holds {len(raw):,} bytes, more than the "
                        f"{MAX_TEXT_CHUNK_BYTES:,} imagen-nb reads; ignored")
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
