"""Running the studio: checks the address and the data folder, then serves with uvicorn."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from storyreel.errors import StudioConfigError
from storyreel.service.app import create_app
from storyreel.service.config import (
    DataDirLock,
    check_config,
    default_data_dir,
    env_token,
    is_loopback,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["listening_socket", "run_server", "serve_on"]

log = logging.getLogger("storyreel.service")


def run_server(*, host: str = "127.0.0.1", port: int = 8000, data_dir: Path | None = None,
               token: str | None = None, max_jobs: int = 1,
               on_listening: Callable[[int], None] | None = None) -> None:
    """Serve the studio until interrupted (blocking).

    Args:
        host: Address to bind. Anything but a loopback address needs a token.
        port: TCP port; 0 for any free one (``on_listening`` says which).
        data_dir: Data folder (default: :func:`default_data_dir`).
        token: Access token every request must carry (default: ``$STORYREEL_TOKEN``).
        max_jobs: Renders that may run at the same time.
        on_listening: Called with the port once it is bound, before requests are served.

    Raises:
        StudioConfigError: A non-loopback address without a token, a bad port, a port
            that cannot be bound, or a job count outside
            1-:data:`~storyreel.service.config.MAX_JOBS`.
    """
    import uvicorn

    token = token or env_token()
    check_config(host=host, port=port, token=token, max_jobs=max_jobs)
    folder = (data_dir or default_data_dir()).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    probe = DataDirLock(folder)
    probe.acquire()  # a clear error now, rather than a failed start-up inside uvicorn
    probe.release()
    app = create_app(folder, token=token, max_jobs=max_jobs,
                     allowed_hosts=None if is_loopback(host) else {host})
    with listening_socket(host, port) as listener:
        bound = int(listener.getsockname()[1])
        log.info("storyreel studio: data in %s, serving http://%s:%d/", folder, host, bound)
        if on_listening is not None:
            on_listening(bound)
        serve_on(listener, uvicorn.Config(app, log_level="info", proxy_headers=False,
                                          timeout_graceful_shutdown=5))


def serve_on(listener: socket.socket, config: uvicorn.Config) -> None:
    """Serve ``config``'s app on ``listener`` (from :func:`listening_socket`) until Ctrl-C
    or SIGTERM, which end it cleanly, as with ``uvicorn.run``."""
    import uvicorn

    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[listener])


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: any free one) and listening, as uvicorn
    would bind it, so that the port is known, and taken, before the address is shown.

    Raises:
        StudioConfigError: The port cannot be bound (in use, or not allowed).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StudioConfigError(f"cannot listen on {host}:{port}: {reason}") from exc
