"""config.py: which layer wins, and one clear error per bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcript_cli.config import env_name, load_layers, read_file
from transcript_cli.errors import ConfigError

KEYS = ("model", "chunk-chars", "strict")


def test_layers_merge_user_then_local_then_env(tmp_path: Path) -> None:
    user, here = tmp_path / "user", tmp_path / "here"
    user.mkdir()
    here.mkdir()
    (user / "transcript-cli.toml").write_text('model = "u"\nchunk_chars = 1000\n', "utf-8")
    (here / "transcript-cli.toml").write_text('model = "l"\n', "utf-8")
    layers = load_layers(KEYS, env={"TRANSCRIPT_CLI_STRICT": "1"}, cwd=here, user_dir=user)
    assert layers.files == (user / "transcript-cli.toml", here / "transcript-cli.toml")
    got = {k: (s.value, s.source) for k, s in layers.settings.items()}
    assert got == {
        "model": ("l", str(here / "transcript-cli.toml")),
        "chunk-chars": (1000, str(user / "transcript-cli.toml")),
        "strict": ("1", "env TRANSCRIPT_CLI_STRICT"),
    }
    assert layers.settings["strict"].from_env


def test_empty_env_counts_as_unset_and_same_folder_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "transcript-cli.toml").write_text('model = "x"\n', "utf-8")
    layers = load_layers(KEYS, env={"TRANSCRIPT_CLI_MODEL": ""}, cwd=tmp_path, user_dir=tmp_path)
    assert layers.files == (tmp_path / "transcript-cli.toml",)
    assert layers.settings["model"].value == "x"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"model = ", "not valid TOML"),
        (b"\xff", "not UTF-8"),
        (b"modle = 'x'", "unknown key 'modle' (did you mean 'model'?)"),
        (b"zzz = 1", "unknown key 'zzz' (known keys: chunk-chars, model, strict)"),
        (b"model = {a = 1}", "must be a single value"),
        (b"model = 'a'\nMODEL = 'b'", "key 'model' is set twice"),
    ],
)
def test_bad_file_names_itself(tmp_path: Path, text: bytes, problem: str) -> None:
    path = tmp_path / "transcript-cli.toml"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as caught:
        read_file(path, KEYS)
    assert caught.value.message.startswith(f"{path}: ")
    assert problem in caught.value.message
    assert "\n" not in caught.value.message


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_file(tmp_path / "none.toml", KEYS) == {}


def test_env_name() -> None:
    assert env_name("chunk-chars") == "TRANSCRIPT_CLI_CHUNK_CHARS"
