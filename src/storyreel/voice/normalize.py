"""Text normalised for speech: numbers, years, money and abbreviations as words.

Each whitespace-separated token of the text as written becomes its spoken form
(``"Dr."`` -> ``"Doctor"``, ``"$9.99,"`` -> ``"nine dollars ninety-nine cents,"``),
token by token, so word timings found on the spoken text map back onto the written
words the captions show. The rules are chosen by the text's language: English here;
Spanish, German and French (decimal commas, ``1.234,50 €``, ``3 de mayo de 2024``,
``3. Mai``, ``1er``, ``50 %``) by the tables below, with ``num2words`` saying the
numbers. Other languages keep their digits for the voice to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LANGUAGES", "cardinal", "normalise", "ordinal", "speech_words", "spoken_tokens",
           "year"]

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


def spoken_tokens(text: str, language: str = "en") -> list[str]:
    """The spoken form of each whitespace-separated token of ``text``, in order.

    Args:
        text: A segment's text as written.
        language: Its language (BCP 47); English rules for ``en``, the tables of
            :data:`LANGUAGES` for theirs, digits left as written otherwise.

    Returns:
        One string per written token (it may hold several words, e.g. a number, or
        none: the ``€`` of ``"5 €"`` is said with the number).
    """
    base = language.strip().lower().replace("_", "-").split("-")[0]
    if base != "en":
        rules = LANGUAGES.get(base)
        return text.split() if rules is None else _Speaker(rules).tokens(text.split())
    tokens = text.split()
    spoken = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        previous = tokens[index - 1] if index else ""
        spoken.append(_speak(token, following, previous))
    return spoken


def normalise(text: str, language: str = "en") -> str:
    """``text`` as the voice should say it (one line, words for numbers and abbreviations)."""
    return " ".join(t for t in spoken_tokens(text, language) if t)


@dataclass(frozen=True)
class Rules:
    """How one language writes and says numbers, dates and money.

    Attributes:
        code: num2words' language code.
        comma: The decimal comma said aloud.
        minus: The word for a minus sign.
        percent: ``%`` said aloud.
        money: Per currency sign: singular, plural, cent, cents, feminine (for "una").
        joiner: Between the whole amount and the cents.
        of_million: Put between a round million and the currency (``de``, ``d'``).
        months: The months' names, January first.
        date: How a numeric date is said, from the day, month name and year words.
        clock: How ``14:30`` is said, from the hour and minute words (minute ``""`` on
            the hour).
    """

    code: str
    comma: str
    minus: str
    percent: str
    money: dict[str, tuple[str, str, str, str, bool]]
    joiner: str
    of_million: str
    months: tuple[str, ...]
    date: str
    clock: tuple[str, str]


LANGUAGES: dict[str, Rules] = {
    "es": Rules("es", "coma", "menos", "por ciento",
                {"€": ("euro", "euros", "céntimo", "céntimos", False),
                 "$": ("dólar", "dólares", "centavo", "centavos", False),
                 "£": ("libra", "libras", "penique", "peniques", True)},
                "con", "de ",
                ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                 "septiembre", "octubre", "noviembre", "diciembre"),
                "{day} de {month} de {year}", ("{hour} y {minute}", "{hour} en punto")),
    "de": Rules("de", "Komma", "minus", "Prozent",
                {"€": ("Euro", "Euro", "Cent", "Cent", False),
                 "$": ("Dollar", "Dollar", "Cent", "Cent", False),
                 "£": ("Pfund", "Pfund", "Penny", "Pence", False)},
                "und", "",
                ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                 "September", "Oktober", "November", "Dezember"),
                "{day} {month} {year}", ("{hour} Uhr {minute}", "{hour} Uhr")),
    "fr": Rules("fr", "virgule", "moins", "pour cent",
                {"€": ("euro", "euros", "centime", "centimes", False),
                 "$": ("dollar", "dollars", "cent", "cents", False),
                 "£": ("livre", "livres", "penny", "pence", True)},
                "et", "d'",
                ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre"),
                "{day} {month} {year}", ("{hour} heures {minute}", "{hour} heures")),
}
_CURRENCY = "€$£"
_SIGNS = frozenset(_CURRENCY)
_EU_NUMBER = r"\d{1,3}(?:\.\d{3})+|\d+"
_RE_EU_NUMBER = re.compile(rf"^(-|\u2212)?({_EU_NUMBER})(?:,(\d+))?$")
_RE_EU_MONEY = re.compile(rf"^([{_CURRENCY}])?({_EU_NUMBER})(?:,(\d\d|-))?([{_CURRENCY}])?$")
_RE_EU_DATE = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_RE_EU_TIME = re.compile(r"^([01]?\d|2[0-3])[:h.]([0-5]\d)$")
_RE_ES_ORDINAL = re.compile(r"^(\d+)\.?(º|ª|°|er|\.er)$")
_RE_FR_ORDINAL = re.compile(r"^(\d+)(er|re|ère|e|ème|eme)$")
_RE_DE_ORDINAL = re.compile(r"^(\d+)\.$")
_RE_GROUP_HEAD = re.compile("^[-\u2212]?\\d{1,3}$")
_RE_GROUP = re.compile(r"^\d{3}(?:,\d+)?")


def _digit_group(tokens: list[str], index: int) -> int:
    """How many tokens from ``index`` write one number with spaces between its thousands
    (``1 000 000``; French), 1 when they do not."""
    if not _RE_GROUP_HEAD.match(tokens[index]):
        return 1
    count = 1
    while index + count < len(tokens) and _RE_GROUP.match(tokens[index + count]):
        count += 1
        if not tokens[index + count - 1].isdigit():
            break  # a decimal part or punctuation ends the number
    return count


_DE_DATIVE = {"am", "vom", "zum", "bis", "seit", "ab", "dem", "den", "im"}
_DE_ARTICLES = _DE_DATIVE | {"der", "die", "das", "des"}


class _Speaker:
    """Spanish, German or French tokens in their spoken form."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def words(self, number: int, to: str = "cardinal") -> str:
        from num2words import num2words

        if to == "cardinal" and len(str(number)) > _MAX_NUMBER_DIGITS:
            return " ".join(self.words(int(d)) for d in str(number))
        return str(num2words(number, lang=self.rules.code, to=to))

    def tokens(self, tokens: list[str]) -> list[str]:
        spoken: list[str] = []
        index = 0
        while index < len(tokens):
            group = _digit_group(tokens, index)  # "1 000 000" (French thousands) as one
            token = "".join(tokens[index:index + group]) if group > 1 else tokens[index]
            following = tokens[index + group] if index + group < len(tokens) else ""
            previous = tokens[index - 1] if index else ""
            said = self.token(token, previous, following)
            said_before = [i for i, t in enumerate(spoken) if t]
            if not said and said_before and (tail := _split(token)[2]):
                spoken[said_before[-1]] += tail  # "5 €.": said with the number, its period kept
            spoken += [said] + [""] * (group - 1)
            index += group
        return spoken

    def token(self, token: str, previous: str, following: str) -> str:
        lead, core, tail = _split(token)
        if self.rules.code == "de" and _RE_DE_ORDINAL.match(core + tail[:1]):
            return lead + self.german_ordinal(int(core), previous, following) + tail[1:]
        if self.rules.code == "de" and core == "Uhr" and _RE_EU_TIME.match(_split(previous)[1]):
            return token if previous.endswith(":00") else ""  # "14:30 Uhr": said with the time
        if not core or (not any(c.isdigit() for c in core) and core not in _SIGNS | {"%"}):
            return token
        said = self.core(core, _split(previous)[1], _split(following)[1])
        return f"{lead}{said}{tail}" if said else said

    def core(self, core: str, previous: str, following: str) -> str:
        rules = self.rules
        if core in _SIGNS:  # "5 €": said with the number before it
            return "" if _RE_EU_NUMBER.match(previous) else rules.money[core][1]
        if core == "%":
            return "" if _RE_EU_NUMBER.match(previous) else rules.percent
        if core.endswith("%") and (number := self.number(core[:-1])) is not None:
            return f"{number} {rules.percent}"
        if following in _SIGNS and (match := _RE_EU_MONEY.match(core + following)):
            return self.money(match)
        if any(c in core for c in _CURRENCY) and (match := _RE_EU_MONEY.match(core)):
            return self.money(match)
        if following == "%" and (number := self.number(core)) is not None:
            return f"{number} {rules.percent}"
        return (self.special(core, previous, following) or self.number(core)
                or self.digits(core))

    def special(self, core: str, previous: str, following: str) -> str | None:
        rules = self.rules
        if match := _RE_EU_DATE.match(core):
            day, month, year_ = (int(g) for g in match.groups())
            if 1 <= day <= 31 and 1 <= month <= 12:
                said_day = (self.german_day(day, previous) if rules.code == "de"
                            else self.day(day))
                return rules.date.format(day=said_day, month=rules.months[month - 1],
                                         year=self.words(year_, "year"))
        if match := _RE_EU_TIME.match(core):
            hour, minute = int(match.group(1)), int(match.group(2))
            said_hour = "une" if rules.code == "fr" and hour == 1 else self.words(hour)
            if rules.code == "de" and following == "Uhr":  # "14:00 Uhr", "14:30 Uhr"
                return said_hour + (f" Uhr {self.words(minute)}" if minute else "")
            said = (rules.clock[1].format(hour=said_hour) if minute == 0 else
                    rules.clock[0].format(hour=said_hour, minute=self.words(minute)))
            return said.replace("heures", "heure") if rules.code == "fr" and hour < 2 else said
        if rules.code == "es" and (match := _RE_ES_ORDINAL.match(core)):
            said = self.words(int(match.group(1)), "ordinal")
            if match.group(2) == "ª":
                return " ".join(w[:-1] + "a" if w.endswith("o") else w for w in said.split())
            if match.group(2).endswith("er"):  # "1.er piso": primer, tercer
                return said[:-1] if said.endswith(("primero", "tercero")) else said
            return said
        if rules.code == "fr" and (match := _RE_FR_ORDINAL.match(core)):
            number = int(match.group(1))
            if number == 1:
                return "première" if match.group(2) in ("re", "ère") else "premier"
            return self.words(number, "ordinal")
        return None

    def day(self, day: int) -> str:
        if day == 1 and self.rules.code == "fr":
            return "premier"
        return self.words(day)

    def german_day(self, day: int, previous: str) -> str:
        ordinal_ = self.words(day, "ordinal")
        return ordinal_ + ("n" if previous.lower() in _DE_DATIVE else "r")

    def german_ordinal(self, number: int, previous: str, following: str) -> str:
        """``3.``: an ordinal in a date (``am 3. Mai``) or after an article; else a
        number at the end of a sentence."""
        month = _split(following)[1] in self.rules.months
        if month:
            return self.german_day(number, _split(previous)[1])
        if _split(previous)[1].lower() in _DE_ARTICLES:
            return self.words(number, "ordinal")
        return self.words(number) + "."

    def number(self, core: str) -> str | None:
        match = _RE_EU_NUMBER.match(core)
        if not match:
            return None
        sign, whole, fraction = match.groups()
        digits = whole.replace(".", "")
        if not sign and not fraction and "." not in whole and _is_year(digits):
            said = self.words(int(digits), "year")
        else:
            said = self.words(int(digits))
        if fraction:
            said += f" {self.rules.comma} {self.fraction(fraction)}"
        return f"{self.rules.minus} {said}" if sign else said

    def fraction(self, digits: str) -> str:
        if len(digits) <= 2 and not digits.startswith("0"):
            return self.words(int(digits))
        return " ".join(self.words(int(d)) for d in digits)

    def digits(self, core: str) -> str:
        spelled = _RE_DIGITS.sub(lambda m: f" {self.words(int(m.group()))} ", core)
        return " ".join(spelled.replace("-", " ").split())

    def money(self, match: re.Match[str]) -> str:
        sign = match.group(1) or match.group(4)
        one, many, cent, cents, feminine = self.rules.money[sign]
        whole = int(match.group(2).replace(".", ""))
        said = self.agreeing(whole, feminine)
        if whole and whole % 1_000_000 == 0 and self.rules.of_million:
            unit = many if self.rules.code == "es" else f"{self.rules.of_million}{many}"
            said += f" de {unit}" if self.rules.code == "es" else f" {unit}"
        else:
            singular = whole == 1 or (whole == 0 and self.rules.code == "fr")
            said += f" {one if singular else many}"
        fraction = match.group(3)
        if fraction and fraction != "-" and int(fraction):
            count = int(fraction)
            said += (f" {self.rules.joiner} {self.agreeing(count, False)} "
                     f"{cent if count == 1 else cents}")
        return said

    def agreeing(self, number: int, feminine: bool) -> str:
        """A count before a noun: ``un``/``una``/``ein``/``une``, ``veintiún``."""
        said = self.words(number)
        code = self.rules.code
        if code == "es":
            if said.endswith("veintiuno"):
                return said[:-len("veintiuno")] + ("veintiuna" if feminine else "veintiún")
            if said == "uno" or said.endswith(" uno"):
                return said[:-3] + ("una" if feminine else "un")
        if code == "de" and said.endswith("eins"):
            return said[:-4] + "ein"
        if code == "fr" and feminine and (said == "un" or said.endswith(" un")):
            return said[:-2] + "une"
        return said


def speech_words(spoken: str) -> list[str]:
    """The plain lowercase words in a spoken token (hyphens split, punctuation dropped)."""
    words = []
    plain = spoken.lower().replace("\u2019", "'")
    for part in re.split("[\\s\\-\u2010\u2013\u2014/]+", plain):
        word = re.sub(r"[^\w']", "", part).strip("'")
        if word:
            words.append(word)
    return words
