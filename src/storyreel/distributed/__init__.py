"""Renders spread over machines: the parts of a render encoded by workers through Redis (RQ).

The submitting process plans the render, finds which parts the cache lacks and
queues one RQ job per part on ``storyreel-parts``; ``storyreel worker`` processes on
any machine that mounts the shared folder at the same path take them, draw and encode
the part, and rename it into the render's work folder. The submitter encodes the
sound track first, then queues the parts, follows their progress through
``job.meta``, re-queues the part of a worker that stopped answering, and joins the
parts once all are there::

    submitter:  plan ─ sound track ─ queue parts ─ wait ─ check ─ join ─ verify ─ publish
    workers:                              └─ part 1, part 2, ... (encode, rename)

Needs the ``workers`` extra (``pip install storyreel[workers]``).
"""

from storyreel.distributed.remote import QUEUE_NAME, RemoteParts
from storyreel.distributed.worker import run_worker

__all__ = ["QUEUE_NAME", "RemoteParts", "run_worker"]
