"""Whole-project checks: every problem at once, each naming the segment and the file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storyreel.errors import MediaError, Problem
from storyreel.media.audio import SAMPLE_RATE, decode_audio
from storyreel.media.image import probe_image
from storyreel.model.project import Project

__all__ = ["Analysis", "analyse_project"]


@dataclass(frozen=True)
class Analysis:
    """What the media of a project turned out to be.

    Attributes:
        problems: Everything wrong, in segment order; empty when the project can render.
        narration_samples: Narration length of each segment at 48 kHz (0 where unusable).
        image_sizes: Width and height of each still ((0, 0) where unusable).
    """

    problems: list[Problem]
    narration_samples: list[int]
    image_sizes: list[tuple[int, int]]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def analyse_project(
    project: Project, on_segment: Callable[[int], None] | None = None
) -> Analysis:
    """Open every still and decode every narration, collecting all problems.

    Args:
        project: The validated project model.
        on_segment: Called with the number of segments checked so far.
    """
    problems: list[Problem] = []
    lengths: list[int] = []
    sizes: list[tuple[int, int]] = []
    for number, segment in enumerate(project.segments, start=1):
        try:
            sizes.append(probe_image(segment.image, number))
        except MediaError as exc:
            problems.append(_named(exc.problem, "image"))
            sizes.append((0, 0))
        try:
            lengths.append(decode_audio(segment.audio, number).shape[1])
        except MediaError as exc:
            problems.append(_named(exc.problem, "audio"))
            lengths.append(0)
        else:
            if lengths[-1] < SAMPLE_RATE // 100:
                problems.append(Problem("narration is shorter than 10 ms", number,
                                        segment.audio, "audio"))
        if on_segment is not None:
            on_segment(number)
    return Analysis(problems, lengths, sizes)


def _named(problem: Problem, field: str) -> Problem:
    return Problem(problem.message, problem.segment, problem.path, field)
