"""Size caps of the studio: the :class:`Limits` and the middleware that enforces them on
request bodies while they stream in (before any route reads them)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storyreel.media.image import MAX_IMAGE_PIXELS

__all__ = ["MB", "BodyLimitMiddleware", "Limits", "human_size"]

MB = 1_000_000
#: Largest JSON or text project sent as a request body (not as a file).
MANIFEST_BYTES = 20 * MB

@dataclass(frozen=True)
class Limits:
    """Upload caps. Bodies larger than these are refused with 413 while streaming.

    Attributes:
        image_bytes: Largest image upload.
        audio_bytes: Largest narration upload.
        import_bytes: Largest project import (JSON, text or zip bundle).
        json_bytes: Largest body of any other request.
        image_pixels: Largest still (width x height).
        audio_seconds: Longest narration of one segment.
        min_audio_seconds: Shortest narration accepted.
    """

    image_bytes: int = 50 * MB
    audio_bytes: int = 500 * MB
    import_bytes: int = 2000 * MB
    json_bytes: int = 2 * MB
    image_pixels: int = MAX_IMAGE_PIXELS
    audio_seconds: float = 2 * 3600
    min_audio_seconds: float = 0.05


def human_size(size: int) -> str:
    """``12 MB`` or ``800 kB``."""
    return f"{size / MB:g} MB" if size >= MB else f"{size / 1000:g} kB"


_UPLOAD_RE = re.compile(r"^/api/projects/\d+/segments/\d+/(image|audio)/?$")
_ASSET_RE = re.compile(r"^/api/projects/\d+/assets/[^/]+/?$")
_IMPORT_RE = re.compile(r"^/api/projects/?$")


class BodyLimitMiddleware:
    """Refuse request bodies over the route's cap with a JSON 413, before reading them whole.

    A declared ``Content-Length`` over the cap is refused without reading any of the
    body; a chunked body is counted as it arrives and cut off at the cap.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def cap_for(self, method: str, path: str, content_type: str = "") -> tuple[int, str]:
        """The byte cap of a request and the words that describe it."""
        match = _UPLOAD_RE.match(path)
        if match and method in ("POST", "PUT"):
            if match.group(1) == "image":
                return self.limits.image_bytes, "images"
            return self.limits.audio_bytes, "narration files"
        if _ASSET_RE.match(path) and method in ("POST", "PUT"):
            return self.limits.audio_bytes, "media files"
        if _IMPORT_RE.match(path) and method == "POST":
            if content_type.startswith(("application/json", "text/")):
                return min(self.limits.import_bytes, MANIFEST_BYTES), "project manifests"
            return self.limits.import_bytes, "project imports"
        return self.limits.json_bytes, "requests"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap, what = self.cap_for(scope["method"], scope["path"], _header(scope, b"content-type"))
        message = f"The upload is too large: {what} are limited to {human_size(cap)}."
        length = _content_length(scope)
        if length is not None and length > cap:
            await _send_json(send, 413, message)
            return
        received = 0
        exceeded = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            # Whatever the app answers to a cut-off body (often a parse error) is
            # replaced by the 413 that explains it.
            nonlocal answered
            if not exceeded:
                await send(msg)
            elif not answered:
                answered = True
                await _send_json(send, 413, message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        except BaseExceptionGroup as group:
            if group.subgroup(_TooLarge) is None:
                raise
        if exceeded and not answered:
            await _send_json(send, 413, message)


class _TooLarge(Exception):
    pass


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1").strip().lower()
    return ""


def _content_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})
