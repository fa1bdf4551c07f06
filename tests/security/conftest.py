"""Security tests share the studio fixtures of ``tests/service``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from studiokit import live_server, make_studio, studio

__all__ = ["live_server", "make_studio", "studio"]
