"""``python -m storyreel``."""

from storyreel.cli import run

run()
