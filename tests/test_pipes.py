"""pipes.py: what piped bytes are, what they are called, which job they belong to."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcript_cli.errors import UsageError
from transcript_cli.pipes import sniff_suffix, stdin_file_name, wants_stdin


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        (b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n", ".vtt"),
        (b"\xef\xbb\xbfWEBVTT\n", ".vtt"),
        (b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", ".srt"),
        (b'{"segments": [{"start": 0, "end": 1, "text": "hi"}]}', ".json"),
        (b"{not json at all, just a brace", ".txt"),
        (b"so um welcome everyone", ".txt"),
        (b"\xff\xfe garbage", ".txt"),
        # Decoded as the file will be: a byte-order mark's UTF-16 or UTF-32, a legacy encoding.
        ("1\r\n00:00:01,000 --> 00:00:02,000\r\nhi\r\n".encode("utf-16"), ".srt"),
        ("\ufeffWEBVTT\n\n00:00.000 --> 00:01.000\nhi\n".encode("utf-16-be"), ".vtt"),
        ("\ufeffWEBVTT\n".encode("utf-32-le"), ".vtt"),
        ('{"segments": [{"text": "ça"}]}'.encode("utf-16"), ".json"),
        ('{"segments": [{"text": "ça va"}]}'.encode("cp1252"), ".json"),
    ],
)
def test_sniff_suffix(data: bytes, suffix: str) -> None:
    assert sniff_suffix(data) == suffix


def test_sniff_suffix_decodes_with_the_encoding_given() -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\nhi\n".encode("utf-16-le")  # no byte-order mark
    assert sniff_suffix(srt) == ".txt"
    assert sniff_suffix(srt, "utf-16-le") == ".srt"
    assert stdin_file_name(srt, None, "utf-16-le") == "stdin.srt"
    assert stdin_file_name(srt, "talk", "utf-16-le") == "talk.srt"


def test_stdin_file_name() -> None:
    assert stdin_file_name(b"WEBVTT\n", None) == "stdin.vtt"
    assert stdin_file_name(b"WEBVTT\n", "talk") == "talk.vtt"
    assert stdin_file_name(b"text", "talk.srt") == "talk.srt"  # a given type is trusted
    assert stdin_file_name(b"text", "v1.2") == "v1.2.txt"
    for bad in ("", "..", "a/b", "a\\b"):
        with pytest.raises(UsageError):
            stdin_file_name(b"text", bad)


def test_wants_stdin() -> None:
    assert wants_stdin([Path("-")])
    assert not wants_stdin([Path("a.txt"), Path("./-x")])
    with pytest.raises(UsageError):
        wants_stdin([Path("-"), Path("a.txt")])
