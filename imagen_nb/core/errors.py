"""Errors of imagen-nb. Each one says what went wrong and how to fix it."""

from __future__ import annotations


class ImagenError(Exception):
    """Base class of every error imagen-nb raises on purpose."""


class SmartParameterError(ImagenError, ValueError):
    """A SmartParameter value cannot be expanded.

    Args:
        param: the parameter whose value is wrong (``prompt``, ``seed``…).
        column: 1-based column in the value where the problem is (0 when it concerns the whole value).
        reason: what is wrong and how to fix it.
    """

    def __init__(self, param: str, column: int, reason: str):
        self.param = param
        self.column = column
        self.reason = reason
        where = f"parameter {param!r}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return (type(self), (self.param, self.column, self.reason))


class ValidationError(ImagenError, ValueError):
    """A parameter value is outside what the model accepts.

    Args:
        param: the offending parameter, or ``""`` when the error concerns the whole set.
        message: what is allowed, phrased so the user can fix it.
    """

    def __init__(self, param: str, message: str):
        self.param = param
        self.message = message
        super().__init__(f"{param}: {message}" if param else message)

    def __reduce__(self):
        return (type(self), (self.param, self.message))


class MetadataWarning(UserWarning):
    """Metadata in an imported file was ignored: too long, damaged, or a value the catalog
    cannot hold. The message names the file and the key; the image itself was imported."""


class UnknownModelError(ImagenError, ValueError):
    """No provider offers the requested model id."""


class OrderTooLarge(SmartParameterError):
    """An order would expand to more generations than the limit allows.

    One of the SmartParameter errors (``except SmartParameterError`` catches it), about the
    whole order rather than one parameter: ``param`` is ``""`` and ``column`` 0.

    Args:
        message: the count, the parameters that multiply it and the limit.
        count: how many generations the order would make.
        limit: the limit it is over.
    """

    def __init__(self, message: str, count: int | None = None, limit: int | None = None):
        self.param, self.column, self.reason = "", 0, message
        self.count, self.limit = count, limit
        Exception.__init__(self, message)

    def __reduce__(self):
        return (type(self), (self.reason, self.count, self.limit))


class ProviderError(ImagenError):
    """A provider failed to run a generation."""


class MissingKey(ImagenError, ValueError):
    """A remote provider needs an API key and none is set; the message says how to set one."""


class SettingsError(ProviderError, ValueError):
    """A provider setting (or provider name) given to ``Studio(providers=…)`` is unknown or invalid.

    Raised when the studio opens, naming the setting, what it accepts and the closest known name.
    """


class RateLimited(ProviderError):
    """The provider asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class GenerationCancelled(ImagenError):
    """Raised inside a running generation when the user cancelled it."""


class DownloadCancelled(ImagenError):
    """A model download (``studio.add_model(ref)``) was cancelled; its partial file is kept for a resume."""


class DownloadBusy(ValidationError):
    """``studio.add_model(ref)`` while ``ref`` (or another reference to the same file) is downloading."""


class CatalogBusy(ImagenError):
    """Another process owns this imagen-nb home (DuckDB allows one writer per file)."""

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid


class CatalogDamaged(ImagenError):
    """The catalog file of a home cannot be read (missing pieces, bad header, checksum errors).

    Nothing was opened or changed. The message names the file and the two ways back: roll back
    to the newest good checkpoint (``imagen-nb restore``) or rebuild the catalog from what the
    product files carry (``imagen-nb rebuild``); both move the damaged file aside, never delete it.

    Args:
        path: the damaged catalog file.
        reason: what DuckDB reported, in one line.
        checkpoint: the newest checkpoint of this home that opens and reads cleanly, if any.
    """

    def __init__(self, path, reason: str, checkpoint=None):
        self.path = path
        self.reason = reason
        self.checkpoint = checkpoint
        home = getattr(path, "parent", path)
        ways = []
        if checkpoint is not None:
            ways.append(f"roll back to its newest good checkpoint with `imagen-nb --home {home} restore {checkpoint}` "
                        "(keeps ratings, collections and orders up to then; newer product files are listed again)")
        else:
            ways.append(f"restore a backup if you made one, `imagen-nb --home {home} restore BACKUP_FOLDER`")
        ways.append(f"rebuild it from the product files with `imagen-nb --home {home} rebuild` "
                    "(or inb.Studio.rebuild(home); prompts, seeds, models and parameters come back, "
                    "ratings and collections do not)")
        super().__init__(
            f"the catalog {path} is damaged ({reason}), so imagen-nb opened nothing and changed nothing; "
            f"your product files are untouched. To recover, {' or '.join(ways)}. "
            "Either way the damaged file is moved aside, never deleted.")

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.checkpoint))


class SqlRefused(ImagenError, ValueError):
    """A query given to ``Studio.sql`` is not a single read-only SELECT."""


class SqlError(ImagenError, ValueError):
    """A query given to ``Studio.sql`` is invalid (unknown table, syntax error…)."""


class SqlTimeout(ImagenError, TimeoutError):
    """A query given to ``Studio.sql`` ran past its time limit of ``timeout`` seconds."""

    def __init__(self, message: str, timeout: float | None = None):
        super().__init__(message)
        self.timeout = timeout


def did_you_mean(word: str, choices) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class DiskFull(ImagenError, OSError):
    """The disk holding an imagen-nb home is full; the message says where and what to do."""


class DiskFullWarning(UserWarning):
    """The disk of an imagen-nb home is full: the queue is paused until space is back."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an error it was raised from) means the disk or the quota is full.

    An ``OSError`` with ``ENOSPC``/``EDQUOT``, or an error whose text says so (DuckDB reports a
    failed write as text, e.g. ``Could not write file "…wal": No space left on device``).
    """
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class CatalogMigrationError(ImagenError):
    """Updating an existing catalog's tables to this version failed; the catalog is unchanged."""
