"""The local studio: a web service and page for projects, uploads and background renders.

>>> from storyreel.service import run_server
>>> run_server(port=8000)                                   # doctest: +SKIP

The names below are imported on first use, so a render or narration process that
imports ``storyreel.service.worker`` never loads the web framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyreel.service.app import create_app
    from storyreel.service.config import StudioConfigError, default_data_dir
    from storyreel.service.jobs import Dispatcher, LocalDispatcher, ProcessRunner, RenderRunner
    from storyreel.service.limits import Limits
    from storyreel.service.server import run_server

__all__ = [
    "Dispatcher",
    "Limits",
    "LocalDispatcher",
    "ProcessRunner",
    "RenderRunner",
    "StudioConfigError",
    "create_app",
    "default_data_dir",
    "run_server",
]

_HOMES = {
    "Dispatcher": "jobs", "Limits": "limits", "LocalDispatcher": "jobs",
    "ProcessRunner": "jobs", "RenderRunner": "jobs", "StudioConfigError": "config",
    "create_app": "app", "default_data_dir": "config", "run_server": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'storyreel.service' has no attribute {name!r}")
    return getattr(importlib.import_module(f"storyreel.service.{home}"), name)
