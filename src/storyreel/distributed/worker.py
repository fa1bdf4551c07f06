"""``storyreel worker``: an RQ worker that encodes parts and speaks narrations."""

from __future__ import annotations

from rq import Queue, Worker

from storyreel.distributed.connection import connect, redis_errors
from storyreel.distributed.remote import QUEUE_NAME

__all__ = ["run_worker"]


def run_worker(url: str, *, name: str | None = None, burst: bool = False,
               queue: str = QUEUE_NAME) -> None:
    """Take parts and narrations from ``queue`` on the Redis at ``url`` until stopped
    (SIGINT/SIGTERM).

    Each job runs in a forked work-horse, so a job that crashes or is stopped leaves
    the worker running; a job whose work-horse dies is retried once.

    Raises:
        WorkerError: Redis cannot be reached, or went away.
    """
    connection = connect(url, timeout=None)
    try:
        with redis_errors(url):
            worker = Worker([Queue(queue, connection=connection)], connection=connection,
                            name=name)
            worker.work(burst=burst, with_scheduler=False)
    finally:
        connection.close()
