"""Product files on disk: atomic writes, thumbnails, content hashes, trash and crash clean-up.

Layout under the imagen-nb home::

    products/<yyyy>/<mm>/<id>.<ext>     the files providers produced
    thumbs/<yyyy>/<mm>/<id>.webp        gallery thumbnails
    trash/products/…, trash/thumbs/…    what crash reconciliation set aside

Every file is first written under a temporary name starting with :data:`TEMP_PREFIX` in its
final directory, then renamed over its final name, so a reader (or a crash) never sees half a
file. The thumbnail is renamed into place before the product, so an existing product always
has its thumbnail.
"""

from __future__ import annotations

import filecmp
import hashlib
import itertools
import mimetypes
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from imagen_nb.core.paths import inside_home
from imagen_nb.store import thumbs
from imagen_nb.store.media_thumbs import media_thumbnail

TEMP_PREFIX = ".tmp-"
"""Names starting with this are files being written; :meth:`ProductStore.clean_temp_files`
removes the ones a crash left behind."""

_MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "txt": "text/plain",
    "json": "application/json",
}
# Extensions Pillow can thumbnail; others (video, audio, text) are stored without one.
_IMAGE_EXTS = frozenset({"png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"})
_WEB_EXTS = frozenset({"png", "jpg", "jpeg", "webp", "gif"})
_WEB_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class StoredFile:
    """A product file written by :meth:`ProductStore.write`.

    Args:
        path: where the product lies.
        thumb_path: its WEBP thumbnail, or ``None`` for media that are not images or did not
            decode (the product is kept all the same: it may have cost money).
        size: bytes in the product file.
        sha256: hex SHA-256 of the product file's content.
        width: pixels, or ``None`` when not an image.
        height: pixels, or ``None`` when not an image.
        media_type: e.g. ``image/png``, from the extension.
    """

    path: Path
    thumb_path: Path | None
    size: int
    sha256: str
    width: int | None
    height: int | None
    media_type: str


class ProductStore:
    """The product files under one imagen-nb home.

    Args:
        home: the imagen-nb home directory.
        fsync: flush each file (and its directory) to the disk before it is renamed into place.
            Off by default: a rename alone is atomic against crashes of the process, which is
            what reconciliation handles; fsync also survives a power cut but costs
            milliseconds per file on most disks, while writes sit on the hot path of every
            generation.
        thumb_size: longest side of thumbnails, in pixels.
    """

    def __init__(self, home: Path, *, fsync: bool = False, thumb_size: int = thumbs.THUMB_SIZE):
        self.home = Path(home)
        self.products = self.home / "products"
        self.thumbs = self.home / "thumbs"
        self.trash = self.home / "trash"
        self.fsync = fsync
        self.thumb_size = thumb_size
        # pid + counter makes temp names unique across threads and processes sharing a home;
        # next() on itertools.count is atomic under the GIL.
        self._counter = itertools.count()
        self._trash_lock = threading.Lock()

    # ---- paths ---------------------------------------------------------------------------

    def product_path(self, product_id: str, ext: str, created: datetime) -> Path:
        """``<home>/products/<yyyy>/<mm>/<id>.<ext>``; year and month are ``created``'s own
        (pass UTC)."""
        _check_name(product_id, ext)
        return self.products / f"{created.year:04d}" / f"{created.month:02d}" / f"{product_id}.{_norm_ext(ext)}"

    def thumb_path(self, product_id: str, created: datetime) -> Path:
        """``<home>/thumbs/<yyyy>/<mm>/<id>.webp``."""
        _check_name(product_id, "webp")
        return self.thumbs / f"{created.year:04d}" / f"{created.month:02d}" / f"{product_id}.webp"

    def catalog_path(self, path: Path) -> str:
        """How the catalog stores ``path``: relative to the home, with ``/`` separators
        (``products/2025/01/<id>.png``), so a home can be moved or copied (DESIGN §6).

        Raises:
            ValueError: ``path`` is not under this home.
        """
        return self._relative(Path(path)).as_posix()

    def resolve(self, stored: str | os.PathLike | None) -> Path | None:
        """The file a catalog path names (relative paths start at the home), or None when it
        would lie outside the home: see :func:`inside_home`."""
        return inside_home(self.home, stored)

    def product_id_of(self, path: Path) -> str | None:
        """The product id a file under ``products/`` is named after (its name up to the first
        dot), or None for a name that cannot be one."""
        name = Path(path).name.split(".", 1)[0]
        return name or None

    def thumb_for(self, path: Path) -> Path | None:
        """The thumbnail file of a product file when one exists on disk, else None."""
        thumb = self._thumb_of(Path(path))
        return thumb if thumb is not None and thumb.is_file() else None

    # ---- writing -------------------------------------------------------------------------

    def write(self, product_id: str, data: bytes, ext: str, created: datetime) -> StoredFile:
        """Store a product atomically, with its thumbnail and content hash.

        The image is decoded once, for both its size and its thumbnail. An existing file of
        the same id is replaced.

        Args:
            product_id: the product's id; a plain file name (no ``/``, not starting with ``.``).
            data: the file's bytes (embed parameters with :func:`pngmeta.embed` first).
            ext: extension without the dot (``png``); it decides the media type.
            created: when the product was made; picks the ``<yyyy>/<mm>`` folder.
        """
        ext = _norm_ext(ext)
        path = self.product_path(product_id, ext, created)
        digest = hashlib.sha256(data).hexdigest()
        width = height = thumb = None
        small = self._small_web_image(data, ext)
        if small is not None:
            # An image that already fits the thumbnail box in a format browsers show is its own
            # thumbnail: no decode, no second file (most of the cost of a small product).
            width, height = small
            self._write_atomic(path, data)
            return StoredFile(path=path, thumb_path=path, size=len(data), sha256=digest, width=width,
                              height=height, media_type=media_type_of(ext))
        if ext in _IMAGE_EXTS:
            try:
                with thumbs.open_image(data) as im:
                    width, height = im.size
                    thumb, _, _ = thumbs.thumbnail_of(im, self.thumb_size)
            except ValueError:
                pass  # documented on StoredFile: keep the product, go without a thumbnail
        else:
            thumb = media_thumbnail(data, media_type_of(ext), self.thumb_size)
        thumb_path = None
        if thumb is not None:
            thumb_path = self.thumb_path(product_id, created)
            self._write_atomic(thumb_path, thumb)
        self._write_atomic(path, data)
        return StoredFile(
            path=path,
            thumb_path=thumb_path,
            size=len(data),
            sha256=digest,
            width=width,
            height=height,
            media_type=media_type_of(ext),
        )

    def _small_web_image(self, data: bytes, ext: str) -> tuple[int, int] | None:
        if ext not in _WEB_EXTS:
            return None
        try:
            width, height, fmt = thumbs.image_size(data)
        except ValueError:
            return None
        if fmt in _WEB_FORMATS and width <= self.thumb_size and height <= self.thumb_size:
            return width, height
        return None

    def _write_atomic(self, path: Path, data: bytes) -> None:
        directory = path.parent
        tmp = directory / f"{TEMP_PREFIX}{os.getpid()}-{next(self._counter)}-{path.name}"
        try:
            fd = os.open(tmp, _OPEN_FLAGS, 0o644)
        except FileNotFoundError:
            # First file of the month: create the folder then. Trying first saves a stat per
            # write on the hot path.
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, _OPEN_FLAGS, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_dir(directory)

    # ---- removing ------------------------------------------------------------------------

    def remove(self, path: Path) -> None:
        """Delete a product file and its thumbnail; missing files are fine.

        Raises:
            ValueError: ``path`` is not under this home.
        """
        path = Path(path)
        self._relative(path)
        path.unlink(missing_ok=True)
        thumb = self._thumb_of(path)
        if thumb is not None:
            thumb.unlink(missing_ok=True)

    def move_to_trash(self, path: Path) -> Path:
        """Move a file to ``<home>/trash/``, keeping its place in the layout; return its new path.

        ``products/2025/01/x.png`` goes to ``trash/products/2025/01/x.png`` and its thumbnail
        along to ``trash/thumbs/2025/01/x.webp``. A name already in the trash gets a ``.1``,
        ``.2``… suffix, so nothing in the trash is overwritten; a file whose same content is
        already there under its name (or a suffixed one) is removed instead of kept twice.

        Raises:
            ValueError: ``path`` is not under this home (or is already in the trash).
            FileNotFoundError: ``path`` does not exist.
        """
        path = Path(path)
        relative = self._relative(path)
        if relative.parts[0] == "trash":
            raise ValueError(f"{path} is already in the trash")
        if not path.exists():
            raise FileNotFoundError(f"cannot move {path} to the trash: no such file")
        target = self._trash_file(path, relative)
        thumb = self._thumb_of(path)
        if thumb is not None and thumb.exists():
            self._trash_file(thumb, self._relative(thumb))
        return target

    def _trash_file(self, path: Path, relative: Path) -> Path:
        target = self.trash / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._trash_lock:  # the free-name search and the rename must not interleave
            candidate, n = target, 0
            while candidate.exists():
                if _same_content(candidate, path):
                    # Each crash used to add one more copy of the same file: keep one.
                    path.unlink()
                    return candidate
                n += 1
                candidate = target.with_name(f"{target.name}.{n}")
            os.replace(path, candidate)
        return candidate

    def trash_files(self) -> list[Path]:
        """Every file in ``<home>/trash/``, in path order."""
        return list(_walk_files(self.trash, lambda name: True))

    def empty_trash(self) -> tuple[int, int]:
        """Delete everything in ``<home>/trash/``; return (files removed, bytes freed)."""
        files = removed_bytes = 0
        with self._trash_lock:
            for path in self.trash_files():
                try:
                    size = path.stat().st_size
                    path.unlink()
                except FileNotFoundError:
                    continue
                files += 1
                removed_bytes += size
            for directory in sorted((d for d in self.trash.rglob("*") if d.is_dir()),
                                    key=lambda d: len(d.parts), reverse=True):
                try:
                    directory.rmdir()
                except OSError:
                    pass  # not empty: something was trashed meanwhile
        return files, removed_bytes

    def _relative(self, path: Path) -> Path:
        try:
            return Path(os.path.abspath(path)).relative_to(os.path.abspath(self.home))
        except ValueError:
            raise ValueError(f"{path} is not under the imagen-nb home {self.home}") from None

    def _thumb_of(self, path: Path) -> Path | None:
        # Only products have thumbnails: products/<yyyy>/<mm>/<id>.<ext> → thumbs/<yyyy>/<mm>/<id>.webp
        parts = self._relative(path).parts
        if len(parts) != 4 or parts[0] != "products":
            return None
        return self.thumbs / parts[1] / parts[2] / (Path(parts[3]).stem + ".webp")

    # ---- scanning ------------------------------------------------------------------------

    def iter_product_files(self) -> Iterator[Path]:
        """Yield every product file under ``<home>/products``, in path order.

        Temporary files (and any other name starting with ``.``: product ids never do) are
        skipped.
        """
        yield from _walk_files(self.products, lambda name: not name.startswith("."))

    def clean_temp_files(self) -> int:
        """Remove temporary files a crash left in ``products/`` and ``thumbs/``; return how many.

        Call it only while no other process writes to this home (at startup, holding the
        catalog lock): a write in progress would lose its temporary file.
        """
        removed = 0
        for root in (self.products, self.thumbs):
            for path in list(_walk_files(root, lambda name: name.startswith(TEMP_PREFIX))):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def media_type_of(ext: str) -> str:
    """Media type for a file extension (``png`` → ``image/png``)."""
    ext = _norm_ext(ext)
    known = _MEDIA_TYPES.get(ext)
    if known:
        return known
    guessed, _ = mimetypes.guess_type(f"x.{ext}")
    return guessed or "application/octet-stream"


def _norm_ext(ext: str) -> str:
    return ext.lower().removeprefix(".")


def _check_name(product_id: str, ext: str) -> None:
    # The id becomes a file name: a "/" or ".." would write outside the layout, and a leading
    # "." would hide the file from iter_product_files.
    if not product_id or product_id.startswith(".") or any(c in product_id for c in "/\\\0"):
        raise ValueError(f"product id {product_id!r} is not a plain file name")
    if not _norm_ext(ext).isalnum():
        raise ValueError(f"extension {ext!r} must be letters and digits, like 'png'")


def _same_content(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _walk_files(root: Path, keep) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_files(Path(entry.path), keep)
        elif keep(entry.name):
            yield Path(entry.path)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on Windows, where renames are journaled.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
