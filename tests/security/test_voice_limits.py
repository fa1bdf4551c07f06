"""Any text the limits allow is spoken by the built-in voice in bounded memory, and what
cannot be spoken is answered in one line naming its segment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import storyreel
from storyreel.errors import VoiceError
from storyreel.model.project import MAX_TEXT_LENGTH, Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.hibari import MAX_PHONEMES, _bounded
from storyreel.voice.narrate import Narrator

GB = 1 << 30
#: The most one synthesis may take, whatever the text (model and aligner included).
BOUND = 1.5 * GB
_WORDS = ["the", "old", "river", "kept", "running", "past", "the", "quiet", "town", "and",
          "over", "the", "hills"]

_CHILD = """
import json, sys
from pathlib import Path
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.narrate import Narrator
text = sys.stdin.read()
narration = Narrator(NarrationCache(Path(sys.argv[1]))).speak(text, Voice())
# VmHWM, not ru_maxrss: on Linux ru_maxrss carries the forked parent's size from before
# exec, and the test run's own process grows past the bound over a full run.
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"peak": peak,
                  "seconds": narration.seconds, "words": len(narration.words.words),
                  "source": narration.words.source}))
"""


def _speak_in_child(text: str, cache: Path) -> dict[str, float | str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(storyreel.__file__).parents[1]),
                                         env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", _CHILD, str(cache)], input=text, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.timeout(900)  # a hang guard: twenty minutes of speech, slow on a loaded machine
def test_a_run_on_segment_at_the_limit_is_spoken_in_bounded_memory(tmp_path: Path) -> None:
    text = " ".join(_WORDS[i % len(_WORDS)] for i in range(MAX_TEXT_LENGTH))[:MAX_TEXT_LENGTH]
    assert len(text) == MAX_TEXT_LENGTH and not any(c in text for c in ".,;:!?")
    # Given whole, 8,000 such characters took 4.4 GB and 20,000 more than 6 GB.
    result = _speak_in_child(text, tmp_path)
    assert float(result["peak"]) < BOUND, f"peaked at {float(result['peak']) / GB:.2f} GB"
    words = len(text.split())
    assert result["words"] == words
    assert 1.5 <= words / float(result["seconds"]) <= 4.5  # all of it was said
    assert result["source"] == "aligned"


def test_the_voice_model_never_gets_more_than_its_bound_at_once() -> None:
    word = "\u02c8\u025bks" * 30  # "x" as the model's phonemes
    runs = _bounded(" ".join([word] * 40) + " " + "x" * 1_000)
    assert max(map(len, runs)) <= MAX_PHONEMES
    assert "".join(runs).replace(" ", "") == (word * 40 + "x" * 1_000)
    assert _bounded("hə.") == ["hə."]


def test_what_the_voice_cannot_say_is_one_line_naming_the_segment(tmp_path: Path) -> None:
    narrator = Narrator(NarrationCache(tmp_path))
    for text, reason in (("\U0001F600\U0001F3FD \u2764\ufe0f\n" * 500, "nothing a voice can say"),
                         ("\u65e5\u672c\u8a9e\u3067\u3059\u3002", "English")):
        with pytest.raises(VoiceError) as info:
            narrator.speak(text, Voice(), segment=4)
        message = str(info.value)
        assert message.startswith("segment 4 voice: ") and reason in message
        assert "\n" not in message and len(message) < 200


def test_pieces_with_nothing_to_say_are_left_silent(tmp_path: Path) -> None:
    # After NFC these are letters the English voice does not read; the pieces that hold
    # only them are silent, the words around them are said.
    text = "Say " + "a\u0301" * 2_000 + " now, and then stop."
    narration = Narrator(NarrationCache(tmp_path)).speak(text, Voice(), segment=2)
    assert 0.5 < narration.seconds < 60.0  # spelled out whole, it lasted 400 s
    assert len(narration.words.words) == len(text.split())
