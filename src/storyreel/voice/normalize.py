"""Text normalised for speech: numbers, years, money and abbreviations as words.

Each whitespace-separated token of the text as written becomes its spoken form
(``"Dr."`` -> ``"Doctor"``, ``"$9.99,"`` -> ``"nine dollars ninety-nine cents,"``),
token by token, so word timings found on the spoken text map back onto the written
words the captions show.
"""

from __future__ import annotations

import re

__all__ = ["cardinal", "normalise", "ordinal", "speech_words", "spoken_tokens", "year"]

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth",
            "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_TITLES = {"dr": "Doctor", "mr": "Mister", "mrs": "Missus", "ms": "Miz", "prof": "Professor",
           "jr": "Junior", "sr": "Senior", "mt": "Mount", "capt": "Captain", "gen": "General",
           "sgt": "Sergeant", "lt": "Lieutenant", "col": "Colonel", "gov": "Governor"}
_PHRASES = {"vs": "versus", "etc": "et cetera", "e.g": "for example", "i.e": "that is",
            "approx": "approximately", "dept": "department", "govt": "government"}
_UNITS = {"km": "kilometres", "kg": "kilograms", "cm": "centimetres", "mm": "millimetres",
          "mph": "miles per hour", "ft": "feet", "lbs": "pounds", "min": "minutes"}
_MONEY = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
          "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen")}
_BIG = {"thousand", "million", "billion", "trillion"}
_LEAD = "\"'([{\u201c\u2018\u00ab"
_TRAIL = "\"')]}\u201d\u2019\u00bb.,;:!?\u2026"
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_RE_NUMBER = re.compile(rf"^(-)?({_NUMBER})(?:\.(\d+))?$")
_RE_MONEY = re.compile(rf"^([$£€¥])({_NUMBER})(?:\.(\d\d))?$")
_RE_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$", re.IGNORECASE)
_RE_DECADE = re.compile(r"^(1[1-9]|20)(\d)0'?s$")
_RE_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RE_UNIT = re.compile(rf"^({_NUMBER})(?:\.(\d+))?({'|'.join(_UNITS)})$")
_RE_DIGITS = re.compile(r"\d+")
#: Longer runs of digits are read digit by digit (no one says a 16-digit number whole).
_MAX_NUMBER_DIGITS = 15
_RE_LONG_DIGITS = re.compile(rf"\d{{{_MAX_NUMBER_DIGITS + 1}}}")


def cardinal(number: int) -> str:
    """``1250`` -> ``"one thousand two hundred fifty"``."""
    if number < 0:
        return "minus " + cardinal(-number)
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for scale, name in _SCALES:
        if number >= scale:
            high, rest = divmod(number, scale)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal(number: int) -> str:
    """``3`` -> ``"third"``, ``21`` -> ``"twenty-first"``."""
    words = cardinal(number)
    head, sep, last = words.rpartition("-") if "-" in words.split()[-1] else (
        *words.rpartition(" ")[:2], words.rpartition(" ")[2])
    if last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{last}"


def year(number: int) -> str:
    """A year as said: ``1984`` -> ``"nineteen eighty-four"``, ``2005`` -> ``"two thousand five"``.
    """
    if 2000 <= number <= 2009 or number % 1000 == 0:
        return cardinal(number)
    high, low = divmod(number, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh ' if low < 10 else ''}{cardinal(low)}"


def _is_year(digits: str) -> bool:
    return len(digits) == 4 and 1100 <= int(digits) <= 2099


def _money(match: re.Match[str], scale: str | None) -> str:
    one, many, cent, cents = _MONEY[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    if scale is not None:  # "$5 million" is said "five million dollars"
        return cardinal(whole)
    unit = one if whole == 1 else many
    spoken = f"{cardinal(whole)} {unit}"
    if match.group(3) and int(match.group(3)):
        fraction = int(match.group(3))
        spoken += f" {cardinal(fraction)} {cent if fraction == 1 else cents}"
    return spoken


def _decimal(whole: str, fraction: str | None) -> str:
    spoken = cardinal(int(whole.replace(",", "")))
    if fraction:
        spoken += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return spoken


def _number(core: str) -> str | None:
    match = _RE_NUMBER.match(core)
    if match:
        sign, whole, fraction = match.groups()
        if not sign and not fraction and _is_year(whole):
            return year(int(whole))
        return ("minus " if sign else "") + _decimal(whole, fraction)
    if core.endswith("%") and _RE_NUMBER.match(core[:-1]):
        return f"{_number(core[:-1])} percent"
    if match := _RE_ORDINAL.match(core):
        return ordinal(int(match.group(1)))
    if match := _RE_DECADE.match(core):
        decade = year(int(match.group(1) + match.group(2) + "0"))
        return decade[:-1] + "ies" if decade.endswith("y") else decade + "s"
    if match := _RE_TIME.match(core):
        hour, minute = int(match.group(1)), int(match.group(2))
        if minute == 0:
            return f"{cardinal(hour)} o'clock"
        return f"{cardinal(hour)} {'oh ' if minute < 10 else ''}{cardinal(minute)}"
    if match := _RE_UNIT.match(core):
        return f"{_decimal(match.group(1), match.group(2))} {_UNITS[match.group(3)]}"
    return None


def _split(token: str) -> tuple[str, str, str]:
    """Leading punctuation, the core, trailing punctuation."""
    start, end = 0, len(token)
    while start < end and token[start] in _LEAD:
        start += 1
    while end > start and token[end - 1] in _TRAIL:
        end -= 1
    return token[:start], token[start:end], token[end:]


def _abbreviation(core: str, tail: str, following: str) -> tuple[str, str] | None:
    """The spoken form of an abbreviation ending in a period, and the punctuation kept."""
    if not tail.startswith("."):
        return None
    key = core.lower()
    rest = tail[1:]
    if key in _TITLES:
        return _TITLES[key], rest
    if key in _PHRASES:
        return _PHRASES[key], (tail if key == "etc" and not rest else rest)
    if key == "st":
        return ("Saint", rest) if following[:1].isupper() else ("Street", tail)
    if key == "no" and following[:1].isdigit():
        return "number", rest
    return None


def _speak(token: str, following: str, previous: str) -> str:
    lead, core, tail = _split(token)
    if not core:
        return token
    if (spoken := _abbreviation(core, tail, following)) is not None:
        return f"{lead}{spoken[0]}{spoken[1]}"
    if core == "&":
        return f"{lead}and{tail}"
    if _RE_LONG_DIGITS.search(core):
        return f"{lead}{_digits(core)}{tail}"
    following_core = _split(following)[1].lower()
    if match := _RE_MONEY.match(core):
        return f"{lead}{_money(match, following_core if following_core in _BIG else None)}{tail}"
    if core.lower() in _BIG and previous[:1] in _MONEY and _RE_MONEY.match(_split(previous)[1]):
        unit = _MONEY[previous[0]][1]
        return f"{lead}{core} {unit}{tail}"
    if (number := _number(core)) is not None:
        return f"{lead}{number}{tail}"
    if any(c.isdigit() for c in core):
        return f"{lead}{_digits(core)}{tail}"
    return token


def _digits(core: str) -> str:
    """Each run of digits in ``core`` as a number, or digit by digit when it is long."""
    def say(run: str) -> str:
        if len(run) > _MAX_NUMBER_DIGITS:
            return " ".join(_ONES[int(d)] for d in run)
        return cardinal(int(run))

    spelled = _RE_DIGITS.sub(lambda m: f" {say(m.group())} ", core)
    return " ".join(spelled.replace("-", " ").split())


def spoken_tokens(text: str) -> list[str]:
    """The spoken form of each whitespace-separated token of ``text``, in order.

    Args:
        text: A segment's text as written.

    Returns:
        One string per written token (it may hold several words, e.g. a number).
    """
    tokens = text.split()
    spoken = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        previous = tokens[index - 1] if index else ""
        spoken.append(_speak(token, following, previous))
    return spoken


def normalise(text: str) -> str:
    """``text`` as the voice should say it (one line, words for numbers and abbreviations)."""
    return " ".join(spoken_tokens(text))


def speech_words(spoken: str) -> list[str]:
    """The plain lowercase words in a spoken token (hyphens split, punctuation dropped)."""
    words = []
    plain = spoken.lower().replace("\u2019", "'")
    for part in re.split("[\\s\\-\u2010\u2013\u2014/]+", plain):
        word = re.sub(r"[^\w']", "", part).strip("'")
        if word:
            words.append(word)
    return words
