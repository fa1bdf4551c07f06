"""Validated, frozen project and settings models: the single source of bounds."""

from storyreel.model.fps import FrameRate, parse_fps
from storyreel.model.load import load_project, project_from_dict
from storyreel.model.project import KenBurns, Project, RenderSettings, Segment, Voice

__all__ = [
    "FrameRate",
    "KenBurns",
    "Project",
    "RenderSettings",
    "Segment",
    "Voice",
    "load_project",
    "parse_fps",
    "project_from_dict",
]
