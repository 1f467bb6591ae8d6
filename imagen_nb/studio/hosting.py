"""Hosting a home: the first process serves it, every other one connects (DESIGN §5).

The host writes a random token to ``<home>/host.token`` (mode 0600: only the home's owner
reads it) and announces where it listens in the lock file ``<home>/catalog.lock``, after its
pid: ``{"url": "http://127.0.0.1:<port>", "token_file": "host.token"}``. :func:`open_studio`
(what ``inb.Studio(home)`` calls) opens the home as its host when it can, and otherwise
connects to the host the lock file names.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog.connection import read_owner
from ..core.errors import CatalogBusy, ImagenError

if TYPE_CHECKING:
    from .local import LocalStudio
    from .server import ApiServer
    from .surface import Studio

TOKEN_FILE = "host.token"
#: How long a process waits for a host that holds the home but has not announced itself yet
#: (it is still opening: migrations, recovery, a checkpoint of a large catalog).
HOST_WAIT = float(os.environ.get("IMAGEN_NB_HOST_WAIT", "30"))


@dataclass
class Endpoint:
    """Where a host serves its home; :meth:`stop` closes it and takes the announcement back."""

    url: str
    token_path: Path
    server: "ApiServer"
    studio: "LocalStudio"

    def stop(self) -> None:
        """Stop serving: clients are disconnected (and take over once the home is free)."""
        try:
            self.studio.catalog.announce("")
        except RuntimeError:
            pass
        self.server.stop()
        try:
            self.token_path.unlink()
        except OSError:
            pass


@dataclass(frozen=True)
class HostInfo:
    """What the lock file says about the host of a home."""

    pid: int | None
    url: str
    token_path: Path


def write_token(home: Path) -> tuple[str, Path]:
    """A new random token in ``<home>/host.token``, readable and writable by the owner only."""
    token = secrets.token_urlsafe(32)
    path = home / TOKEN_FILE
    tmp = home / f".{TOKEN_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask or an older file said
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token, path


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def serve_address(serve: bool | str, password: str | None) -> str | None:
    """The address to serve on (None: do not serve); the same rule as ``imagen-nb serve``: an
    address beyond this machine needs a password."""
    if serve is False or serve is None:
        return None
    address = "127.0.0.1" if serve is True else str(serve)
    if address not in LOOPBACK_NAMES and not (password or os.environ.get("IMAGEN_NB_PASSWORD")):
        from ..core.errors import ValidationError

        raise ValidationError("serve", f"serving the studio on {address} lets anyone who reaches it use it: set "
                                       "password= (or $IMAGEN_NB_PASSWORD), or keep the default 127.0.0.1")
    return address


def serve_home(studio: "LocalStudio", address: str = "127.0.0.1", password: str | None = None) -> Endpoint:
    """Serve ``studio`` on a free port of ``address`` and announce it in the home's lock file."""
    from .server import ApiServer

    token, path = write_token(studio.home)
    server = ApiServer(studio, token, address=address, password=password)
    url = server.start()
    local = url if address in LOOPBACK_NAMES else f"http://127.0.0.1:{server.port}"  # clients here use loopback
    studio.catalog.announce(json.dumps({"url": local, "token_file": TOKEN_FILE}))
    return Endpoint(url, path, server, studio)


def host_info(home: Path) -> HostInfo | None:
    """The host the lock file of ``home`` announces, or None (no host, or one not serving yet)."""
    pid, text = read_owner(home)
    if not text:
        return None
    try:
        data = json.loads(text)
        return HostInfo(pid, str(data["url"]), home / str(data.get("token_file", TOKEN_FILE)))
    except (ValueError, KeyError, TypeError):
        return None


def read_token(home: Path, info: HostInfo) -> str:
    """The host's token; a clear error when this process may not read it."""
    try:
        return info.token_path.read_text().strip()
    except PermissionError:
        raise ImagenError(
            f"the home {home} is hosted by process {info.pid}, but this process cannot read its token "
            f"{info.token_path} (permission denied): the home belongs to another user. Open a home of "
            "your own with Studio(home=...) or IMAGEN_NB_HOME.") from None
    except FileNotFoundError:
        return ""


def alive(pid: int | None) -> bool:
    """True when a process with this pid exists (ours or not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_studio(home: str | os.PathLike | None = None, **options: Any) -> "Studio":
    """Open ``home`` as its host, or connect to the process hosting it (what ``inb.Studio()`` does).

    Args:
        home: the home folder (default ``$IMAGEN_NB_HOME``).
        **options: the :class:`~.local.LocalStudio` options (``limit``, ``recovery``, ``providers``,
            ``start``, ``serve``); a client keeps them to take the home over if the host goes away.

    Raises:
        CatalogBusy: another Studio of this process has the home open, or the process holding
            it does not serve it (an older imagen-nb, ``serve=False``, or still opening after
            :data:`HOST_WAIT` seconds).
    """
    from .client import HostUnreachable, StudioClient
    from .home import resolve_home
    from .local import LocalStudio

    path = resolve_home(home)
    deadline = time.monotonic() + HOST_WAIT
    while True:
        try:
            return LocalStudio(path, **options)
        except CatalogBusy as exc:
            if exc.pid == os.getpid():
                raise
            info = host_info(path)
            if info is not None:
                try:
                    return StudioClient(path, info, options)
                except HostUnreachable:
                    pass  # it is closing or was killed: the lock frees in a moment
            if time.monotonic() > deadline:
                raise not_served(path, exc) from None
        except PermissionError as exc:
            # Someone else's home: its lock file is not ours to write. A host may still say so.
            info = host_info(path)
            if info is not None:
                return StudioClient(path, info, options)  # says clearly when the token is not ours
            raise ImagenError(f"cannot open the imagen-nb home {path}: permission denied on {exc.filename}; "
                              "it belongs to another user. Open a home of your own with Studio(home=...) "
                              "or IMAGEN_NB_HOME.") from None
        time.sleep(0.1)


def not_served(home: Path, exc: CatalogBusy) -> CatalogBusy:
    """The one line said when a process holds a home but serves no API for it."""
    who = f"process {exc.pid}" if exc.pid else "another process"
    return CatalogBusy(
        f"the imagen-nb home {home} is held by {who}, which does not serve it to other processes "
        f"(an older imagen-nb, Studio(serve=False), or still opening after {HOST_WAIT:.0f} s). Close the Studio "
        "there (studio.close(), or stop that kernel) and open it again, or use another home with "
        "Studio(home=...) or IMAGEN_NB_HOME.", pid=exc.pid)
