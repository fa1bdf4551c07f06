"""Files published beside the MP4: ``.srt`` / ``.vtt`` captions and ``.chapters.txt``.

They are written to hidden temp files first and renamed into place only once the
video itself has been published, so a failed render never touches the captions of
the video already there; a new render removes sidecars it no longer makes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from storyreel.errors import output_error
from storyreel.media.sidecar import (
    Cue,
    format_srt,
    format_vtt,
    sidecar_path,
    write_text_atomic,
    youtube_chapters,
)
from storyreel.model.project import Project
from storyreel.render.output import TEMP_SUFFIX
from storyreel.timeline.story import Story

__all__ = ["SIDECAR_SUFFIXES", "Sidecars", "prepare_sidecars"]

SIDECAR_SUFFIXES = (".srt", ".vtt", ".chapters.txt")


@dataclass
class Sidecars:
    """Sidecar files written to temp names, waiting for the video to be published."""

    video: Path
    pending: list[tuple[Path, Path]]  # (temp, final)
    warnings: list[str]

    @property
    def finals(self) -> list[Path]:
        """Where the files will be once published."""
        return [final for _, final in self.pending]

    def publish(self) -> list[Path]:
        """Rename every file into place and remove sidecars of ``video`` not made now."""
        for temp, final in self.pending:
            try:
                os.replace(temp, final)
            except OSError as exc:
                raise output_error(exc, final) from exc
        for suffix in SIDECAR_SUFFIXES:
            stale = sidecar_path(self.video, suffix)
            if stale not in self.finals:
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
        published, self.pending = self.finals, []
        return published

    def discard(self) -> None:
        """Remove the temp files (the render failed)."""
        for temp, _ in self.pending:
            with contextlib.suppress(OSError):
                temp.unlink()
        self.pending = []


def prepare_sidecars(project: Project, story: Story, video: Path) -> Sidecars:
    """Write the sidecar files of ``video`` to temp names beside it."""
    plan = story.plan
    texts: list[tuple[str, str]] = []
    warnings: list[str] = []
    if project.settings.subtitles.sidecar and story.captions:
        cues: list[Cue] = [(Fraction(c.start) / plan.fps, Fraction(c.end) / plan.fps, c.text)
                           for c in story.captions]
        texts += [(".srt", format_srt(cues)), (".vtt", format_vtt(cues))]
    if story.chapters:
        text, notes = youtube_chapters(
            [(Fraction(c.start) / plan.fps, c.title) for c in story.chapters], plan.duration)
        warnings += [f"chapters: {note}" for note in notes]
        if text:
            texts.append((".chapters.txt", text))
    sidecars = Sidecars(video, [], warnings)
    try:
        for suffix, text in texts:
            final = sidecar_path(video, suffix)
            temp = final.with_name(
                f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
            write_text_atomic(temp, text)
            sidecars.pending.append((temp, final))
    except BaseException:
        sidecars.discard()
        raise
    return sidecars
