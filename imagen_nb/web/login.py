"""The password login of the served app: a Bokeh auth provider with its own login and logout
pages, server-side sessions (:mod:`.sessions`) and throttled wrong passwords.

The login cookie holds a signed random session id, ``HttpOnly`` and ``SameSite=Strict`` (plus
``Secure`` when served over HTTPS); ``/logout`` ends the session on the server, so a copy of
the cookie stops working and the websockets opened with it are closed.

Wrong passwords are throttled per client address and per network (:mod:`.clients`); behind a
reverse proxy the address is taken from ``X-Forwarded-For`` only for connections from the
proxies named in ``trusted_proxies`` (none by default).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Sequence

import jinja2
from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler

from .clients import Network, client_address, client_keys
from .sessions import LoginThrottle, Sessions, seconds

#: The login cookie's name.
COOKIE = "imagen_nb_session"
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"


class PasswordAuth(AuthProvider):
    """Asks for one password on ``login_page``; ``logout_page`` is shown after signing out.

    Both templates are Jinja2: the login page gets ``login_endpoint`` and ``errormessage``, the
    logout page ``login_endpoint``. ``trusted_proxies``: the reverse proxies whose
    ``X-Forwarded-For`` names the client (:func:`.clients.trusted_proxies`); none by default,
    and the header is never read from anyone else.
    """

    def __init__(self, password: str, login_page: Path, logout_page: Path,
                 sessions: Sessions | None = None, throttle: LoginThrottle | None = None,
                 trusted_proxies: Sequence[Network] = ()):
        if not password:
            raise ValueError("an empty password would let anyone in: set --password (or $IMAGEN_NB_PASSWORD)")
        self._password = password.encode()
        env = jinja2.Environment(autoescape=True)
        self.login_page = env.from_string(Path(login_page).read_text())
        self.logout_page = env.from_string(Path(logout_page).read_text())
        self.sessions = sessions or Sessions()
        self.throttle = throttle or LoginThrottle()
        self.trusted_proxies = tuple(trusted_proxies)
        auth = self
        self._login_handler = type("LoginHandler", (LoginHandler,), {"auth": auth})
        self._logout_handler = type("LogoutHandler", (LogoutHandler,), {"auth": auth})
        super().__init__()

    def check(self, password: str) -> bool:
        """Whether ``password`` is the one (compared in constant time)."""
        return hmac.compare_digest(password.encode(), self._password)

    def session_id(self, handler: RequestHandler) -> str | None:
        """The session id in ``handler``'s request cookie, if its signature holds."""
        raw = handler.get_signed_cookie(COOKIE, max_age_days=self.sessions.lifetime / 86400 + 1)
        return raw.decode() if raw else None

    @property
    def get_user(self):
        """The signed-in user of a request (``None``: send it to the login page)."""
        def get_user(handler: RequestHandler) -> str | None:
            sid = self.session_id(handler)
            user = self.sessions.user(sid)
            if user is not None and sid is not None and isinstance(handler, WebSocketHandler):
                self.sessions.follow(sid, handler)
            return user
        return get_user

    @property
    def login_url(self) -> str:
        """Where a request without a live session is sent."""
        return LOGIN_URL

    @property
    def login_handler(self) -> type[RequestHandler]:
        """Serves the login page and checks the password."""
        return self._login_handler

    @property
    def logout_url(self) -> str:
        """Where signing out happens (Panel's logout link points here)."""
        return LOGOUT_URL

    @property
    def logout_handler(self) -> type[RequestHandler]:
        """Ends the session."""
        return self._logout_handler


class LoginHandler(RequestHandler):
    """GET: the login page. POST: check the password (throttled) and start a session."""

    auth: PasswordAuth

    def get(self) -> None:
        """The login page."""
        self._page("")

    def post(self) -> None:
        """Check the password unless this client is locked out; on success start a session."""
        client = client_keys(client_address(self.request.remote_ip, self.request.headers.get_list("X-Forwarded-For"),
                                            self.auth.trusted_proxies))
        wait = self.auth.throttle.wait(client)
        if wait > 0:
            self.set_header("Retry-After", str(seconds(wait)))
            self._page(f"Too many wrong passwords from your address: wait {seconds(wait)} s, then try again.",
                       status=429)
            return
        if not self.auth.check(self.get_body_argument("password", "")):
            wait = self.auth.throttle.failed(client)
            message = "Wrong password."
            if wait > 0:
                self.set_header("Retry-After", str(seconds(wait)))
                message += f" Wait {seconds(wait)} s before the next try."
            self._page(message, status=401)
            return
        self.auth.throttle.succeeded(client)
        user = self.get_body_argument("username", "").strip()[:80] or "user"
        sid = self.auth.sessions.open(user)
        self.set_signed_cookie(COOKIE, sid, expires_days=self.auth.sessions.lifetime / 86400, path="/",
                               httponly=True, samesite="Strict", secure=self.request.protocol == "https")
        self.redirect("/")

    def _page(self, error: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(self.auth.login_page.render(login_endpoint=LOGIN_URL, errormessage=error))


class LogoutHandler(RequestHandler):
    """Ends the session of the request's cookie (for everyone holding that cookie) and says so."""

    auth: PasswordAuth

    def get(self) -> None:
        """End the session, clear the cookie, show the signed-out page."""
        self.auth.sessions.close(self.auth.session_id(self))
        self.clear_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.auth.logout_page.render(login_endpoint=LOGIN_URL))

    post = get
