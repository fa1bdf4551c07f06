"""The fonts every install has: Noto (SIL OFL 1.1), one face per script, from two wheels.

``manimgx-fonts`` carries Noto Sans for the scripts Latin faces lack (Arabic, Hebrew,
Devanagari, Bengali, Tamil, Telugu, Thai, Khmer, ...) and ``manimgx-fonts-cjk`` the
variable Noto Sans CJK collection, whose five faces draw Han characters the way
Japanese, Korean, Simplified and Traditional Chinese (Taiwan, Hong Kong) readers expect:
the language tag picks the face. Both are plain data wheels (no code runs from them);
their folders are found through :mod:`importlib.resources`, never downloaded.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import langcodes

__all__ = ["BUNDLED_WEIGHT", "FontKey", "bundled_fonts", "cjk_face", "is_bundled"]

FontKey = tuple[str, int]  # file, index in a collection

#: The weight the bundled variable fonts are set in, matching DejaVu Sans Bold.
BUNDLED_WEIGHT = 700
_SCRIPTS_PACKAGE = "manimgx_fonts"
_CJK_PACKAGE = "manimgx_fonts_cjk"
_CJK_FILE = "NotoSansCJK-VF.otf.ttc"
# Face index in the collection per (language, script, region), most specific first.
_CJK_FACES = {"ja": 0, "ko": 1, "Hans": 2, "Hant": 3, "HK": 4, "MO": 4}
_SKIPPED = ("Italic", "Emoji")  # upright faces only; emoji are left to colour fonts


@functools.lru_cache(maxsize=1)
def _script_fonts() -> tuple[FontKey, ...]:
    folder = _package_dir(_SCRIPTS_PACKAGE)
    if folder is None:
        return ()
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".ttf", ".otf")
                   and not any(word in p.name for word in _SKIPPED))
    # Noto Sans (Latin, Greek, Cyrillic) last: the script faces are searched first.
    files.sort(key=lambda p: p.name.startswith("NotoSans["))
    return tuple((str(p), 0) for p in files)


def _package_dir(name: str) -> Path | None:
    try:
        folder = Path(str(resources.files(name)))
    except ModuleNotFoundError:
        return None
    return folder if folder.is_dir() else None


def cjk_face(language: str) -> int:
    """The collection index of the Noto Sans CJK face for ``language``'s Han characters.

    ``ja`` gets the Japanese face, ``ko`` the Korean one, ``zh-Hant``/``zh-TW`` the
    Traditional Chinese one, ``zh-HK``/``zh-MO`` Hong Kong's, other Chinese (and every
    other language) the Simplified Chinese one.
    """
    try:
        tag = langcodes.Language.get(language)
    except ValueError:
        return _CJK_FACES["Hans"]
    if tag.language in ("ja", "ko"):
        return _CJK_FACES[tag.language]
    if tag.language == "zh" and tag.territory in ("HK", "MO"):
        return _CJK_FACES["HK"]
    if tag.language == "zh":
        script = tag.script or tag.maximize().script
        return _CJK_FACES.get(script or "Hans", _CJK_FACES["Hans"])
    return _CJK_FACES["Hans"]


@functools.lru_cache(maxsize=32)
def bundled_fonts(language: str) -> tuple[FontKey, ...]:
    """The bundled fallback fonts for text in ``language``, in the order to search them."""
    cjk_dir = _package_dir(_CJK_PACKAGE)
    cjk = ((str(cjk_dir / _CJK_FILE), cjk_face(language)),) if cjk_dir is not None else ()
    scripts = _script_fonts()
    return (*scripts[:-1], *cjk, *scripts[-1:]) if scripts else cjk


def is_bundled(path: str) -> bool:
    """Whether ``path`` is one of the bundled fonts (set at :data:`BUNDLED_WEIGHT`)."""
    return any(path == key[0] for key in (*_script_fonts(), *bundled_fonts("zh")))
