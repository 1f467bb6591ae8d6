"""Headers every response of the served app carries: no framing by other sites, a content
security policy that allows only this server (the app loads nothing from a CDN), no MIME
sniffing, no referrer to other sites."""

from __future__ import annotations

from tornado.httputil import HTTPHeaders
from tornado.web import OutputTransform

#: The content security policy. Bokeh and Panel bootstrap a page with inline scripts and load the
#: panels' ES module from a blob: URL (es-module-shims fetches it, hence blob: in connect-src), so
#: those stay allowed; no eval; everything else (scripts, styles, images, fonts, websockets, form
#: posts) must come from this server, and no other site may frame the app.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' blob:",
    "style-src 'self' 'unsafe-inline' blob: data:",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

#: Every header and its value.
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeaders(OutputTransform):
    """A tornado output transform that adds :data:`HEADERS` to every response (a handler's own
    value of a header wins)."""

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        """Add the missing headers to a response's first chunk."""
        for name, value in HEADERS.items():
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk
