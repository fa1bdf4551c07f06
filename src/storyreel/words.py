"""The words a creator reads: render phases, job states and field names, in one place.

The CLI's progress bar, the studio's API (``GET /api/words``) and the studio page all
read these tables; none keeps a list of its own.
"""

from __future__ import annotations

import re

__all__ = [
    "FIELDS",
    "PHASES",
    "STATES",
    "creator_message",
    "field_words",
    "phase_words",
    "state_words",
    "words",
]

#: Each render phase, as the creator sees it.
PHASES: dict[str, str] = {
    "": "Waiting",
    "starting": "Starting",
    "narrate": "Speaking the narration",
    "analyse": "Checking pictures and recordings",
    "loudness": "Evening out the sound",
    "export": "Making the video",
    "verify": "Checking the finished file",
    "done": "Done",
}

#: Each state of a studio job, and of a project never rendered (``new``).
STATES: dict[str, str] = {
    "new": "Not made yet",
    "queued": "Waiting to start",
    "processing": "Making the video",
    "cancelling": "Stopping",
    "completed": "Ready",
    "failed": "Did not finish",
    "cancelled": "Stopped",
}

#: Project fields, by their manifest path, as a creator calls them.
FIELDS: dict[str, str] = {
    "title": "Title",
    "width": "Width",
    "height": "Height",
    "fps": "Frame rate",
    "text": "Narration text",
    "image": "Picture",
    "audio": "Narration recording",
    "chapter": "Chapter",
    "settings.platform": "Platform",
    "settings.preset": "Encoding speed",
    "settings.gap": "Pause after each segment",
    "settings.video_bitrate": "Video quality (bitrate)",
    "settings.audio_bitrate": "Sound quality (bitrate)",
    "settings.ken_burns.zoom": "Motion: zoom",
    "settings.ken_burns.direction": "Motion: direction",
    "settings.subtitles.size": "Caption size",
    "settings.subtitles.min_words": "Caption: fewest words",
    "settings.subtitles.max_words": "Caption: most words",
    "settings.subtitles.outline": "Caption outline",
    "settings.transitions.crossfade": "Crossfade",
    "settings.transitions.fade_in": "Fade in",
    "settings.transitions.fade_out": "Fade out",
    "settings.music.volume": "Music volume",
    "settings.music.duck": "Music under the voice",
    "settings.loudness.target": "Loudness target",
    "settings.logo.scale": "Logo size",
    "settings.logo.opacity": "Logo opacity",
}

# pydantic's phrasing -> plain words (the model's own messages are already plain).
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"must be \1 or more"),
    (re.compile(r"Input should be less than or equal to (\S+)"), r"must be \1 or less"),
    (re.compile(r"Input should be greater than (\S+)"), r"must be more than \1"),
    (re.compile(r"Input should be less than (\S+)"), r"must be less than \1"),
    (re.compile(r"Input should be a valid (number|integer)[^.;]*"), r"must be a number"),
    (re.compile(r"Input should be (.+)"), r"must be \1"),
    (re.compile(r"Extra inputs are not permitted"), "is not an option the studio knows"),
    (re.compile(r"(\d+) is odd; H\.264 in yuv420p needs an even size"),
     r"\1 pixels is odd; video needs an even number"),
)


def phase_words(phase: str) -> str:
    """A render phase in words (an unknown phase is shown as it is, capitalised)."""
    return PHASES.get(phase, phase.replace("_", " ").capitalize())


def state_words(state: str) -> str:
    """A job state in words."""
    return STATES.get(state, state.capitalize())


def field_words(field: str | None) -> str | None:
    """A manifest field path as a creator calls it (``None`` stays ``None``)."""
    if not field:
        return None
    if field in FIELDS:
        return FIELDS[field]
    last = field.rsplit(".", 1)[-1]
    return last.replace("_", " ").capitalize()


def creator_message(message: str) -> str:
    """A validation message rewritten without the model's jargon."""
    for pattern, replacement in _REWRITES:
        message = pattern.sub(replacement, message)
    return message


def words() -> dict[str, dict[str, str]]:
    """Every table, for the studio page."""
    return {"phases": dict(PHASES), "states": dict(STATES), "fields": dict(FIELDS)}
