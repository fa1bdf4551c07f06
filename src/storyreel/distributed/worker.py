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

__all__ = ["StoryreelWorker", "run_worker"]

#: How long the worker's command listener waits for a message at a time; stopping the
#: worker waits for the listener, so this bounds how long SIGINT/SIGTERM take.
LISTEN_SECONDS = 0.5


class StoryreelWorker(Worker):
    """RQ's worker, with a command listener that stops within :data:`LISTEN_SECONDS`.

    RQ listens for commands (stop a job, shut down) on a thread that waits up to 60 s for
    a message at a time, and redis-py 8 waits for that thread when the worker stops: a
    worker told to stop while idle could take a minute to go.
    """

    def subscribe(self) -> None:
        """Listen for commands on this worker's channel (as RQ does, waiting less)."""
        self.log.info("Worker %s: subscribing to channel %s", self.name,
                      self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # rq types it None
            sleep_time=LISTEN_SECONDS, daemon=True,
            exception_handler=self._pubsub_exception_handler)


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
            worker = StoryreelWorker([open_queue(queue, connection, jobs)], connection=connection,
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
