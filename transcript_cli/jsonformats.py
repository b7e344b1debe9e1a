"""Speech-to-text JSON as tools write it: segments, bare lists, whisper.cpp, word-level, speakers.

Accepted shapes:
- `{"segments": [{"text", "start", "end", "speaker"?}]}` (OpenAI Whisper, faster-whisper,
  whisperX; `"utterances"` as AssemblyAI names them);
- a bare list of such segments;
- whisper.cpp's `{"transcription": [{"text", "offsets": {"from", "to"}}]}` (milliseconds);
- word-level: `{"words": [...]}`, a bare list of words, or segments holding only `"words"`, each
  word `{"word" | "text" | "punctuated_word", "start", "end", "speaker"?}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transcript_cli.errors import InputError
from transcript_cli.scripts import join_text, strip_bidi
from transcript_cli.sentences import FINAL_MARKS

_SEGMENT_KEYS = ("segments", "utterances", "transcription")
_SPEAKER_KEYS = ("speaker", "speaker_label", "speaker_name", "speaker_id", "spk", "speakerTag")
_WORD_KEYS = ("punctuated_word", "word", "text")
_SENTENCE_ENDS = tuple(FINAL_MARKS)
EXPECTED = (
    'expected {"segments": [...]}, a list of segments, whisper.cpp\'s {"transcription": [...]} '
    "or a list of words"
)


@dataclass(frozen=True)
class Spoken:
    """A segment (or a run of words) of speech-to-text output."""

    text: str
    start: float | None
    end: float | None
    speaker: str | None


def parse_json(path: Path, text: str) -> list[Spoken]:
    """Everything said, in order; an InputError for JSON or shapes this does not know."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(path, "invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        # An integer longer than Python converts by default; the rest is advice for programmers.
        first = str(exc).strip().splitlines()[0][:120]
        raise InputError(path, f"invalid JSON ({first.split(';')[0]})") from None
    items = _items(data)
    if items is None:
        raise InputError(path, f"not a Whisper transcript ({EXPECTED})")
    spoken: list[Spoken] = []
    words: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(path, f"segment {n} has no text string")
        if isinstance(item.get("text"), str) and not _is_word(item):
            spoken.extend(_from_words(words))
            words = []
            spoken.append(_segment(item, item["text"]))
        elif _is_word(item):
            words.append(item)
        elif _word_list(item.get("words")):
            speaker = _speaker(item)
            words.extend({"speaker": speaker, **w} if speaker else w for w in item["words"])
        else:
            raise InputError(path, f"segment {n} has no text string")
    spoken.extend(_from_words(words))
    return [s for s in spoken if s.text]


def _items(data: object) -> list[Any] | None:
    if isinstance(data, list):
        return data if all(isinstance(i, dict) for i in data) else None
    if not isinstance(data, dict):
        return None
    for key in (*_SEGMENT_KEYS, "words"):
        value = data.get(key)
        if isinstance(value, list):
            return value
    return None


def _word_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(w, dict) for w in value)


def _is_word(item: dict[str, Any]) -> bool:
    """A word entry (`word` or Deepgram's `punctuated_word`); `text` entries are segments."""
    return isinstance(item.get("word"), str) or isinstance(item.get("punctuated_word"), str)


def _segment(item: dict[str, Any], text: str) -> Spoken:
    start, end = _times(item)
    return Spoken(_plain(text), start, end, _speaker(item))


def _plain(text: str) -> str:
    return " ".join(strip_bidi(text).split())


def _times(item: dict[str, Any]) -> tuple[float | None, float | None]:
    offsets = item.get("offsets")
    if isinstance(offsets, dict):  # whisper.cpp: milliseconds
        start, end = offsets.get("from"), offsets.get("to")
        return _seconds(start, 1000), _seconds(end, 1000)
    return _seconds(item.get("start"), 1), _seconds(item.get("end"), 1)


def _seconds(value: object, per_second: int) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) / per_second


def _speaker(item: dict[str, Any]) -> str | None:
    for key in _SPEAKER_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return f"Speaker {value}"
    return None


def _from_words(words: list[dict[str, Any]]) -> Iterator[Spoken]:
    """Words joined into runs that end at a sentence end or a change of speaker."""
    run: list[dict[str, Any]] = []
    for word in words:
        if run and _speaker(word) != _speaker(run[0]):
            yield _joined(run)
            run = []
        run.append(word)
        if _word_text(word).endswith(_SENTENCE_ENDS):
            yield _joined(run)
            run = []
    if run:
        yield _joined(run)


def _word_text(word: dict[str, Any]) -> str:
    for key in _WORD_KEYS:
        value = word.get(key)
        if isinstance(value, str):
            return value.strip()
    return ""


def _joined(run: list[dict[str, Any]]) -> Spoken:
    text = ""
    for word in run:
        text = join_text(text, _word_text(word))
    start, _ = _times(run[0])
    _, end = _times(run[-1])
    return Spoken(_plain(text), start, end, _speaker(run[0]))
