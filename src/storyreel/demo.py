"""A sample project that storyreel builds itself: painted stills and their text.

The demo has no recordings: the built-in voice speaks every segment when it renders,
so a new user hears a real voice with captions that follow it.
"""

from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["DEMO_STORY", "make_demo_project", "write_music_wav", "write_speechlike_wav"]

#: (chapter title or None, narration text) of each demo segment. Chapters span two
#: segments each so they meet YouTube's rules (three or more, each at least 10 s).
DEMO_STORY: tuple[tuple[str | None, str], ...] = (
    ("The valley",
     "Deep in the heart of the valley, the first light touched the ancient stones."),
    (None,
     "A river wound through the hills, carrying stories older than any map."),
    ("The ruins",
     "Half-buried beneath the vines, the walls of a forgotten city waited."),
    (None,
     "Only the old keeper remembered the songs, and he sang them every night."),
    ("Nightfall",
     "When the stars came out, the city seemed to breathe again, just for a moment."),
    (None,
     "And somewhere below the stones, something that had slept for a thousand years woke."),
)


def write_speechlike_wav(
    path: Path, seconds: float, *, rate: int = 22_050, seed: int = 0, channels: int = 1
) -> None:
    """Write a 16-bit WAV of voiced syllables and pauses that behaves like narration."""
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * rate))
    t = np.arange(n) / rate
    pitch = 120 + 25 * np.sin(2 * math.pi * 0.7 * t + seed)
    phase = 2 * math.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.zeros(n)
    pos = int(0.12 * rate)
    while pos < n - int(0.12 * rate):
        length = int(rng.uniform(0.12, 0.28) * rate)
        end = min(pos + length, n)
        envelope[pos:end] = np.hanning(end - pos)
        pos = end + int(rng.choice([0.03, 0.05, 0.08, 0.35]) * rate)
    signal = 0.35 * voice * envelope + 0.002 * rng.standard_normal(n)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    frames = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())


def write_music_wav(path: Path, seconds: float = 16.0, *, rate: int = 44_100) -> None:
    """Write a soft stereo pad (a slow four-chord progression) to use as background music."""
    chords = ((220.0, 277.18, 329.63), (196.0, 246.94, 293.66),
              (174.61, 220.0, 261.63), (196.0, 246.94, 311.13))
    n = int(seconds * rate)
    t = np.arange(n) / rate
    per_chord = n // len(chords)
    out = np.zeros((n, 2))
    for k, chord in enumerate(chords):
        lo, hi = k * per_chord, n if k == len(chords) - 1 else (k + 1) * per_chord
        seg = t[lo:hi] - t[lo]
        swell = np.sin(np.pi * seg / seg[-1]) ** 0.5 if seg.size > 1 else np.ones(1)
        for j, freq in enumerate(chord):
            phase = 2 * math.pi * freq * t[lo:hi]
            tone = np.sin(phase) + 0.3 * np.sin(2 * phase)
            out[lo:hi, j % 2] += 0.12 * tone * swell
            out[lo:hi, (j + 1) % 2] += 0.06 * tone * swell
    pcm = (np.clip(out, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())


def _logo(path: Path) -> None:
    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 248, 248), fill=(255, 255, 255, 200), outline=(20, 20, 20, 255), width=10)
    draw.polygon(((100, 70), (100, 186), (196, 128)), fill=(200, 40, 40, 255))
    image.save(path)


def _paint(path: Path, size: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    width, height = size
    y = np.linspace(0, 1, height)[:, None, None]
    top = rng.uniform(40, 200, 3)
    bottom = rng.uniform(10, 120, 3)
    sky = (top * (1 - y) + bottom * y) * np.ones((1, width, 1))
    image = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x0, y0 = rng.uniform(0, width), rng.uniform(height * 0.2, height)
        radius = rng.uniform(0.05, 0.25) * width
        colour = tuple(int(c) for c in rng.uniform(30, 240, 3))
        draw.ellipse((x0 - radius, y0 - radius, x0 + radius, y0 + radius), fill=colour)
    for _ in range(40):
        x0 = rng.uniform(0, width)
        draw.rectangle((x0, height * rng.uniform(0.5, 0.8), x0 + rng.uniform(4, 30), height),
                       fill=tuple(int(c) for c in rng.uniform(0, 90, 3)))
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = rng.normal(0, 6, (height, width, 1))
    grain = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(grain).save(path, quality=90)


def make_demo_project(folder: Path) -> Path:
    """Create the demo's stills, music and manifest (text, no recordings) in ``folder``.

    Returns:
        The manifest path.
    """
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    sizes = [(1600, 1000), (1200, 1600), (2000, 900), (1024, 1024), (1800, 1200), (1400, 1050)]
    segments = []
    for i, (chapter, text) in enumerate(DEMO_STORY):
        image = f"images/{i + 1:02d}.jpg"
        _paint(folder / image, sizes[i % len(sizes)], seed=i)
        segment = {"image": image, "text": text}
        if chapter:
            segment["chapter"] = chapter
        segments.append(segment)
    write_music_wav(folder / "audio" / "music.wav")
    _logo(folder / "images" / "logo.png")
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": "The Lost City of Aurelia", "width": 1920, "height": 1080, "fps": 30,
        "segments": segments,
        "settings": {
            "gap": 0.6,
            "voice": {"engine": "hibari", "voice": "heart", "speed": 0.95},
            "transitions": {"crossfade": 0.5, "fade_in": 0.5, "fade_out": 1.0},
            "music": {"path": "audio/music.wav", "volume": -20},
            "logo": {"path": "images/logo.png", "corner": "top-right", "scale": 0.06,
                     "opacity": 0.7},
        },
    }, indent=2, ensure_ascii=False), encoding="utf-8")
    return manifest
