"""Renders spread over machines: parts encoded and narrations spoken by workers through Redis (RQ).

The submitting process plans the render, finds which parts the cache lacks and
queues one RQ job per part on ``storyreel-parts``; ``storyreel worker`` processes on
any machine that mounts the shared folder at the same path take them, draw and encode
the part, and rename it into the render's work folder. The submitter encodes the
sound track first, then queues the parts, follows their progress through
``job.meta``, re-queues the part of a worker that stopped answering, and joins the
parts once all are there::

    submitter:  plan ─ sound track ─ queue parts ─ wait ─ check ─ join ─ verify ─ publish
    workers:                              └─ part 1, part 2, ... (encode, rename)

Narrations go the same way, before the plan (a text's length shapes the timeline):
:class:`RemoteSpeaker` queues one job per text its narration cache lacks, keyed by
the cache key, and workers write the speech and its word timings into that cache,
which must be in the shared folder too (:mod:`storyreel.distributed.speech`).

Nothing read from Redis is trusted: jobs, progress and answers are JSON, a worker runs
only storyreel's own tasks (:mod:`storyreel.distributed.jobs`), and every request and
answer is validated, its paths inside the worker's shared folders, before use
(:mod:`storyreel.distributed.messages`). Still, whoever can write to the Redis or the
shared folder can change what renders show: both must be trusted.

Needs the ``workers`` extra (``pip install storyreel[workers]``).
"""

from storyreel.distributed.remote import QUEUE_NAME, RemoteParts
from storyreel.distributed.speech import RemoteSpeaker
from storyreel.distributed.worker import run_worker

__all__ = ["QUEUE_NAME", "RemoteParts", "RemoteSpeaker", "run_worker"]
