"""SRT / WebVTT sidecars and YouTube chapter lists."""

from __future__ import annotations

import errno
import json
import stat
from fractions import Fraction
from pathlib import Path

import pytest

from storyreel.errors import DiskFullError, OutputError
from storyreel.media.sidecar import (
    format_srt,
    format_vtt,
    format_words_json,
    parse_srt,
    parse_vtt,
    sidecar_path,
    write_srt,
    write_text_atomic,
    write_vtt,
    youtube_chapters,
)

F = Fraction

CUES = [
    (F(0), F(1234, 1000), "Deep in the heart"),
    (F(1234, 1000), F(5, 2), "of the valley, café — naïve"),
    (F(3), F(3723, 1) + F(45, 1000), "二行目\nsecond line <b> & co"),
]


def test_srt_format_exact() -> None:
    text = format_srt(CUES[:2])
    assert text == (
        "1\n00:00:00,000 --> 00:00:01,234\nDeep in the heart\n\n"
        "2\n00:00:01,234 --> 00:00:02,500\nof the valley, café — naïve\n"
    )


def test_vtt_format_exact() -> None:
    text = format_vtt(CUES[2:])
    assert text == (
        "WEBVTT\n\n00:00:03.000 --> 01:02:03.045\n二行目\nsecond line &lt;b&gt; &amp; co\n"
    )


def test_millisecond_rounding_and_minimum_length() -> None:
    text = format_srt([(F(1, 3), F(2, 3), "a"), (F(1), F(1) + F(1, 10_000), "b")])
    assert "00:00:00,333 --> 00:00:00,667" in text
    assert "00:00:01,000 --> 00:00:01,001" in text


def test_blank_cues_and_blank_lines_dropped() -> None:
    cues = parse_srt(format_srt([(F(0), F(1), "  "), (F(1), F(2), "one\n\n  two  words")]))
    assert cues == [(F(1), F(2), "one\ntwo words")]


def test_negative_time_rejected() -> None:
    with pytest.raises(ValueError):
        format_srt([(F(-1), F(1), "x")])


@pytest.mark.parametrize("suffix", [".srt", ".vtt"])
def test_write_and_round_trip(tmp_path: Path, suffix: str) -> None:
    path = sidecar_path(tmp_path / "story.mp4", suffix)
    assert path == tmp_path / f"story{suffix}"
    writer, parser = (write_srt, parse_srt) if suffix == ".srt" else (write_vtt, parse_vtt)
    writer(path, CUES)
    raw = path.read_bytes()
    assert b"\r" not in raw
    assert parser(raw.decode("utf-8")) == CUES
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp left behind
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o044  # readable by others, like any file the user creates


def test_parse_accepts_crlf_bom_and_short_vtt_stamps() -> None:
    srt = "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nHi\r\n\r\n"
    assert parse_srt(srt) == [(F(1), F(5, 2), "Hi")]
    vtt = "WEBVTT - title\n\nNOTE a comment\n\nid-1\n00:01.000 --> 00:02.000 line:80%\nYo\n"
    assert parse_vtt(vtt) == [(F(1), F(2), "Yo")]
    with pytest.raises(ValueError):
        parse_vtt("1\n00:00:01,000 --> 00:00:02,500\nHi\n")


def test_write_into_missing_folder_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        write_srt(tmp_path / "nope" / "story.srt", CUES)


def test_atomic_write_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "story.chapters.txt"
    write_text_atomic(path, "old\n")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("storyreel.media.sidecar.os.replace", full_disk)
    with pytest.raises(DiskFullError):
        write_text_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_chapters_follow_youtube_format() -> None:
    text, warnings = youtube_chapters(
        [(F(0), "Dawn"), (F(125, 10), "The river"), (F(3725), "Late  night")], F(4000)
    )
    assert text == "00:00 Dawn\n00:12 The river\n1:02:05 Late night\n"
    assert warnings == []


def test_chapters_first_moved_to_zero_with_warning() -> None:
    text, warnings = youtube_chapters(
        [(F(4), "One"), (F(20), "Two"), (F(40), "Three")], F(60)
    )
    assert text.splitlines()[0] == "00:00 One"
    assert len(warnings) == 1 and "00:00" in warnings[0]


def test_chapters_rules_reported_but_still_written() -> None:
    text, warnings = youtube_chapters([(F(0), "One"), (F(8), "Two")], F(30))
    assert text == "00:00 One\n00:08 Two\n"
    assert len(warnings) == 2
    assert "at least 3" in warnings[0]
    assert "'One' at 00:00 (8 s)" in warnings[1]
    assert "'Two'" not in warnings[1]  # 22 s long


def test_chapters_last_too_short_and_untitled() -> None:
    text, warnings = youtube_chapters(
        [(F(0), "A"), (F(10), "B"), (F(15), " "), (F(20), "C")], F(25)
    )
    assert text == "00:00 A\n00:10 B\n00:20 C\n"
    assert any("no title" in w for w in warnings)
    assert any("'B' at 00:10 (10 s)" not in w and "'C' at 00:20 (5 s)" in w for w in warnings)


def test_chapters_empty_and_unordered() -> None:
    assert youtube_chapters([], F(10)) == ("", [])
    with pytest.raises(ValueError):
        youtube_chapters([(F(20), "B"), (F(0), "A")], F(30))


def test_vtt_carries_word_timestamps_and_reads_back_as_text() -> None:
    cues = [(Fraction(1), Fraction(3), "Deep in <the> valley")]
    words = [[(Fraction(1), Fraction(13, 10), "Deep"), (Fraction(3, 2), Fraction(17, 10), "in"),
              (Fraction(18, 10), Fraction(2), "<the>"), (Fraction(21, 10), Fraction(26, 10),
                                                         "valley")]]
    text = format_vtt(cues, words)
    assert ("00:00:01.000 --> 00:00:03.000\nDeep <00:00:01.500>in <00:00:01.800>&lt;the&gt; "
            "<00:00:02.100>valley\n") in text
    assert parse_vtt(text) == [(Fraction(1), Fraction(3), "Deep in <the> valley")]
    # Words that do not spell the cue's text are left out rather than misplaced.
    assert "<00:" not in format_vtt(cues, [[(Fraction(1), Fraction(2), "Other")]])


def test_words_json_lists_every_word_with_its_times() -> None:
    words = [((Fraction(1, 3), Fraction(2, 3), "Hello"), 1, 1),
             ((Fraction(2, 3), Fraction(1), "world."), 1, 1)]
    data = json.loads(format_words_json(words, Fraction(30000, 1001)))
    assert data == {"fps": "30000/1001", "words": [
        {"text": "Hello", "start": 0.333, "end": 0.667, "segment": 1, "cue": 1},
        {"text": "world.", "start": 0.667, "end": 1.0, "segment": 1, "cue": 1}]}
