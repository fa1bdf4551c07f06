"""Studio fixtures: apps on temporary data folders (lifespan included) and live servers;
one Chromium per browser-test module."""

from browserkit import chromium
from studiokit import live_server, make_studio, studio

__all__ = ["chromium", "live_server", "make_studio", "studio"]
