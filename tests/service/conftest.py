"""Studio fixtures: apps on temporary data folders (lifespan included) and live servers."""

from studiokit import live_server, make_studio, studio

__all__ = ["live_server", "make_studio", "studio"]
