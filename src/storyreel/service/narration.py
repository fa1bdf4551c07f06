"""Generated narrations in the studio: which segments need one, and the narrate job.

A segment's narration is *recorded* (uploaded), *changed* (uploaded, and the text was
edited since), *generated* (made by the voice from its text), *outdated* (generated
from a text or voice that has since changed), *pending* (text only: spoken when the
project renders) or *missing* (neither).
Generation runs as a job of kind ``narrate`` on the same queue, progress and cancel
as renders; a recorded narration is replaced only when the creator asks for it.

A render never uses an outdated narration: the manifest leaves it out, and the render
job speaks those segments again first, with the pending ones (see
:func:`respeak_positions`). A changed
recording is kept and used, with a warning naming its segment.

``narration_from`` holds what a segment's audio was made from: for a generated
narration its text and voice (:func:`narration_from`), for an upload the text it had
then (:func:`recording_from`); ``None`` for uploads older than that record.
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

__all__ = ["NarrationState", "changed_recordings", "is_generated", "narration_from",
           "narration_manifest", "narration_state", "recording_from", "respeak",
           "respeak_positions", "run_narration", "targets_for"]

NarrationState = Literal["recorded", "changed", "generated", "outdated", "pending", "missing"]


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


def recording_from(text: str) -> str:
    """What an uploaded recording is recorded against (the segment's text then), as stored."""
    return json.dumps({"recorded": text})


def _recorded_text(source: str | None) -> str | None:
    """The text an upload was recorded against (``None``: not an upload, or not known)."""
    if source is None:
        return None
    try:
        value = json.loads(source)
    except ValueError:
        return None
    text = value.get("recorded") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def is_generated(segment: SegmentRow) -> bool:
    """True when the segment's audio was made by the voice (not uploaded)."""
    source = segment.narration_from
    return bool(segment.audio_file) and source is not None and _recorded_text(source) is None


def narration_state(segment: SegmentRow, options: dict[str, Any]) -> NarrationState:
    """Where a segment's narration stands (see the module docstring)."""
    if segment.audio_file and not is_generated(segment):
        recorded = _recorded_text(segment.narration_from)
        return "changed" if recorded is not None and recorded != segment.text else "recorded"
    if segment.audio_file:
        current = narration_from(segment.text, options)
        return "generated" if segment.narration_from == current else "outdated"
    return "pending" if segment.text.strip() else "missing"


def respeak_positions(segments: list[SegmentRow], options: dict[str, Any]) -> list[int]:
    """0-based segments a render speaks before it uses them: those whose generated
    narration is out of date, and those with text and no narration yet. Either way the
    segment keeps what was spoken, so its length is known from then on."""
    return [i for i, s in enumerate(segments)
            if s.text.strip() and narration_state(s, options) in ("outdated", "pending")]


def changed_recordings(segments: list[SegmentRow], options: dict[str, Any]) -> list[int]:
    """1-based numbers of the segments whose uploaded recording predates their text."""
    return [n for n, s in enumerate(segments, start=1)
            if narration_state(s, options) == "changed"]


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
        if state in ("recorded", "changed") and not replace:
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
                  narrator: Narrator | None = None,
                  message: str = "Generating narration...") -> dict[str, Any]:
    """Synthesise the spec's ``narrate`` segments into the project's ``audio/`` folder.

    Runs in the render process. Returns the outcome payload with one entry per
    narration written: ``{"position", "file", "samples", "source"}``.

    Args:
        spec: The narrate job's :class:`~storyreel.service.protocol.RenderSpec`, as a dict.
        cancel: True once the job should stop.
        on_progress: Receives the segments done.
        narrator: Speaks the narrations (default: here, through the user's cache).
        message: The progress message.

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
        on_progress(Progress("narrate", len(written), len(positions), message=message))

    on_progress(Progress("narrate", 0, len(positions), message=message))
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


def respeak(spec: dict[str, Any], cancel: Callable[[], bool],
            on_progress: Callable[[Progress], None],
            narrator: Narrator | None = None) -> list[dict[str, Any]]:
    """Before a render: speak its out-of-date and pending segments (``spec["narrate"]``)
    and put the new files in its manifest, so the video says the text as it is now.

    Returns:
        The narrations written (as :func:`run_narration` lists them), for the studio to
        attach to their segments once the render succeeded.
    """
    from storyreel.words import RESPEAKING

    count = len(spec.get("narrate") or [])
    if not count:
        return []
    message = RESPEAKING.format(count=count, s="s" if count != 1 else "")
    written: list[dict[str, Any]] = run_narration(spec, cancel, on_progress, narrator,
                                                  message)["narrations"]
    for item in written:
        spec["manifest"]["segments"][item["position"]]["audio"] = item["file"]
    return written
