"""Pronunciations for words the aligner's dictionary lacks, from espeak-ng's letter-to-sound
rules, in the CMU phone set pocketsphinx's English model uses.

espeak-ng names its English phonemes in ASCII (``h@l'oU`` for "hello"); each is mapped
to the nearest CMU phone, longest name first. Stress and syllable marks are dropped.
"""

from __future__ import annotations

from storyreel.errors import VoiceError
from storyreel.media import espeak

__all__ = ["cmu_phones"]

#: espeak-ng's English phonemes (phsource/ph_english) and their CMU phones.
_PHONES = {
    "aI@": "AY ER", "aU@": "AW ER", "i@3": "IY ER", "aI3": "AY ER", "oU#": "OW",
    "A:": "AA", "A@": "AA R", "A#": "AA", "aI": "AY", "aU": "AW", "eI": "EY", "e@": "EH R",
    "i@": "IY AH", "i:": "IY", "oU": "OW", "O:": "AO", "O@": "AO R", "o@": "AO R", "OI": "OY",
    "u:": "UW", "U@": "UH R", "3:": "ER", "@L": "AH L", "@2": "AH", "@5": "AH", "a#": "AH",
    "a2": "AH", "aa": "AE", "e#": "EH", "E2": "EH", "E3": "EH", "I#": "IH", "I2": "IH",
    "0#": "AA", "dZ": "JH", "tS": "CH", "t#": "T", "d#": "D", "r-": "R", "n-": "N", "m-": "M",
    "l-": "L", "@": "AH", "3": "ER", "a": "AE", "e": "EH", "E": "EH", "i": "IY", "I": "IH",
    "0": "AA", "O": "AO", "U": "UH", "V": "AH", "u": "UW", "o": "OW", "b": "B", "d": "D",
    "f": "F", "g": "G", "h": "HH", "j": "Y", "k": "K", "l": "L", "m": "M", "n": "N", "p": "P",
    "r": "R", "s": "S", "t": "T", "v": "V", "w": "W", "z": "Z", "D": "DH", "T": "TH",
    "S": "SH", "Z": "ZH", "N": "NG", "x": "K", "?": "T",
}
_LONGEST = max(len(name) for name in _PHONES)


def cmu_phones(word: str) -> str | None:
    """``word``'s pronunciation as CMU phones (``"HH AH L OW"``), or ``None`` when espeak-ng
    is missing or finds nothing to say."""
    try:
        said = espeak.phonemes(word, "en-us")
    except VoiceError:
        return None
    phones = []
    at = 0
    while at < len(said):
        for size in range(_LONGEST, 0, -1):
            name = said[at:at + size]
            if name in _PHONES:
                phones.append(_PHONES[name])
                at += size
                break
        else:  # stress, syllable and pause marks, word spaces
            at += 1
    flat = " ".join(phones).split()
    kept = [p for i, p in enumerate(flat) if not i or p != flat[i - 1]]  # "o@r": one R
    return " ".join(kept) if kept else None
