"""RQ jobs as storyreel uses them: JSON on the wire, and only storyreel's tasks run.

RQ's default serializer is pickle, which runs code while it reads; every queue, job and
worker storyreel makes uses :data:`SERIALIZER` (JSON) instead, so reading a job, its
meta or its result never runs anything. A worker resolves a job's function through
:class:`StoryreelJob`, which looks its name up in :data:`~storyreel.distributed.tasks.TASKS`
rather than importing it: a job naming anything else (``os.system``), carrying an
instance, keyword arguments or callbacks, fails without anything being imported or run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, NoReturn

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from storyreel.distributed.messages import Shared
from storyreel.distributed.tasks import TASKS
from storyreel.errors import WorkerError
from storyreel.model.project import printable

__all__ = ["SERIALIZER", "StoryreelJob", "fetch_jobs", "job_class", "open_queue"]

#: How every storyreel job, meta and result is written to Redis.
SERIALIZER = JSONSerializer


class StoryreelJob(Job):
    """An RQ job whose function can only be one of storyreel's tasks.

    RQ imports a job's function (and its success, failure and stopped callbacks) by the
    name stored in Redis; here the name is looked up in the allow-list instead, and
    callbacks and webhooks a job carries are dropped on reading (storyreel sets none).
    """

    #: The folders the worker's tasks may read and write (see :func:`job_class`).
    shared: ClassVar[Shared] = Shared(())
    _foreign: str | None = None

    def restore(self, raw_data: Any) -> Any:
        """Read the job's hash, dropping callbacks and webhooks before RQ can use them."""
        restored = super().restore(raw_data)
        carried = [name for name in ("_success_callback_name", "_failure_callback_name",
                                     "_stopped_callback_name") if getattr(self, name, None)]
        if carried or self.webhooks:
            self._foreign = "it carries callbacks or webhooks"
        self._success_callback_name = self._failure_callback_name = None
        self._stopped_callback_name = None
        self.webhooks = []
        if self.description:  # the worker logs it: one bounded line, no control characters
            self.description = " ".join(printable(self.description).split())[:200]
        return restored

    @property
    def func(self) -> Callable[..., Any]:
        """The storyreel task the job names, its shared folders bound.

        Raises:
            WorkerError: The job names another function, or carries what no storyreel
                job does (an instance, keyword arguments, callbacks, other arguments).
            rq.exceptions.DeserializationError: The job is not JSON.
        """
        name = self.func_name
        task = TASKS.get(name) if isinstance(name, str) else None
        if task is None:
            self._refuse(f"{str(name)[:100]!r} is not one of storyreel's tasks")
        elif self.instance is not None or self.kwargs or len(self.args) != 1:
            self._refuse("its arguments are not one storyreel request")
        elif self._foreign:
            self._refuse(self._foreign)
        else:
            return functools.partial(task, shared=self.shared)

    def _refuse(self, why: str) -> NoReturn:
        raise WorkerError(f"refused job {self.id}: {why}; nothing was run")


def job_class(shared: Shared) -> type[StoryreelJob]:
    """The job class of a worker whose tasks read and write inside ``shared``."""
    return type("StoryreelWorkerJob", (StoryreelJob,), {"shared": shared})


def open_queue(name: str, connection: Redis,
               jobs: type[StoryreelJob] = StoryreelJob) -> Queue:
    """The queue ``name``, reading and writing JSON jobs of class ``jobs``."""
    return Queue(name, connection=connection, serializer=SERIALIZER, job_class=jobs)


def fetch_jobs(ids: Iterable[str], connection: Redis) -> list[StoryreelJob | None]:
    """The jobs ``ids`` (``None`` for one that is gone), read as JSON."""
    return StoryreelJob.fetch_many(list(ids), connection=connection,  # type: ignore[return-value]
                                   serializer=SERIALIZER)
