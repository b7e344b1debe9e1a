"""Bytes to text: a byte-order mark, else UTF-8, else the legacy encoding charset-normalizer picks.

Subtitles in French, Spanish, Arabic or Chinese are still often saved as Windows-1252,
Windows-1256 or GB18030. Guessing is left to charset-normalizer (maintained, pure Python, what
`requests` uses); the name it picks is reported so a wrong guess can be overridden with
`--encoding`.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from transcript_cli.errors import InputError, UsageError

# Legacy encodings in the order subtitle files use them (Windows code pages first), for ties.
_COMMON = [
    codecs.lookup(name).name
    for name in (
        "cp1252", "cp1250", "cp1251", "cp1256", "cp1253", "cp1254", "cp1255", "cp1257",
        "cp1258", "gb18030", "big5", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr",
        "koi8_r", "cp874",
    )
]  # fmt: skip
_NEAR = 0.05
# Arabic and Hebrew subtitles put RLM/LRM (0xFE/0xFD in Windows-1255/1256) at line edges; the
# detector counts them as noise and drops the right code page, so it does not see them.
_BIDI_MARKS_AT_EDGES = re.compile(rb"(^|\n)[\xfd\xfe]+|[\xfd\xfe]+(?=\r?\n|$)", re.M)


def check_encoding(name: str) -> str:
    """A user's `--encoding`, checked and in Python's canonical spelling."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UsageError(
            f"unknown encoding {name!r} for --encoding (e.g. cp1252, gb18030)"
        ) from None


def read_text(path: Path, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding it was decoded with; problems are InputErrors."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from exc
    chosen = encoding or bom_encoding(raw)
    if chosen is None and b"\x00" in raw:
        # Before guessing: "binary" says more about an image or a PDF than a guessed codec does.
        raise InputError(path, "binary data, not a transcript")
    text, name = _decode(path, raw, chosen)
    # After decoding, so a file holding only a BOM or UTF-16 blanks counts as empty too.
    if not text.strip():
        raise InputError(path, "file is empty")
    if "\x00" in text:
        raise InputError(path, "binary data, not a transcript")
    return text.removeprefix("\ufeff"), name


def _decode(path: Path, raw: bytes, encoding: str | None) -> tuple[str, str]:
    """The text and the encoding that decoded it: the one given, else UTF-8, else a guess."""
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise InputError(
                path,
                f"not {encoding.removesuffix('-sig').upper()} text (undecodable byte at offset "
                f"{exc.start}); give its encoding with --encoding",
            ) from None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        guessed = _guess(raw)
        if guessed is None:
            raise InputError(
                path,
                f"not UTF-8 text (undecodable byte at offset {exc.start}) and no other encoding "
                "fits; give its encoding with --encoding",
            ) from None
        return raw.decode(guessed), guessed


def _guess(raw: bytes) -> str | None:
    """charset-normalizer's pick, with ties broken toward the code pages subtitles really use.

    On a few hundred bytes of French it rates cp1257 (Baltic) as clean as cp1252; both decode
    "très" without error, but only one is right. So among the candidates about as clean and as
    coherent (right letters for the detected language) as the best, the commonest wins.
    """
    from charset_normalizer import from_bytes  # only files that are not UTF-8 pay for it

    matches = list(from_bytes(_BIDI_MARKS_AT_EDGES.sub(rb"\1", raw)))
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    near = [m for m in matches if m.chaos <= least_chaos + _NEAR]
    most_coherent = max(m.coherence for m in near)
    near = [m for m in near if m.coherence >= most_coherent - _NEAR]

    def names(match: Any) -> list[str]:  # a charset_normalizer CharsetMatch
        return [codecs.lookup(n).name for n in match.could_be_from_charset]

    def rank(name: str) -> int:
        return _COMMON.index(name) if name in _COMMON else len(_COMMON)

    best = min(near, key=lambda m: min(rank(n) for n in names(m)))
    return min(names(best), key=rank)


def bom_encoding(raw: bytes) -> str | None:
    """The encoding a byte-order mark names (UTF-32's marks begin like UTF-16's)."""
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return None
