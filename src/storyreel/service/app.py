"""The studio app factory: FastAPI app, lifespan (workers), access rules and error answers."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from storyreel.service.errors import (
    Busy,
    Conflict,
    Invalid,
    NotFound,
    OutOfRange,
    PreconditionFailed,
    StudioError,
    TooLarge,
    invalid_request,
)
from storyreel.service.jobs import RenderRunner
from storyreel.service.lifecycle import make_studio, studio_running
from storyreel.service.limits import BodyLimitMiddleware, Limits
from storyreel.service.routes import router
from storyreel.service.security import (
    RedactTokenFilter,
    SecurityHeadersMiddleware,
    cross_site,
)

__all__ = ["LOOPBACK_HOSTS", "TOKEN_COOKIE", "create_app"]


STATIC_DIR = Path(__file__).with_name("static")
TOKEN_COOKIE = "storyreel_token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: Loggers that write request URLs (which may carry ``?token=``).
_URL_LOGGERS = ("uvicorn.access", "uvicorn.error")


def create_app(data_dir: Path, *, token: str | None = None, max_jobs: int = 1,
               limits: Limits | None = None, runner: RenderRunner | None = None,
               allowed_hosts: Iterable[str] | None = None) -> FastAPI:
    """Build the studio app for a data folder.

    The lifespan re-queues (or fails) jobs left "processing" by a server that died,
    then starts the render workers; it stops them and closes the database on exit.

    Args:
        data_dir: Holds ``studio.db`` and the project media; created when missing.
        token: When set, every request must carry it (``Authorization: Bearer``, the
            ``storyreel_token`` cookie or ``?token=``).
        max_jobs: Renders that may run at the same time.
        limits: Upload caps (default :class:`~storyreel.service.limits.Limits`).
        runner: Runs one render (default: a child process per render).
        allowed_hosts: ``Host`` names accepted without a token (default: loopback names),
            which stops DNS-rebinding pages from reaching the studio.
    """
    studio = make_studio(data_dir, max_jobs=max_jobs, limits=limits, runner=runner)

    redact = RedactTokenFilter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = studio_running(studio)
        # in a thread, off the event loop: sweeping uploads and stopping renders take time
        await anyio.to_thread.run_sync(running.__enter__)
        for name in _URL_LOGGERS:  # added here: the server has set its logging up by now
            logging.getLogger(name).addFilter(redact)
        try:
            yield
        finally:
            for name in _URL_LOGGERS:
                logging.getLogger(name).removeFilter(redact)
            await anyio.to_thread.run_sync(running.__exit__, None, None, None)

    # FastAPIOffline serves the /docs page's Swagger UI from the package, not a CDN,
    # so the API documentation works on a machine without internet.
    app = FastAPIOffline(
        title="storyreel studio",
        summary="Projects, uploads and background renders of the local storyreel studio.",
        version=_version(), lifespan=lifespan,
    )
    app.state.studio = studio
    app.include_router(router)
    _add_error_handlers(app)
    _add_page(app, token)
    app.add_middleware(BodyLimitMiddleware, limits=studio.limits)
    app.add_middleware(AccessMiddleware, token=token)
    # Without a token only loopback names are served: a DNS-rebinding page is refused.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=(
        ["*"] if token is not None else sorted(set(allowed_hosts or ()) | LOOPBACK_HOSTS)))
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: refusals carry them too
    return app


def _version() -> str:
    from storyreel import __version__

    return __version__


#: The one place a studio error becomes an HTTP status.
_STATUS: tuple[tuple[type[StudioError], int], ...] = (
    (NotFound, 404), (Conflict, 409), (PreconditionFailed, 412), (TooLarge, 413),
    (OutOfRange, 422), (Invalid, 400), (Busy, 503))


def error_body(exc: StudioError) -> JSONResponse:
    """The JSON answer of a refused request: ``detail``, ``problems`` and extra fields."""
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    body: dict[str, Any] = {"detail": str(exc)}
    if exc.problems:
        body["problems"] = [p.model_dump() for p in exc.problems]
    body.update(exc.extra)
    headers: dict[str, str] | None = None
    if isinstance(exc, Busy):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, PreconditionFailed):
        headers = {"ETag": exc.etag}
    return JSONResponse(body, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StudioError)
    async def studio_error(request: Request, exc: StudioError) -> JSONResponse:
        return error_body(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_body(invalid_request(exc.errors()))


def _add_page(app: FastAPI, token: str | None) -> None:
    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        given = request.query_params.get("token")
        if token is not None and given is not None:
            response: Response = RedirectResponse("/", status_code=303)
            response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
            return response
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


class AccessMiddleware:
    """Who may talk to the studio.

    * With a token: every request carries it (header, cookie or ``?token=``), else 401.
    * Always: a state-changing request from another origin is refused (no CSRF; see
      :func:`~storyreel.service.security.cross_site`).
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """Why the request is refused (status and words), or ``None`` to serve it."""
        headers = Headers(scope=scope)
        if cross_site(scope, headers):
            return 403, "Requests from other websites are not allowed."
        if self.token is not None and not self._has_token(scope, headers):
            return 401, ("This studio needs its access token: open the link printed by "
                         "'storyreel serve' or send 'Authorization: Bearer <token>'.")
        return None

    def _has_token(self, scope: Scope, headers: Headers) -> bool:
        assert self.token is not None
        given: list[str] = []
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        given.append(headers.get("x-storyreel-token", ""))
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == TOKEN_COOKIE:
                given.append(value)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given.extend(query.get("token", []))
        expected = self.token.encode()
        return any(secrets.compare_digest(value.encode(), expected) for value in given if value)
