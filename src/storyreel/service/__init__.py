"""The local studio: a web service and page for projects, uploads and background renders.

>>> from storyreel.service import run_server
>>> run_server(port=8000)                                   # doctest: +SKIP
"""

from storyreel.service.app import create_app
from storyreel.service.jobs import Dispatcher, LocalDispatcher, ProcessRunner, RenderRunner
from storyreel.service.server import StudioConfigError, default_data_dir, run_server
from storyreel.service.uploads import Limits

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
