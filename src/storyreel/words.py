"""The words a creator reads: render phases, job states, option labels, units and help,
in one place.

The CLI's progress bar, the studio's API (``GET /api/words``) and the studio page all
read these tables; none keeps a list of its own.
"""

from __future__ import annotations

import re
from typing import Any

from storyreel.model.language import DEFAULT_LANGUAGE, LANGUAGES
from storyreel.model.platforms import PLATFORMS
from storyreel.model.visual import CROPS, FITS, ClipOptions
from storyreel.timeline.captions import count_words

__all__ = [
    "CHOICES",
    "CLIP",
    "FIELDS",
    "NARRATION",
    "OPTION_GROUPS",
    "PHASES",
    "RECORDING_CHANGED",
    "RESPEAKING",
    "STATES",
    "WORDS_PER_SECOND",
    "clip_words",
    "creator_message",
    "estimated_seconds",
    "field_words",
    "parts_words",
    "phase_words",
    "platform_shapes",
    "state_words",
    "words",
]

#: Each render phase, as the creator sees it.
PHASES: dict[str, str] = {
    "": "Waiting",
    "starting": "Starting",
    "narrate": "Generating narration",
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

def _field(path: str, label: str, help_text: str, unit: str = "",
           scale: float = 1.0) -> dict[str, object]:
    return {"path": path, "label": label, "help": help_text, "unit": unit, "scale": scale}


#: The studio's option panel: groups of fields with a label, a unit, the factor from the
#: stored value to the shown one, and one line of help. Bounds come from the model.
OPTION_GROUPS: list[tuple[str, list[dict[str, object]]]] = [
    ("Format", [
        _field("settings.platform", "Platform", "Sets the size, frame rate and where captions "
               "stay clear of the app's own buttons."),
        _field("settings.platforms", "Platforms", "One video for each platform ticked, made "
               "together from one narration and sound: each in its own shape, with its "
               "captions and logo in its own safe area."),
        _field("fps", "Frame rate", "Pictures per second; 30 suits every platform.", "fps"),
    ]),
    ("Captions", [
        _field("settings.language", "Language", "The language of the text: it chooses the "
               "captions' letters and where lines break, and what the voice speaks."),
        _field("settings.subtitles.enabled", "Show captions", "Burn the narration's words "
               "into the picture."),
        _field("settings.subtitles.style", "Caption style", "How the words appear while "
               "they are spoken."),
        _field("settings.subtitles.size", "Text size", "Height of the letters, against the "
               "frame's shorter side.", "% of frame", 100),
        _field("settings.subtitles.position", "Position", "Where captions sit in the frame."),
        _field("settings.subtitles.color", "Text colour", "Colour of the letters."),
        _field("settings.subtitles.highlight_color", "Highlight colour", "Colour of the word "
               "being spoken."),
        _field("settings.subtitles.highlight_box", "Box behind the spoken word", "A rounded "
               "box marks the word being spoken."),
        _field("settings.subtitles.outline", "Outline", "Dark edge around the letters; 0 for "
               "none.", "% of text size", 100),
        _field("settings.subtitles.outline_color", "Outline colour", "Colour of that edge."),
        _field("settings.subtitles.box", "Box behind captions", "A translucent box makes "
               "text readable on busy pictures."),
        _field("settings.subtitles.box_opacity", "Box opacity", "How solid that box is.", "%",
               100),
        _field("settings.subtitles.uppercase", "Capitals", "Show captions in capital letters."),
        _field("settings.subtitles.max_words", "Most words at once", "Longer phrases are split "
               "into captions of at most this many words.", "words"),
        _field("settings.subtitles.min_words", "Fewest words at once", "Short captions are "
               "joined until they have this many words.", "words"),
        _field("settings.subtitles.sidecar", "Caption files", "Also save .srt and .vtt "
               "captions for upload."),
    ]),
    ("Motion", [
        _field("settings.ken_burns.direction", "Camera motion", "Slow zoom across each "
               "picture."),
        _field("settings.ken_burns.zoom", "Zoom amount", "How far the camera moves in; 1 for "
               "none.", "x"),
        _field("settings.ken_burns.pan", "Pan while zooming", "Drift across the picture as "
               "well as zooming."),
        _field("settings.ken_burns.easing", "Easing", "Start and end the motion gently."),
        _field("settings.transitions.crossfade", "Crossfade", "Blend between pictures; 0 for "
               "a cut.", "s"),
        _field("settings.transitions.fade_in", "Fade in", "From black at the start.", "s"),
        _field("settings.transitions.fade_out", "Fade out", "To black at the end.", "s"),
        _field("settings.gap", "Pause after each segment", "Silence between narrations.",
               "s"),
    ]),
    ("Sound", [
        _field("settings.music", "Background music", "Plays under the narration, quieter "
               "while the voice speaks."),
        _field("settings.music.volume", "Music volume", "Relative to the file; negative is "
               "quieter.", "dB"),
        _field("settings.music.duck", "Lower under the voice", "How much quieter the music "
               "gets while someone speaks.", "dB"),
        _field("settings.music.fade_out", "Music fade-out", "At the end of the video.", "s"),
        _field("settings.music.loop", "Loop the music", "Repeat a track shorter than the "
               "video."),
        _field("settings.loudness.enabled", "Even out loudness", "Match the loudness the "
               "platforms play at."),
        _field("settings.loudness.target", "Loudness", "-14 is what YouTube and most apps "
               "play at.", "LUFS"),
    ]),
    ("Branding", [
        _field("settings.logo", "Logo", "A small picture in a corner of every frame."),
        _field("settings.logo.corner", "Logo corner", "Which corner it sits in."),
        _field("settings.logo.scale", "Logo size", "Width of the logo.", "% of frame width",
               100),
        _field("settings.logo.opacity", "Logo opacity", "How solid the logo is.", "%", 100),
        _field("settings.intro", "Intro clip", "A video clip before the story."),
        _field("settings.outro", "Outro clip", "A video clip after the story."),
        _field("settings.thumbnail", "Thumbnail", "Also make a cover picture: the first "
               "segment's picture with the title, at the platform's size."),
    ]),
    ("Quality", [
        _field("settings.preset", "Encoding speed", "Slower makes a smaller file of the same "
               "quality."),
        _field("settings.video_bitrate", "Video quality", "Higher is sharper and larger.",
               "Mb/s", 1e-6),
        _field("settings.audio_bitrate", "Sound quality", "192 is plenty for a voice.",
               "kb/s", 1e-3),
    ]),
]

_PLATFORMS = {"youtube": "YouTube (16:9)", "shorts": "YouTube Shorts (9:16)",
              "tiktok": "TikTok (9:16)", "reels": "Instagram Reels (9:16)",
              "square": "Square (1:1)"}

#: Words for the values of choice fields, by field path.
CHOICES: dict[str, dict[str, str]] = {
    "settings.platform": _PLATFORMS,
    "settings.platforms": _PLATFORMS,
    "settings.subtitles.style": {"phrase": "Whole phrase", "word": "Highlight spoken word",
                                 "karaoke": "Karaoke fill", "pop": "Pop-in words"},
    "settings.subtitles.position": {"bottom": "Bottom", "center": "Middle", "top": "Top"},
    "settings.ken_burns.direction": {"auto": "Alternate in and out", "in": "Zoom in",
                                     "out": "Zoom out", "none": "No motion"},
    "settings.ken_burns.easing": {"ease-in-out": "Gentle", "linear": "Steady"},
    "settings.logo.corner": {"top-left": "Top left", "top-right": "Top right",
                             "bottom-left": "Bottom left", "bottom-right": "Bottom right"},
    "settings.language": {tag: name if name == english else f"{name} ({english})"
                          for tag, (name, english, _) in LANGUAGES.items()},
    "settings.preset": {"ultrafast": "Fastest (biggest file)", "superfast": "Very fast",
                        "veryfast": "Fast", "faster": "Quicker", "fast": "Quick",
                        "medium": "Balanced", "slow": "Slow", "slower": "Slower",
                        "veryslow": "Slowest (smallest file)"},
}

#: Where a segment's narration stands, and what its button offers (empty: no button).
NARRATION: dict[str, tuple[str, str]] = {
    "recorded": ("Your recording", "Replace with the voice"),
    "changed": ("Your recording: the text changed after it was uploaded; the video uses "
                "the recording as it is", "Replace with the voice"),
    "generated": ("Spoken by the voice", "Regenerate"),
    "outdated": ("Out of date: the text or voice changed; the next video speaks it again",
                 "Regenerate"),
    "pending": ("The voice will speak the text", "Generate now"),
    "missing": ("No narration yet", ""),
}

#: The progress message while a render speaks the segments whose text is new or edited.
RESPEAKING = "Speaking the new and edited text ({count} segment{s})"

#: A narrator's pace, to estimate a segment's length before its narration exists.
WORDS_PER_SECOND = 2.5


def estimated_seconds(text: str, language: str = DEFAULT_LANGUAGE) -> float:
    """How long a voice takes to say ``text``, before its narration exists: its words,
    counted as the captions count them in ``language``, at :data:`WORDS_PER_SECOND`."""
    return count_words(text, language) / WORDS_PER_SECOND

#: Said of a segment whose uploaded recording predates its text ({number}: its position).
RECORDING_CHANGED = ("Segment {number}: the text changed after its recording was uploaded; "
                     "the recording is used as it is")

#: Project fields, by their manifest path, as a creator calls them.
FIELDS: dict[str, str] = {
    "title": "Title",
    "width": "Width",
    "height": "Height",
    "text": "Narration text",
    "image": "Picture",
    "audio": "Narration recording",
    "chapter": "Chapter",
    **{str(f["path"]): str(f["label"]) for _, group in OPTION_GROUPS for f in group},
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
     r"\1 is odd; a video needs an even number of pixels"),
)


def parts_words(encoded: int, reused: int) -> str:
    """What a finished render did with the parts of its picture, as the CLI says it."""
    total = encoded + reused
    if total and not encoded:
        return f"All {total} parts reused"
    return f"Encoded {encoded} of {total} part{'s' if total != 1 else ''} ({reused} reused)"


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


#: What each clip fit and crop does, as the page offers them.
CLIP: dict[str, dict[str, str]] = {
    "fit": {"freeze": "Hold the last frame", "loop": "Loop the clip",
            "speed": "Slow it down to fill (at least half speed), then hold",
            "extend": "Let the segment run to the clip's end"},
    "crop": {"cover": "Fill the frame", "contain": "Whole clip, black bars",
             "blur": "Whole clip over a blurred copy"},
}


def clip_words() -> dict[str, Any]:
    """The clip options the page edits: their choices in words and the model's bounds."""
    props = ClipOptions.model_json_schema()["properties"]

    def bounds(name: str) -> dict[str, float]:
        spec = next(s for s in props[name].get("anyOf", [props[name]]) if s.get("type") == "number")
        low = spec.get("minimum", spec.get("exclusiveMinimum"))
        return {"min": low, "max": spec["maximum"]}

    return {"fit": [[name, CLIP["fit"][name]] for name in FITS],
            "crop": [[name, CLIP["crop"][name]] for name in CROPS],
            "start": bounds("start"), "end": bounds("end"), "volume": bounds("volume")}


def words() -> dict[str, Any]:
    """Every table, for the studio page."""
    return {"phases": PHASES, "states": STATES, "fields": FIELDS, "choices": CHOICES,
            "narration": NARRATION, "words_per_second": WORDS_PER_SECOND, "clip": clip_words(),
            "options": [{"group": name, "fields": fields} for name, fields in OPTION_GROUPS],
            "platforms": platform_shapes()}


def platform_shapes() -> dict[str, dict[str, Any]]:
    """Each platform preset's size and safe area (left, top, right, bottom shares), for
    the page to draw a platform's frame and its safe area as the engine lays it out."""
    return {name: {"width": p.width, "height": p.height, "safe": list(p.safe)}
            for name, p in PLATFORMS.items()}
