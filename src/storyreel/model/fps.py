"""Frame rates as exact fractions."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["FrameRate", "parse_fps"]

# Broadcast rates people write as decimals; each means an exact NTSC fraction.
_NTSC = {
    Fraction("23.976"): Fraction(24000, 1001),
    Fraction("23.98"): Fraction(24000, 1001),
    Fraction("29.97"): Fraction(30000, 1001),
    Fraction("47.952"): Fraction(48000, 1001),
    Fraction("59.94"): Fraction(60000, 1001),
    Fraction("119.88"): Fraction(120000, 1001),
}
# Digits, a decimal point and a slash only: Fraction() would also take "1e999999999",
# whose exact value takes minutes and gigabytes to build.
_RATE_TEXT = re.compile(r"\d{1,12}(?:\.\d{1,12})?(?:\s{0,8}/\s{0,8}\d{1,12})?")
MIN_FPS = Fraction(1)
MAX_FPS = Fraction(120)


def parse_fps(value: Any) -> Fraction:
    """Parse a frame rate given as a number, a decimal string or ``"num/den"``.

    Args:
        value: ``30``, ``29.97``, ``"29.97"``, ``"30000/1001"`` or a ``Fraction``.

    Returns:
        The exact rate; NTSC decimals (29.97, 23.976, 59.94) map to their ``/1001`` form.

    Raises:
        ValueError: The value is not a rate, or is outside 1-120 fps.
    """
    if isinstance(value, bool):
        raise ValueError("frame rate must be a number such as 30, 29.97 or '30000/1001'")
    try:
        if isinstance(value, Fraction):
            rate = value
        elif isinstance(value, int):
            rate = Fraction(value)
        elif isinstance(value, float):
            rate = Fraction(repr(value))
        elif isinstance(value, str) and _RATE_TEXT.fullmatch(value.strip()):
            rate = Fraction("".join(value.split()))
        else:
            raise TypeError
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValueError(
            f"frame rate {_shown(value)!r} is not a number such as 30, 29.97 or '30000/1001'"
        ) from exc
    if not MIN_FPS - 1 <= rate <= MAX_FPS + 1:  # before anything converts it to a float
        raise ValueError(f"frame rate {_shown(value)} is outside 1-120 fps")
    rate = _NTSC.get(rate, rate)
    if rate.denominator > 1001:
        rate = rate.limit_denominator(1001)
    if not MIN_FPS <= rate <= MAX_FPS:
        raise ValueError(f"frame rate {float(rate):g} is outside 1-120 fps")
    return rate


def _shown(value: Any) -> str:
    """The value as given, shortened: a rate like ``1e400`` has no float to print."""
    text = str(value).strip()
    return text if len(text) <= 24 else text[:21] + "..."


def _dump(rate: Fraction) -> str | int:
    return rate.numerator if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


FrameRate = Annotated[
    Fraction,
    BeforeValidator(parse_fps),
    PlainSerializer(_dump),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 1, "maximum": 120},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?(\s*/\s*\d+)?\s*$"},
            ],
            "description": "Frames per second: 24, 25, 30, 50, 60, 29.97 or '30000/1001'.",
        }
    ),
]
