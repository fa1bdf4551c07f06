"""Generated narrations in the studio: which segments need one, and the narrate job.

A segment's narration is *recorded* (uploaded), *generated* (made by the voice from
its text), *outdated* (generated from a text or voice that has since changed),
*pending* (text only: spoken when the project renders) or *missing* (neither).
Generation runs as a job of kind ``narrate`` on the same queue, progress and cancel
as renders; a recorded narration is replaced only when the creator asks for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from storyreel.render.progress import Progress
from storyreel.service.store import SegmentRow

if TYPE_CHECKING:
    from storyreel.voice.narrate import Narrator

__all__ = ["NarrationState", "narration_from", "narration_manifest", "narration_state",
           "run_narration", "targets_for"]

NarrationState = Literal["recorded", "generated", "outdated", "pending", "missing"]


def _voice(options: dict[str, Any]) -> dict[str, Any]:
    from storyreel.model.project import Voice

    stored = (options.get("settings") or {}).get("voice") or {}
    try:
        return Voice.model_validate(stored).model_dump(mode="json")
    except ValueError:
        return Voice().model_dump(mode="json")


def narration_from(text: str, options: dict[str, Any]) -> str:
    """What a generated narration was made from (its text and voice), as stored."""
    return json.dumps({"text": text, "voice": _voice(options)}, sort_keys=True)


def narration_state(segment: SegmentRow, options: dict[str, Any]) -> NarrationState:
    """Where a segment's narration stands (see the module docstring)."""
    if segment.audio_file:
        if segment.narration_from is None:
            return "recorded"
        current = narration_from(segment.text, options)
        return "generated" if segment.narration_from == current else "outdated"
    return "pending" if segment.text.strip() else "missing"


def targets_for(segments: list[SegmentRow], options: dict[str, Any],
                segment_id: int | None, replace: bool) -> tuple[list[int], list[int]]:
    """Segments to narrate, and recorded ones left alone because nobody asked to replace them.

    Args:
        segments: The project's segments.
        options: The project's options (for its voice).
        segment_id: One segment, or ``None`` for every segment that needs it.
        replace: Also replace recorded narrations (only when the creator confirmed it).
    """
    chosen = [s for s in segments if segment_id is None or s.id == segment_id]
    targets, kept = [], []
    for segment in chosen:
        state = narration_state(segment, options)
        if not segment.text.strip():
            continue
        if state == "recorded" and not replace:
            kept.append(segment.id)
        elif segment_id is not None or state in ("pending", "outdated"):
            targets.append(segment.id)
    return targets, kept


def narration_manifest(title: str, options: dict[str, Any],
                       segments: list[SegmentRow]) -> dict[str, Any]:
    """A manifest holding just what the voice needs (pictures may still be missing)."""
    manifest: dict[str, Any] = {"title": title, "settings": {"voice": _voice(options)}}
    manifest["segments"] = [{"image": s.image_file or "missing.png", "text": s.text}
                            for s in segments]
    return manifest


def run_narration(spec: dict[str, Any], cancel: Callable[[], bool],
                  on_progress: Callable[[Progress], None],
                  narrator: Narrator | None = None) -> dict[str, Any]:
    """Synthesise the spec's ``narrate`` segments into the project's ``audio/`` folder.

    Runs in the render process. Returns the outcome payload with one entry per
    narration written: ``{"position", "file", "samples", "source"}``.

    Args:
        spec: The narrate job's :class:`~storyreel.service.protocol.RenderSpec`, as a dict.
        cancel: True once the job should stop.
        on_progress: Receives the segments done.
        narrator: Speaks the narrations (default: here, through the user's cache).

    Raises:
        RenderCancelled: ``cancel()`` turned true; no file is left half-written.
        ValidationFailed: Segments that cannot be spoken (each named).
    """
    from storyreel.errors import RenderCancelled
    from storyreel.model.load import project_from_dict
    from storyreel.voice.narrate import Narration, Narrator, export_narration, speak_segments

    base = Path(spec["base_dir"])
    project = project_from_dict(spec["manifest"], base_dir=base)
    positions: list[int] = spec["narrate"]
    written: list[dict[str, Any]] = []

    def check() -> None:
        if cancel():
            raise RenderCancelled("narration cancelled")

    def export(position: int, narration: Narration) -> None:
        name = f"audio/narration-{position + 1:03d}-{narration.entry.key[:10]}.wav"
        export_narration(narration.entry, base / name)
        written.append({"position": position, "file": name,
                        "samples": round(narration.seconds * 48_000), "source":
                        narration_from(project.segments[position].text, spec["options"])})
        on_progress(Progress("narrate", len(written), len(positions),
                             message="Generating narration..."))

    on_progress(Progress("narrate", 0, len(positions), message="Generating narration..."))
    try:
        speak_segments(project, positions, narrator or Narrator(), export, check)
    except BaseException:
        for item in written:  # nothing half-done: the job fails as a whole
            (base / item["file"]).unlink(missing_ok=True)
        raise
    written.sort(key=lambda item: int(item["position"]))
    return {"path": "", "size": 0, "frames": 0, "fps": "",
            "duration": sum(item["samples"] for item in written) / 48_000,
            "warnings": [], "narrations": written}
