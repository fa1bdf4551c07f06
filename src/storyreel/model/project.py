"""The validated, frozen project model: the single source of bounds.

A manifest is JSON; relative media paths resolve against the manifest's folder
(passed as the ``base_dir`` validation context). StoryFlow exports are accepted
too: their field names are mapped onto ours before validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from PIL import ImageColor
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from storyreel.model.fps import FrameRate
from storyreel.model.language import DEFAULT_LANGUAGE, LanguageTag
from storyreel.model.platforms import PLATFORM_NAMES, PLATFORMS, Insets, PlatformName
from storyreel.model.visual import Card, ClipOptions, FocusPoint, Still, Video, Visual

__all__ = [
    "CAPTION_LOOKS",
    "DEFAULT_CAPTION_SIZE",
    "MAX_CHAPTER_LENGTH",
    "MAX_DIMENSION",
    "MAX_SEGMENTS",
    "MAX_TEXT_LENGTH",
    "MAX_TITLE_LENGTH",
    "MIN_DIMENSION",
    "PRESETS",
    "CaptionLook",
    "Card",
    "Clip",
    "ClipOptions",
    "Colour",
    "Direction",
    "KenBurns",
    "Logo",
    "Loudness",
    "Music",
    "Preset",
    "Project",
    "RenderSettings",
    "SafeArea",
    "Segment",
    "Still",
    "Subtitles",
    "Thumbnail",
    "Transitions",
    "Video",
    "Visual",
    "Voice",
    "VoiceEngine",
    "VoiceOverride",
    "printable",
]

MIN_DIMENSION = 64
#: Caption size (share of the shorter side) without a platform, and on landscape ones.
DEFAULT_CAPTION_SIZE = 0.055
MAX_DIMENSION = 7680
#: Bounds of a project's words and size, the same however a project comes in (manifest,
#: studio request, JSON, text or zip import).
MAX_TITLE_LENGTH = 300
MAX_TEXT_LENGTH = 20_000
MAX_CHAPTER_LENGTH = 200
MAX_SEGMENTS = 2000
Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
PRESETS: tuple[str, ...] = Preset.__args__  # type: ignore[attr-defined]
Direction = Literal["auto", "in", "out", "none"]


# Control characters (NUL, BEL, ESC, DEL, C1...) but the line breaks and tabs that text
# may hold: they would reach captions, subtitle files and the MP4's metadata as they are.
_CONTROLS = dict.fromkeys(c for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t")


def printable(text: str) -> str:
    """``text`` without control characters (line breaks and tabs are kept)."""
    return text.translate(_CONTROLS)


def _printable(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _resolve(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("path is empty")
        if "\x00" in value:
            raise ValueError("path contains a NUL byte")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("path is not valid Unicode (it holds a lone surrogate)") from exc
        try:
            value = Path(value).expanduser()
        except RuntimeError as exc:  # "~name" of a user this machine does not have
            raise ValueError(f"{value[:40]!r}: no such home folder") from exc
    if isinstance(value, Path) and not value.is_absolute():
        base = (info.context or {}).get("base_dir")
        value = (Path(base) if base is not None else Path.cwd()) / value
    return value


def _colour(value: str) -> str:
    try:
        ImageColor.getrgb(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a colour (#RRGGBB or a name like 'white')") from exc
    return value


class KenBurns(_Frozen):
    """Ken Burns motion: a slow, eased zoom combined with a pan.

    Attributes:
        zoom: Largest zoom factor reached (1.0 = no zoom). Motion moves between 1.0 and this.
        direction: ``in``, ``out``, ``auto`` (alternating, varied per segment) or ``none`` (static).
        pan: Whether the frame also drifts sideways/vertically while zooming.
        easing: ``ease-in-out`` (smooth start and stop) or ``linear``.
    """

    zoom: float = Field(1.15, ge=1.0, le=2.0)
    direction: Direction = "auto"
    pan: bool = True
    easing: Literal["ease-in-out", "linear"] = "ease-in-out"


Colour = Annotated[str, AfterValidator(_colour)]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
CaptionLook = Literal["phrase", "word", "karaoke", "pop"]
CAPTION_LOOKS: tuple[str, ...] = CaptionLook.__args__  # type: ignore[attr-defined]


class Subtitles(_Frozen):
    """Burned-in captions made from each segment's text, timed to the voice.

    Attributes:
        enabled: Burn captions into the video (on whenever segments have text).
        sidecar: Also write ``.srt`` and ``.vtt`` files named like the MP4.
        font: A TTF/OTF file; default is the bundled sans-serif.
        size: Text size as a fraction of the frame's shorter side (its height in landscape).
        color: Text colour (``#RRGGBB`` or a CSS name).
        outline: Outline width as a fraction of the text size (0 for none).
        outline_color: Outline colour.
        box: Draw a translucent box behind the text.
        box_opacity: Opacity of that box.
        box_color: Colour of that box.
        position: ``bottom``, ``center``, ``top``, or the text's centre height (0 top .. 1 bottom).
        min_words: Fewest words per caption chunk (where the text allows).
        max_words: Most words per caption chunk.
        style: ``phrase`` (the whole chunk), ``word`` (the chunk, the spoken word
            highlighted), ``karaoke`` (words fill with the highlight as they are spoken) or
            ``pop`` (one to ``pop_words`` words at a time, each group scaling in).
        highlight_color: Colour of the spoken word (``word``, ``pop``) or of the words
            already spoken (``karaoke``).
        highlight_box: Mark the spoken word with a rounded box behind it: in
            ``highlight_box_color`` (its letters then in ``highlight_color``), or, without
            one, in ``highlight_color`` (its letters keeping ``color``).
        highlight_box_color: Colour of that box.
        uppercase: Show captions in capitals.
        max_lines: Most lines a caption takes (1 or 2); longer text is drawn smaller.
        pop_words: Most words shown at once in the ``pop`` style.
        words_json: Also write ``.words.json``: every word with its start and end time.
    """

    enabled: bool = True
    sidecar: bool = True
    font: Path | None = None
    size: float = Field(DEFAULT_CAPTION_SIZE, ge=0.02, le=0.2)
    color: Colour = "#FFFFFF"
    outline: float = Field(0.08, ge=0.0, le=0.3)
    outline_color: Colour = "#000000"
    box: bool = False
    box_opacity: float = Field(0.5, ge=0.0, le=1.0)
    box_color: Colour = "#000000"
    position: Literal["bottom", "center", "top"] | Annotated[float, Field(ge=0.0, le=1.0)] = (
        "bottom"
    )
    min_words: int = Field(3, ge=1, le=20)
    max_words: int = Field(7, ge=1, le=30)
    style: CaptionLook = "phrase"
    highlight_color: Colour = "#FFD400"
    highlight_box: bool = False
    highlight_box_color: Colour | None = None
    uppercase: bool = False
    max_lines: int = Field(2, ge=1, le=2)
    pop_words: int = Field(3, ge=1, le=3)
    words_json: bool = False

    _font = field_validator("font", mode="before")(_resolve)

    @model_validator(mode="after")
    def _words(self) -> Subtitles:
        if self.min_words > self.max_words:
            raise ValueError("min_words must not exceed max_words")
        if self.style != "phrase" and not self.enabled:
            raise ValueError(f"caption style {self.style!r} needs captions enabled "
                             "(set enabled to true, or style to 'phrase')")
        return self


class Transitions(_Frozen):
    """Crossfades between segments and fades from/to black.

    Transitions happen in the silence between narrations: the pause after a narration
    is made at least as long as the crossfade, so two voices never overlap.

    Attributes:
        crossfade: Crossfade between neighbouring segments, in seconds (0 for cuts).
        fade_in: Fade in from black at the start, in seconds (silence is added before the
            first narration so the voice starts when the picture is up).
        fade_out: Fade out to black at the end, in seconds (inside the final pause).
    """

    crossfade: float = Field(0.5, ge=0.0, le=5.0)
    fade_in: float = Field(0.0, ge=0.0, le=10.0)
    fade_out: float = Field(0.0, ge=0.0, le=10.0)


class Music(_Frozen):
    """Background music under the narration.

    Attributes:
        path: The music file (any common audio format).
        volume: Music level in dB relative to the file (negative is quieter).
        loop: Loop a track shorter than the video (otherwise it ends and silence follows).
        fade_out: Fade the music out over the last seconds of the video.
        duck: How many dB the music is lowered while the voice speaks (0 for none).
    """

    path: Path
    volume: float = Field(-18.0, ge=-60.0, le=12.0)
    loop: bool = True
    fade_out: float = Field(3.0, ge=0.0, le=30.0)
    duck: float = Field(10.0, ge=0.0, le=40.0)

    _path = field_validator("path", mode="before")(_resolve)


class Loudness(_Frozen):
    """Normalisation of the final mix (ITU-R BS.1770 / EBU R128).

    Attributes:
        enabled: Normalise (measure the whole mix first, then apply gain and a limiter).
        target: Integrated loudness target in LUFS (-14 is what YouTube plays at).
        true_peak: Ceiling for the true peak in dBTP.
    """

    enabled: bool = True
    target: float = Field(-14.0, ge=-40.0, le=-5.0)
    true_peak: float = Field(-1.0, ge=-9.0, le=0.0)


class Logo(_Frozen):
    """A watermark image (PNG with alpha) in a corner.

    Attributes:
        path: The image.
        corner: Which corner.
        scale: Logo width as a fraction of the frame width.
        opacity: 0 (invisible) to 1 (as drawn).
        margin: Distance from the edges as a fraction of the frame height.
    """

    path: Path
    corner: Corner = "top-right"
    scale: float = Field(0.12, gt=0.0, le=1.0)
    opacity: float = Field(0.8, ge=0.0, le=1.0)
    margin: float = Field(0.04, ge=0.0, le=0.4)

    _path = field_validator("path", mode="before")(_resolve)


class Clip(_Frozen):
    """An intro or outro video clip, fitted to the output size and frame rate.

    Attributes:
        path: The clip (any common video format, with or without sound).
        volume: Level of its sound in dB.
    """

    path: Path
    volume: float = Field(0.0, ge=-60.0, le=12.0)

    _path = field_validator("path", mode="before")(_resolve)

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str | Path) else data


VoiceEngine = Literal["hibari", "kokoro", "piper", "espeak"]
ENGINES: tuple[str, ...] = VoiceEngine.__args__  # type: ignore[attr-defined]
MIN_SPEED = 0.5
MAX_SPEED = 2.0


class Voice(_Frozen):
    """The voice that speaks segments without a recording.

    Attributes:
        engine: ``hibari`` (built in, offline, English), ``kokoro`` or ``piper`` (optional
            extras with model files you already have), or ``espeak`` (built in, 100+
            languages; chosen by itself for text no other installed voice speaks).
        voice: A voice of that engine (``storyreel voices`` lists them); the engine's
            default when left out.
        speed: Speaking rate, 1.0 is the voice's natural pace.
        language: Language code such as ``en-us``; the voice's own when left out.
        model: The engine's model file (Kokoro's ``.onnx``, Piper's ``.onnx`` voice).
        voices: Kokoro's voices file (``voices-v1.0.bin``).
    """

    engine: VoiceEngine = "hibari"
    voice: str | None = Field(None, min_length=1, max_length=100)
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    language: str | None = Field(None, min_length=2, max_length=20)
    model: Path | None = None
    voices: Path | None = None

    _paths = field_validator("model", "voices", mode="before")(_resolve)


class VoiceOverride(_Frozen):
    """A segment's changes to the project's voice (fields left out are the project's)."""

    engine: VoiceEngine | None = None
    voice: str | None = Field(None, min_length=1, max_length=100)
    speed: float | None = Field(None, ge=MIN_SPEED, le=MAX_SPEED)
    language: str | None = Field(None, min_length=2, max_length=20)

    def over(self, base: Voice) -> Voice:
        """``base`` with this override's fields applied (a new engine drops the old voice)."""
        changes = self.model_dump(exclude_none=True)
        if "engine" in changes and changes["engine"] != base.engine and "voice" not in changes:
            changes["voice"] = None
        return base.model_copy(update=changes)


class SafeArea(_Frozen):
    """Where captions and the logo may be drawn: shares of the frame kept clear at each edge.

    Attributes:
        left: Share of the width kept clear on the left.
        top: Share of the height kept clear at the top.
        right: Share of the width kept clear on the right.
        bottom: Share of the height kept clear at the bottom.
    """

    left: float = Field(0.05, ge=0.0, le=0.4)
    top: float = Field(0.05, ge=0.0, le=0.4)
    right: float = Field(0.05, ge=0.0, le=0.4)
    bottom: float = Field(0.05, ge=0.0, le=0.45)

    @model_validator(mode="after")
    def _room(self) -> SafeArea:
        if self.left + self.right > 0.8 or self.top + self.bottom > 0.8:
            raise ValueError("the safe area must keep at least 20 % of the frame's width and "
                             "height (left + right and top + bottom at most 0.8)")
        return self

    @property
    def insets(self) -> Insets:
        """``(left, top, right, bottom)``."""
        return (self.left, self.top, self.right, self.bottom)


class Thumbnail(_Frozen):
    """A cover picture written beside the video (``<stem>-thumbnail.jpg``).

    Attributes:
        segment: The segment (1-based) whose picture it shows: a still at its focus,
            a clip's first trimmed frame, or a card.
        title: The words drawn large on it; default: the project's title.
    """

    segment: int = Field(1, ge=1, le=MAX_SEGMENTS)
    title: str | None = Field(None, max_length=MAX_TITLE_LENGTH)

    _words = field_validator("title", mode="before")(_printable)

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data: Any) -> Any:
        return {} if data is True else data


class RenderSettings(_Frozen):
    """How a project is rendered; every field has a sensible default.

    Attributes:
        preset: libx264 speed/quality preset.
        video_bitrate: Target H.264 bitrate in bits per second.
        audio_bitrate: AAC bitrate in bits per second.
        gap: Silence between two narrations, in seconds (also after the last one).
        ken_burns: Project-wide motion; segments may override zoom and direction.
        subtitles: Burned-in captions and sidecar caption files.
        transitions: Crossfades and fades from/to black.
        music: Optional background music.
        loudness: Loudness normalisation of the final mix.
        logo: Optional watermark.
        intro: Optional clip before the story.
        outro: Optional clip after the story.
        platform: ``youtube``, ``shorts``, ``tiktok``, ``reels`` or ``square``: fills in the
            size, frame rate and bitrate the manifest leaves out, and the safe area.
        platforms: Several platforms rendered together, one video each
            (``<name>-<platform>.mp4``) from one narration, analysis and sound track;
            each in its platform's shape at the project's shorter side, with its own
            safe area, caption size and bitrate (see :meth:`Project.for_platform`).
            Not together with ``platform``; a list of one is the same as ``platform``.
        safe_area: Where captions and the logo may be drawn; default: the platform's, or
            the title-safe area without a platform.
        voice: The voice that narrates segments without a recording.
        background: The colour of title cards (segments with neither image nor video).
        thumbnail: Also write a cover picture beside the video (``true``, or which
            segment and what title).
        language: The language of the text (a BCP 47 tag such as ``en``, ``es``, ``hi``,
            ``zh-Hans``): it chooses caption fonts and line breaking, and is passed to
            speech, normalisation and alignment. A segment may override it.
    """

    platform: PlatformName | None = None
    platforms: list[PlatformName] | None = Field(None, min_length=1,
                                                 max_length=len(PLATFORM_NAMES))
    safe_area: SafeArea | None = None
    preset: Preset = "medium"
    video_bitrate: int = Field(8_000_000, ge=100_000, le=100_000_000)
    audio_bitrate: int = Field(192_000, ge=32_000, le=512_000)
    gap: float = Field(0.3, ge=0.0, le=10.0)
    ken_burns: KenBurns = KenBurns()
    subtitles: Subtitles = Subtitles()
    transitions: Transitions = Transitions()
    music: Music | None = None
    loudness: Loudness = Loudness()
    logo: Logo | None = None
    intro: Clip | None = None
    outro: Clip | None = None
    voice: Voice = Voice()
    background: Colour = "#000000"
    thumbnail: Thumbnail | None = None
    language: LanguageTag = DEFAULT_LANGUAGE

    @field_validator("thumbnail", mode="before")
    @classmethod
    def _thumbnail_off(cls, value: Any) -> Any:
        return None if value is False else value

    @model_validator(mode="after")
    def _one_or_several(self) -> RenderSettings:
        if self.platforms is None:
            return self
        if self.platform is not None:
            raise ValueError("give platform (one video) or platforms (one video each), "
                             "not both")
        twice = sorted({p for p in self.platforms if self.platforms.count(p) > 1})
        if twice:
            raise ValueError(f"platforms lists {', '.join(twice)} more than once")
        return self

    @property
    def outputs(self) -> tuple[PlatformName, ...]:
        """The platforms rendered as videos of their own (empty: one video, as named)."""
        platforms = self.platforms or []
        return tuple(platforms) if len(platforms) > 1 else ()

    @property
    def safe_insets(self) -> Insets | None:
        """The safe area's insets: set explicitly, else the platform's, else ``None``."""
        if self.safe_area is not None:
            return self.safe_area.insets
        return PLATFORMS[self.platform].safe if self.platform is not None else None


class Segment(BaseModel):
    """One visual (a still, a video clip or a title card), its narration and its text.

    A segment shows its ``image``, or its ``video`` (trimmed and fitted by ``clip``), or,
    with neither, a card: the project's background colour with its ``title``.
    A segment without ``audio`` is narrated from its ``text`` by the project's voice
    (or its own ``voice`` override); a recording, where given, always wins. A video with
    neither text nor recording is an interlude: it lasts the trimmed clip. ``language``
    overrides the project's language for this segment's text. ``focus`` (``[x, y]``,
    shares of the picture) is the point of a still or clip kept in view when it is
    cropped to the frame and that its Ken Burns motion stays around; without it, the
    render finds one (faces, else the most salient region, else the centre).
    Unknown fields (e.g. StoryFlow's ``image_prompt``) are kept and ignored.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    image: Path | None = None
    video: Path | None = None
    clip: ClipOptions | None = None
    title: str | None = Field(None, max_length=MAX_TITLE_LENGTH)
    audio: Path | None = None
    text: str = Field("", max_length=MAX_TEXT_LENGTH)
    chapter: str | None = Field(None, max_length=MAX_CHAPTER_LENGTH)
    zoom: float | None = Field(None, ge=1.0, le=2.0)
    direction: Direction | None = None
    subtitles: bool = True
    crossfade: float | None = Field(None, ge=0.0, le=5.0)
    voice: VoiceOverride | None = None
    focus: FocusPoint | None = None
    language: LanguageTag | None = None

    def voice_of(self, project_voice: Voice) -> Voice:
        """The voice that speaks this segment's text."""
        return project_voice if self.voice is None else self.voice.over(project_voice)

    @property
    def visual(self) -> Visual:
        """What the segment shows."""
        if self.image is not None:
            return Still(image=self.image, focus=self.focus)
        if self.video is not None:
            return Video(video=self.video, clip=self.clip or ClipOptions(), focus=self.focus)
        return Card(title=self.title)

    @property
    def interlude(self) -> bool:
        """A video with neither text nor recording: it lasts its clip, its sound plays."""
        return self.video is not None and self.audio is None and not self.text.strip()

    @field_validator("video")
    @classmethod
    def _one_visual(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("image") is not None:
            raise ValueError("a segment shows one visual: give it an image or a video, "
                             "not both")
        return value

    @field_validator("clip")
    @classmethod
    def _clip_of_a_video(cls, value: ClipOptions | None, info: ValidationInfo
                         ) -> ClipOptions | None:
        if value is not None and info.data.get("video") is None:
            raise ValueError("clip options need a video")
        return value

    @field_validator("focus", mode="before")
    @classmethod
    def _focus(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        if (not isinstance(value, list | tuple) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           and 0.0 <= v <= 1.0 for v in value)):
            raise ValueError("focus must be [x, y]: shares of the picture's width and "
                             "height, each from 0 to 1 (e.g. [0.7, 0.3])")
        if info.data.get("image") is None and info.data.get("video") is None:
            raise ValueError("focus needs an image or a video to point into")
        return value

    @model_validator(mode="before")
    @classmethod
    def _storyflow(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for ours, theirs in (("image", "image_file"), ("audio", "audio_file"),
                                 ("text", "text_content")):
                if ours not in data and data.get(theirs) is not None:
                    data[ours] = data.pop(theirs)
            if data.get("text") is None:
                data["text"] = ""
        return data

    _paths = field_validator("image", "video", "audio", mode="before")(_resolve)
    _words = field_validator("text", "chapter", "title", mode="before")(_printable)


class Project(BaseModel):
    """A story: ordered segments plus output size, frame rate and render settings."""

    model_config = ConfigDict(frozen=True, extra="allow")

    title: str = Field("Untitled story", max_length=MAX_TITLE_LENGTH)
    width: int = Field(1920, ge=MIN_DIMENSION, le=MAX_DIMENSION)
    height: int = Field(1080, ge=MIN_DIMENSION, le=MAX_DIMENSION)
    fps: FrameRate = Fraction(30)
    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)
    settings: RenderSettings = RenderSettings()
    _base_dir: Path | None = PrivateAttr(None)
    _manifest: Path | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path:
        """Folder of the manifest this project was loaded from (default output goes here)."""
        return self._base_dir or Path.cwd()

    def language_of(self, index: int) -> str:
        """The language of segment ``index``'s text: its own tag, else the project's."""
        own = self.segments[index].language
        return own if own is not None else self.settings.language

    def input_files(self) -> list[Path]:
        """Every file a render reads: the manifest (when loaded from one), media, font and
        voice model files."""
        files = [self._manifest] if self._manifest is not None else []
        for segment in self.segments:
            files += segment.visual.files()
            files += [segment.audio] if segment.audio is not None else []
        settings = self.settings
        for setting in (settings.music, settings.logo, settings.intro, settings.outro):
            if setting is not None:
                files.append(setting.path)
        extra = (settings.subtitles.font, settings.voice.model, settings.voice.voices)
        return files + [path for path in extra if path is not None]

    def cut(self, numbers: Sequence[int]) -> Project:
        """This project with only the segments ``numbers`` (1-based), in their order:
        rendered, it has its own timing, captions and chapters
        (:func:`storyreel.model.cuts.cut`).

        Raises:
            ValidationFailed: ``numbers`` is empty or names a segment the project lacks.
        """
        from storyreel.model.cuts import cut

        return cut(self, numbers)

    def for_platform(self, name: PlatformName) -> Project:
        """This project as rendered for platform ``name`` (one of several outputs).

        The output takes the platform's shape at this project's shorter side (a
        1920x1080 project gives 1080x1920 for ``shorts`` and 1080x1080 for ``square``),
        the platform's safe area, its caption size (the project's scaled as the
        platform's default is to the landscape one) and the platform's bitrate, or the
        project's where lower (drafts). Frame rate and everything else are the
        project's, so every output has the same timeline and sound.
        """
        preset = PLATFORMS[name]
        short = min(self.width, self.height)
        ratio = Fraction(max(preset.width, preset.height), min(preset.width, preset.height))
        long_side = min(MAX_DIMENSION, round(short * ratio / 2) * 2)
        short = min(short, round(long_side / ratio / 2) * 2)
        width, height = (long_side, short) if preset.width > preset.height else (
            (short, long_side) if preset.width < preset.height else (short, short))
        settings = self.settings
        size = round(settings.subtitles.size * preset.caption_size / DEFAULT_CAPTION_SIZE, 4)
        changed = settings.model_copy(update={
            "platform": name, "platforms": None,
            "video_bitrate": min(settings.video_bitrate, preset.video_bitrate),
            "subtitles": settings.subtitles.model_copy(update={"size": min(size, 0.2)}),
        })
        return self.model_copy(update={"width": width, "height": height, "settings": changed})

    @model_validator(mode="before")
    @classmethod
    def _storyflow(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for ours, theirs in (("width", "resolution_width"), ("height", "resolution_height"),
                             ("fps", "framerate")):
            if ours not in data and data.get(theirs) is not None:
                data[ours] = data.pop(theirs)
        segments = data.get("segments")
        if isinstance(segments, list) and all(
            isinstance(s, dict) and "sequence_index" in s for s in segments
        ):
            data["segments"] = sorted(segments, key=lambda s: _order_key(s["sequence_index"]))
        return _platform_defaults(data)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(
                f"{value} is odd; H.264 in yuv420p needs an even size "
                f"(use {value - 1} or {value + 1})"
            )
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return printable(value).strip() or "Untitled story"

    @model_validator(mode="after")
    def _thumbnail_segment(self) -> Project:
        cover = self.settings.thumbnail
        if cover is not None and cover.segment > len(self.segments):
            raise ValueError(f"settings.thumbnail.segment {cover.segment} is not a segment of "
                             f"the project (it has {len(self.segments)})")
        return self


def _platform_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Fill what the manifest leaves out from its platform's preset; what it sets wins."""
    settings = data.get("settings")
    name = settings.get("platform") if isinstance(settings, dict) else getattr(
        settings, "platform", None)
    preset = PLATFORMS.get(name) if isinstance(name, str) else None
    if preset is None:
        return _platforms_defaults(data, settings)
    for key, value in (("width", preset.width), ("height", preset.height),
                       ("fps", preset.fps)):
        data.setdefault(key, value)
    if isinstance(settings, dict):
        settings = {"video_bitrate": preset.video_bitrate, **settings}
        captions = settings.get("subtitles", {})
        if isinstance(captions, dict):
            settings["subtitles"] = {"size": preset.caption_size, **captions}
        data["settings"] = settings
    return data


def _platforms_defaults(data: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Several platforms: the size and rate the manifest leaves out are the first one's
    (each output then takes its own shape at that size: :meth:`Project.for_platform`)."""
    names = settings.get("platforms") if isinstance(settings, dict) else getattr(
        settings, "platforms", None)
    first = names[0] if isinstance(names, list | tuple) and names else None
    preset = PLATFORMS.get(first) if isinstance(first, str) else None
    if preset is not None:
        for key, value in (("width", preset.width), ("height", preset.height),
                           ("fps", preset.fps)):
            data.setdefault(key, value)
    return data


def _order_key(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")
