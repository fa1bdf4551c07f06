"""Editable timelines for video editors, on the exact frame grid of storyreel's render.

:func:`export_project` speaks the narrations a render would speak, plans the story
with the render's own :func:`~storyreel.timeline.story.build_story`, turns the plan
into an OpenTimelineIO timeline (:func:`story_timeline`) and writes it with the
OpenTimelineIO adapter of the chosen format, with the captions as an SRT beside it.
What an adapter cannot say (each still's Ken Burns motion as keyframes, a card's title)
is added to the FCPXML and Kdenlive files by :mod:`storyreel.export.editors`.
"""

from storyreel.export.timeline import (
    FORMATS,
    ExportResult,
    export_project,
    story_timeline,
)

__all__ = ["FORMATS", "ExportResult", "export_project", "story_timeline"]
