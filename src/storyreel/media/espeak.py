"""espeak-ng, from the ``espeakng-loader`` wheel: speech and phonemes in 100+ languages.

The wheel ships ``libespeak-ng`` and its data; this module is the one place that loads
the library (through :mod:`ctypes`) and translates its failures. espeak-ng keeps global
state, so every call holds one process-wide lock. Speech comes back as mono float32
samples with where each word of the text starts (espeak-ng's word events).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from storyreel.errors import VoiceError

__all__ = ["EspeakSpeech", "EspeakVoice", "espeak_version", "espeak_voices", "phonemes",
           "spoken_spans", "synthesise", "voice_for"]

Span = tuple[int, int]

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: espeak_Synth returns when the text is spoken
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_END_OF_LIST = 0
_EVENT_WORD = 1
_RATE_PARAMETER = 1
_DEFAULT_WPM = 175
_LOCK = threading.Lock()


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass(frozen=True)
class EspeakVoice:
    """One espeak-ng voice: its identifier (``roa/es``), name and language codes."""

    identifier: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class EspeakSpeech:
    """Speech and, per word event, the character offset of the word and its first sample."""

    samples: NDArray[np.float32]
    rate: int
    words: tuple[tuple[int, int], ...]


class _Library:
    """libespeak-ng, initialised once for synchronous synthesis."""

    def __init__(self) -> None:
        try:
            import espeakng_loader

            self.lib: Any = ctypes.CDLL(espeakng_loader.get_library_path())
            self.data = Path(espeakng_loader.get_data_path())
            data = str(self.data).encode()
        except (ImportError, OSError, RuntimeError) as exc:
            raise VoiceError(f"espeak-ng is not available ({exc}); pip install "
                             "espeakng-loader") from exc
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                               ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint,
                                          ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                          ctypes.c_void_p, ctypes.c_void_p]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p),
                                                   ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.lib.espeak_Info.restype = ctypes.c_char_p
        self.rate = int(self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data, 0))
        if self.rate <= 0:
            raise VoiceError("espeak-ng could not start (its data folder is missing)")
        self._chunks: list[NDArray[np.int16]] = []
        self._events: list[tuple[int, int]] = []
        self._callback = _CALLBACK(self._receive)  # kept: espeak holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.voice = ""
        self._voices: list[EspeakVoice] | None = None

    def _receive(self, wav: Any, count: int, events: Any) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_END_OF_LIST:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._events.append((event.text_position - 1, event.sample))
            index += 1
        return 0

    def select(self, voice: str) -> None:
        if voice != self.voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise VoiceError(f"espeak-ng has no voice {voice!r}")
            self.voice = voice

    def speak(self, text: str, voice: str, speed: float) -> EspeakSpeech:
        self.select(voice)
        self.lib.espeak_SetParameter(_RATE_PARAMETER, round(_DEFAULT_WPM * speed), 0)
        data = text.encode("utf-8") + b"\0"
        self._chunks, self._events = [], []
        status = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                       None, None)
        if status != 0:
            raise VoiceError(f"espeak-ng could not speak the text (error {status})")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        samples = (pcm.astype(np.float32) / 32768.0).astype(np.float32)
        samples.flags.writeable = False  # kept and shared (see synthesise)
        return EspeakSpeech(samples, self.rate, tuple(self._events))

    def phonemes(self, text: str, voice: str) -> str:
        self.select(voice)
        pointer = ctypes.c_char_p(text.encode("utf-8"))
        parts = []
        while pointer.value:
            found = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0)
            if found is None:
                break
            parts.append(found.decode("utf-8", "replace"))
        return " ".join(parts)

    def voices(self) -> list[EspeakVoice]:
        if self._voices is None:
            self._voices = self._list_voices()
        return self._voices

    def _list_voices(self) -> list[EspeakVoice]:
        listed = self.lib.espeak_ListVoices(None)
        found = []
        index = 0
        while listed[index]:
            voice = listed[index].contents
            identifier = (voice.identifier or b"").decode()
            if self._has_dictionary(identifier):
                found.append(EspeakVoice(identifier, (voice.name or b"").decode(),
                                         _languages(voice.languages)))
            index += 1
        return found

    def _has_dictionary(self, identifier: str) -> bool:
        """Whether the voice's pronunciation dictionary ships with the data: a voice
        without one (``fo``, ``kaa`` in some builds) speaks nothing but silence."""
        dictionary = identifier.rsplit("/", 1)[-1].split("-")[0].lower()
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in (self.data / "lang" / identifier).read_text("utf-8").splitlines():
                key, _, value = line.partition(" ")
                if key == "dictionary" and value.strip():
                    dictionary = value.split()[0]
        return (self.data / f"{dictionary}_dict").is_file()


def _languages(pointer: int | None) -> tuple[str, ...]:
    """espeak's language list: (priority byte, name, NUL) repeated, ended by a zero byte."""
    if not pointer:
        return ()
    names = []
    at = pointer
    while ctypes.c_ubyte.from_address(at).value != 0:
        name = ctypes.string_at(at + 1)
        names.append(name.decode())
        at += 2 + len(name)
    return tuple(names)


def _token_starts(tokens: Sequence[str]) -> list[int]:
    starts, at = [], 0
    for token in tokens:
        starts.append(at)
        at += len(token) + 1
    return starts


def spoken_spans(tokens: Sequence[str], voice: str, speed: float = 1.0
                 ) -> tuple[NDArray[np.float32], int, list[Span | None]]:
    """The tokens said by espeak-ng, and where each token sounds in the samples (from
    the word events; tokens said as one word share its span by length).

    Raises:
        VoiceError: espeak-ng is not installed, has no such voice, failed or said nothing.
    """
    speech = synthesise(" ".join(tokens), voice, speed)
    if speech.samples.size == 0:
        raise VoiceError("espeak-ng found nothing it can say in this text")
    offsets = _token_starts(tokens)
    firsts: dict[int, int] = {}
    for position, sample in speech.words:
        token = bisect.bisect_right(offsets, position) - 1
        if 0 <= token < len(tokens):
            firsts.setdefault(token, sample)
    loud = np.abs(speech.samples) > 0.02 * float(np.abs(speech.samples).max())
    ends = np.flatnonzero(loud)
    last = int(ends[-1]) + 1 if ends.size else speech.samples.size
    order = sorted(firsts.items())
    spans: list[Span | None] = [None] * len(tokens)
    for index, (token, start) in enumerate(order):
        end = order[index + 1][1] if index + 1 < len(order) else last
        following = order[index + 1][0] if index + 1 < len(order) else len(tokens)
        voiced = np.flatnonzero(loud[start:end])
        if voiced.size:  # the event marks the word's pause too: start where it sounds
            _share(spans, tokens, token, following,
                   (start + int(voiced[0]), start + int(voiced[-1]) + 1))
    return speech.samples, speech.rate, spans


def _share(spans: list[Span | None], tokens: Sequence[str], first: int, stop: int,
           span: Span) -> None:
    """Give tokens ``first`` to ``stop`` (espeak-ng said them as one word: "from the")
    shares of ``span`` by their length."""
    weights = [len(t) + 1 for t in tokens[first:stop]]
    total, at = sum(weights), 0
    for offset, weight in enumerate(weights):
        a = span[0] + (span[1] - span[0]) * at // total
        at += weight
        spans[first + offset] = (a, max(a + 1, span[0] + (span[1] - span[0]) * at // total))


_LOADED: list[_Library] = []
_KEPT = 16
_SPOKEN: dict[tuple[str, str, float], EspeakSpeech] = {}


def _library() -> _Library:
    if not _LOADED:
        _LOADED.append(_Library())
    return _LOADED[0]


def synthesise(text: str, voice: str, speed: float = 1.0) -> EspeakSpeech:
    """``text`` spoken by espeak-ng's ``voice`` (a language such as ``es``, or an identifier).

    espeak-ng carries a little state from one utterance to the next (its speech differs
    by a few samples), so the last :data:`_KEPT` results are kept: the same text asked
    again in this process gives the very same samples (and word timings found on them).

    Raises:
        VoiceError: espeak-ng is not installed, has no such voice, or failed.
    """
    key = (text, voice, speed)
    with _LOCK:
        if key not in _SPOKEN:
            _SPOKEN[key] = _library().speak(text, voice, speed)
            while len(_SPOKEN) > _KEPT:
                _SPOKEN.pop(next(iter(_SPOKEN)))
        return _SPOKEN[key]


def phonemes(text: str, voice: str) -> str:
    """espeak-ng's phonemes (its ASCII names, words separated by spaces) for ``text``.

    Raises:
        VoiceError: espeak-ng is not installed or has no such voice.
    """
    with _LOCK:
        return _library().phonemes(text, voice)


def espeak_voices() -> list[EspeakVoice]:
    """Every voice espeak-ng's data holds.

    Raises:
        VoiceError: espeak-ng is not installed.
    """
    with _LOCK:
        return _library().voices()


def voice_for(language: str) -> str:
    """The espeak-ng voice for a BCP 47 tag: ``en-US`` -> ``en-us``, ``es-419`` -> ``es``.

    Raises:
        VoiceError: espeak-ng is missing or speaks neither the tag nor its language.
    """
    tag = language.strip().lower().replace("_", "-")
    voices = espeak_voices()
    # espeak-ng selects a voice by its file name; a language such as ``zh`` is only listed
    # by voices named otherwise (``cmn``, ``yue``): the first one listed speaks it.
    names = {voice.identifier.rsplit("/", 1)[-1].lower() for voice in voices}
    for candidate in (tag, tag.split("-")[0]):
        if candidate in names:
            return candidate
        for voice in voices:
            if candidate in voice.languages:
                return voice.identifier.rsplit("/", 1)[-1].lower()
    raise VoiceError(f"espeak-ng does not speak {language!r}")


def espeak_version() -> str:
    """The library's version (``1.52.0``).

    Raises:
        VoiceError: espeak-ng is not installed.
    """
    with _LOCK:
        library = _library()
        info: bytes | None = library.lib.espeak_Info(None)
    return (info or b"").decode().split()[0] if info else "unknown"
