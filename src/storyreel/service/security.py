"""What a web page on another site can and cannot make the studio do.

The studio is a web server on the creator's machine, so every page the creator visits
can send it requests. Three rules keep those pages out:

* **Cross-origin requests change nothing.** A state-changing request (anything but
  ``GET``, ``HEAD`` and ``OPTIONS``) is served only when the browser says it comes
  from the studio's own page: ``Sec-Fetch-Site: same-origin`` (or ``none``, a request
  the user made directly), or, from a browser that does not send that header, an
  ``Origin`` equal to the studio's own scheme, host and port. ``Origin: null``
  (sandboxed frames, redirects) is refused like any other. A request with neither
  header does not come from a web page (browsers send ``Origin`` with every
  cross-origin request that changes state) and is served.
* **Cross-origin requests start no costly work.** The ``GET`` requests that decode a
  still (previews) or speak (voice samples) follow the same rule: another site's
  ``<img>`` or ``<audio>`` pointed at them is refused before any work starts.
* **The page cannot be framed or sniffed**, and what it loads is limited to the studio
  itself (:data:`SECURITY_HEADERS`, :func:`content_policy`).
* **The access token is never written to a log** (:class:`RedactTokenFilter`).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "SAFE_METHODS",
    "SECURITY_HEADERS",
    "RedactTokenFilter",
    "SecurityHeadersMiddleware",
    "content_policy",
    "cross_site",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: GETs that start costly work (a still decoded, a voice speaking): guarded like a POST.
_COSTLY_GET = re.compile(r"^/api/(?:projects/[^/]+/(?:segments/[^/]+/)?preview\.png"
                         r"|voices/sample/?)$")

#: Sent with every answer.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)

_PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                "media-src 'self'; connect-src 'self'; font-src 'self'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'")
# The API documentation page (Swagger UI, ReDoc) starts itself with an inline script.
_DOCS_POLICY = ("default-src 'none'; script-src 'self' 'unsafe-inline'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                "font-src 'self' data:; worker-src 'self' blob:; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'")
_DOCS_PATHS = ("/docs", "/redoc")


def content_policy(path: str) -> str:
    """The Content-Security-Policy of the answer to ``path``."""
    return _DOCS_POLICY if path.startswith(_DOCS_PATHS) else _PAGE_POLICY


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def cross_site(scope: Scope, headers: Headers) -> bool:
    """True when a state-changing (or costly) request comes from a page of another origin.

    Safe methods other than the costly ``GET`` requests are never cross-site here: they
    change nothing, and without CORS headers another origin cannot read their answers.
    """
    if scope.get("method", "GET") in SAFE_METHODS and not _COSTLY_GET.match(
            scope.get("path", "")):
        return False
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _TRUSTED_FETCH_SITES
    origin = headers.get("origin")
    if origin is None:
        return False  # not sent by a web page
    own = _origin_of(f"{scope.get('scheme', 'http')}://{headers.get('host', '')}")
    theirs = _origin_of(origin.strip())
    return own is None or theirs is None or own != theirs


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` and the Content-Security-Policy to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS]
        extra.append((b"content-security-policy", content_policy(scope["path"]).encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_QUERY_PARAM = re.compile(r"([?&;])([^=&;\s\"'?]+)=([^&;\s\"']*)")
_TOKEN_NAMES = frozenset({"token", "access_token"})


class RedactTokenFilter(logging.Filter):
    """Replace the value of ``token=`` in logged URLs (uvicorn's access log) by ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_redact(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def _redact(text: str) -> str:
    """``text`` with the value of every token parameter replaced, however its name is
    written (``?%74oken=`` is read as ``token`` too)."""
    def hide(match: re.Match[str]) -> str:
        name = unquote_plus(match.group(2)).strip().lower()
        if name not in _TOKEN_NAMES:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}=***"

    return _QUERY_PARAM.sub(hide, text)
