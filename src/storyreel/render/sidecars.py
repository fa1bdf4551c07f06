"""Files published beside the MP4: ``.srt`` / ``.vtt`` captions, ``.chapters.txt``,
``.words.json`` and the cover picture, ``-thumbnail.jpg``.

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
    TimedWord,
    format_srt,
    format_vtt,
    format_words_json,
    sidecar_path,
    write_bytes_atomic,
    youtube_chapters,
)
from storyreel.model.project import Project
from storyreel.render.output import TEMP_SUFFIX
from storyreel.render.thumbnail import THUMBNAIL_SUFFIX, thumbnail_jpeg
from storyreel.timeline.story import Story

__all__ = ["SIDECAR_SUFFIXES", "Sidecars", "caption_cues", "prepare_sidecars"]

SIDECAR_SUFFIXES = (".srt", ".vtt", ".chapters.txt", ".words.json", THUMBNAIL_SUFFIX)


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


def caption_cues(story: Story) -> tuple[list[Cue], list[list[TimedWord]]]:
    """The story's captions and their words in seconds (from their frames)."""
    fps = story.plan.fps
    cues: list[Cue] = [(Fraction(c.start) / fps, Fraction(c.end) / fps, c.text)
                       for c in story.captions]
    words = [[(Fraction(w.start) / fps, Fraction(w.end) / fps, w.text) for w in c.words]
             for c in story.captions]
    return cues, words


def prepare_sidecars(project: Project, story: Story, video: Path) -> Sidecars:
    """Write the sidecar files of ``video`` to temp names beside it."""
    plan = story.plan
    texts: list[tuple[str, str | bytes]] = []
    warnings: list[str] = []
    options = project.settings.subtitles
    if (options.sidecar or options.words_json) and story.captions:
        cues, words = caption_cues(story)
        if options.sidecar:
            texts += [(".srt", format_srt(cues)), (".vtt", format_vtt(cues, words))]
        if options.words_json:
            listed = [(word, caption.segment + 1, number)
                      for number, (caption, timed) in enumerate(
                          zip(story.captions, words, strict=True), start=1)
                      for word in timed]
            texts.append((".words.json", format_words_json(listed, plan.fps)))
    if story.chapters:
        text, notes = youtube_chapters(
            [(Fraction(c.start) / plan.fps, c.title) for c in story.chapters], plan.duration)
        warnings += [f"chapters: {note}" for note in notes]
        if text:
            texts.append((".chapters.txt", text))
    if project.settings.thumbnail is not None:
        cover, notes = thumbnail_jpeg(project, story)
        warnings += notes
        texts.append((THUMBNAIL_SUFFIX, cover))
    sidecars = Sidecars(video, [], warnings)
    try:
        for suffix, content in texts:
            final = sidecar_path(video, suffix)
            temp = final.with_name(
                f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
            write_bytes_atomic(temp, content.encode("utf-8") if isinstance(content, str)
                               else content)
            sidecars.pending.append((temp, final))
    except BaseException:
        sidecars.discard()
        raise
    return sidecars
