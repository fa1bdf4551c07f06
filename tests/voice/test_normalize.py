"""Text normalised for speech: numbers, years, money and abbreviations, token by token."""

from __future__ import annotations

import pytest

from storyreel.voice.normalize import (
    cardinal,
    normalise,
    ordinal,
    speech_words,
    spoken_tokens,
    year,
)


@pytest.mark.parametrize(("text", "spoken"), [
    ("Dr. Smith arrived.", "Doctor Smith arrived."),
    ("Mr. and Mrs. Jones", "Mister and Missus Jones"),
    ("It cost $9.99, then $1.", "It cost nine dollars ninety-nine cents, then one dollar."),
    ("a £3 ticket", "a three pounds ticket"),
    ("$5 million", "five million dollars"),
    ("In 1984 and 2005 and 2024.", "In nineteen eighty-four and two thousand five and "
                                   "twenty twenty-four."),
    ("in 1900 or 1905", "in nineteen hundred or nineteen oh five"),
    ("1,250 people", "one thousand two hundred fifty people"),
    ("the 3rd and 21st", "the third and twenty-first"),
    ("50% of 3.14", "fifty percent of three point one four"),
    ("at 7:30 or 7:00", "at seven thirty or seven o'clock"),
    ("the 1990s", "the nineteen nineties"),
    ("St. Paul lives on Main St.", "Saint Paul lives on Main Street."),
    ("No. 5 & more etc.", "number five and more et cetera."),
    ("-4 degrees", "minus four degrees"),
    ("COVID-19", "COVID nineteen"),
    ("Plain words stay.", "Plain words stay."),
])
def test_normalised_forms(text: str, spoken: str) -> None:
    assert normalise(text) == spoken


def test_one_spoken_form_per_written_token() -> None:
    text = "On 3 May 1984 — Dr. Who paid $12.50."
    tokens = spoken_tokens(text)
    assert len(tokens) == len(text.split()) == 9
    assert tokens[1] == "three"
    assert tokens[3] == "nineteen eighty-four"
    assert tokens[4] == "—"
    assert tokens[5] == "Doctor"
    assert tokens[8] == "twelve dollars fifty cents."


def test_number_words() -> None:
    assert cardinal(0) == "zero"
    assert cardinal(1_000_001) == "one million one"
    assert cardinal(999) == "nine hundred ninety-nine"
    assert ordinal(12) == "twelfth"
    assert ordinal(40) == "fortieth"
    assert ordinal(101) == "one hundred first"
    assert year(2000) == "two thousand"
    assert year(1066) == "ten sixty-six"


def test_speech_words_are_plain_lowercase_words() -> None:
    assert speech_words("ninety-nine cents,") == ["ninety", "nine", "cents"]
    assert speech_words("\u201cO'Brien\u2019s\u201d") == ["o'brien's"]
    assert speech_words("—") == []
