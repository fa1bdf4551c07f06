"""A data folder's studio, made and run the one way the web app and the MCP server share.

:func:`make_studio` builds the studio of a folder (its database and render workers, not
yet started); :func:`studio_running` holds the folder for one server, opens the
database, clears what a server that died left behind, and runs the workers for as long as
its block lasts, undoing each step on the way out, also on error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storyreel.service.config import DataDirLock
from storyreel.service.jobs import LocalDispatcher, RenderRunner
from storyreel.service.limits import Limits
from storyreel.service.store import Store
from storyreel.service.studio import Studio
from storyreel.service.uploads import sweep_temps

__all__ = ["make_studio", "studio_running"]

log = logging.getLogger("storyreel.service")


def make_studio(data_dir: Path, *, max_jobs: int = 1, limits: Limits | None = None,
                runner: RenderRunner | None = None) -> Studio:
    """The studio of ``data_dir`` (made when missing), its workers not started.

    Args:
        data_dir: Holds ``studio.db`` and the project media.
        max_jobs: Renders that may run at the same time.
        limits: Upload caps (default :class:`~storyreel.service.limits.Limits`).
        runner: Runs one render (default: a child process per render).
    """
    data_dir = Path(data_dir).expanduser().absolute()
    (data_dir / "projects").mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "studio.db")
    dispatcher = LocalDispatcher(store, data_dir / "projects", runner=runner, max_jobs=max_jobs)
    return Studio(data_dir, store, dispatcher, limits or Limits())


@contextmanager
def studio_running(studio: Studio) -> Iterator[Studio]:
    """``studio`` serving: its folder locked against a second server, its database open,
    uploads and renders a stopped server left behind dealt with, its workers running.

    Raises:
        StudioConfigError: Another server holds the folder.
    """
    lock = DataDirLock(studio.data_dir)
    lock.acquire()
    try:
        studio.store.open()
        try:
            swept = sweep_temps(studio.media_root)
            if swept:
                log.info("removed %d upload(s) left by a server that stopped mid-upload",
                         len(swept))
            retried, failed = studio.store.recover_interrupted(
                "The server stopped during the render")
            if retried or failed:
                log.warning("renders interrupted by a server stop: retrying %s, failed %s",
                            retried, failed)
            studio.dispatcher.start()
            try:
                yield studio
            finally:
                studio.dispatcher.stop()
                studio.moments.close()  # the pictures kept open for frame previews
        finally:
            studio.store.close()
    finally:
        lock.release()
