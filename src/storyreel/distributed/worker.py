"""``storyreel worker``: an RQ worker that encodes parts and speaks narrations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rq import Worker

from storyreel.distributed.connection import connect, redis_errors
from storyreel.distributed.jobs import SERIALIZER, job_class, open_queue
from storyreel.distributed.messages import Shared
from storyreel.distributed.remote import QUEUE_NAME
from storyreel.distributed.tasks import MONITOR_SECONDS
from storyreel.errors import WorkerError

__all__ = ["run_worker"]


def run_worker(url: str, *, shared: Sequence[Path], name: str | None = None,
               burst: bool = False, queue: str = QUEUE_NAME) -> None:
    """Take parts and narrations from ``queue`` on the Redis at ``url`` until stopped
    (SIGINT/SIGTERM).

    Jobs and results are JSON; the worker runs only storyreel's own tasks, and they read
    and write only inside the ``shared`` folders (anything else is refused). Each job
    runs in a forked work-horse, so a job that crashes or is stopped leaves the worker
    running; a job whose work-horse dies is retried once.

    Raises:
        WorkerError: No shared folder is given or one is not a folder; Redis cannot be
            reached, or went away.
    """
    folders = shared_folders(shared)
    connection = connect(url, timeout=None)
    try:
        with redis_errors(url):
            jobs = job_class(folders)
            worker = Worker([open_queue(queue, connection, jobs)], connection=connection,
                            name=name, serializer=SERIALIZER, job_class=jobs,
                            job_monitoring_interval=MONITOR_SECONDS)
            worker.work(burst=burst, with_scheduler=False)
    finally:
        connection.close()


def shared_folders(folders: Sequence[Path]) -> Shared:
    """The folders a worker may read and write, checked.

    Raises:
        WorkerError: None is given, or one is not a folder.
    """
    if not folders:
        raise WorkerError("name the folder(s) the renders share with --shared DIR: a worker "
                          "reads and writes only inside them")
    for folder in folders:
        if not Path(folder).expanduser().is_dir():
            raise WorkerError(f"the shared folder {folder} is not a folder on this machine")
    return Shared.of(folders)
