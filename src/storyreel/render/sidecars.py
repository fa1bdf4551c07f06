"""Files published beside the MP4: ``.srt`` / ``.vtt`` captions and ``.chapters.txt``."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

from storyreel.media.sidecar import (
    Cue,
    sidecar_path,
    write_srt,
    write_text_atomic,
    write_vtt,
    youtube_chapters,
)
from storyreel.model.project import Project
from storyreel.render.story import Story

__all__ = ["remove_sidecars", "write_sidecars"]


def write_sidecars(project: Project, story: Story, video: Path) -> tuple[list[Path], list[str]]:
    """Write the sidecar files for ``video``; returns their paths and any warnings."""
    plan = story.plan
    written: list[Path] = []
    warnings: list[str] = []
    try:
        if project.settings.subtitles.sidecar and story.captions:
            cues: list[Cue] = [(Fraction(c.start) / plan.fps, Fraction(c.end) / plan.fps, c.text)
                               for c in story.captions]
            for suffix, writer in ((".srt", write_srt), (".vtt", write_vtt)):
                path = sidecar_path(video, suffix)
                writer(path, cues)
                written.append(path)
        if story.chapters:
            text, notes = youtube_chapters(
                [(Fraction(c.start) / plan.fps, c.title) for c in story.chapters], plan.duration)
            warnings += [f"chapters: {note}" for note in notes]
            if text:
                path = sidecar_path(video, ".chapters.txt")
                write_text_atomic(path, text)
                written.append(path)
    except BaseException:
        remove_sidecars(written)
        raise
    return written, warnings


def remove_sidecars(paths: list[Path]) -> None:
    """Delete sidecars written for a video that was not published."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
