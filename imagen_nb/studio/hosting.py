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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog.connection import read_owner
from ..core.errors import CatalogBusy, ImagenError

if TYPE_CHECKING:
    from .local import LocalStudio
    from .server import ApiServer

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


def not_served(home: Path, exc: CatalogBusy) -> CatalogBusy:
    """The one line said when a process holds a home but serves no API for it."""
    who = f"process {exc.pid}" if exc.pid else "another process"
    return CatalogBusy(
        f"the imagen-nb home {home} is held by {who}, which does not serve it to other processes "
        f"(an older imagen-nb, Studio(serve=False), or still opening after {HOST_WAIT:.0f} s). Close the Studio "
        "there (studio.close(), or stop that kernel) and open it again, or use another home with "
        "Studio(home=...) or IMAGEN_NB_HOME.", pid=exc.pid)
