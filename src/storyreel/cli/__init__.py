"""The ``storyreel`` command line: parse -> run -> exit code. The only place that prints."""

from storyreel.cli.main import main, run

__all__ = ["main", "run"]
