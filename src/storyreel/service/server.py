"""Running the studio: checks the address and the data folder, then serves with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

from storyreel.service.app import create_app
from storyreel.service.config import (
    DataDirLock,
    check_config,
    default_data_dir,
    env_token,
    is_loopback,
)

__all__ = ["run_server"]

log = logging.getLogger("storyreel.service")


def run_server(*, host: str = "127.0.0.1", port: int = 8000, data_dir: Path | None = None,
               token: str | None = None, max_jobs: int = 1) -> None:
    """Serve the studio until interrupted (blocking).

    Args:
        host: Address to bind. Anything but a loopback address needs a token.
        port: TCP port.
        data_dir: Data folder (default: :func:`default_data_dir`).
        token: Access token every request must carry (default: ``$STORYREEL_TOKEN``).
        max_jobs: Renders that may run at the same time.

    Raises:
        StudioConfigError: A non-loopback address without a token, a bad port or a job count
            outside 1-:data:`~storyreel.service.config.MAX_JOBS`.
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
    log.info("storyreel studio: data in %s, serving http://%s:%d/", folder, host, port)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False,
                timeout_graceful_shutdown=5)
