"""Defaults from `transcript-cli.toml` files and `TRANSCRIPT_CLI_*` variables, with their origin.

Layers, later ones winning: built-in < user file < local file < environment. Command-line flags
beat all of them; the CLI applies that last step. This module knows keys only as names (the flag
spelling, `chunk-chars`), not what they mean: the CLI checks each value against its option.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from transcript_cli.errors import ConfigError

APP_NAME = "transcript-cli"
CONFIG_NAME = "transcript-cli.toml"
ENV_PREFIX = "TRANSCRIPT_CLI_"
# A TOML value: what tomllib can return for a top-level key.
Value = str | int | float | bool | list[object] | dict[str, object]


def user_config_dir() -> Path:
    """The per-user configuration folder (e.g. ~/.config/transcript-cli on Linux)."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def user_prompts_dir() -> Path:
    """Where a user keeps prompt templates of their own: `prompts/` beside the user config."""
    return user_config_dir() / "prompts"


def env_name(key: str) -> str:
    """`chunk-chars` -> `TRANSCRIPT_CLI_CHUNK_CHARS`."""
    return ENV_PREFIX + key.upper().replace("-", "_")


@dataclass(frozen=True)
class Setting:
    """One effective default and where it came from."""

    key: str
    value: Value
    source: str  # "env TRANSCRIPT_CLI_MODEL" or the path of the file that set it

    @property
    def from_env(self) -> bool:
        return self.source.startswith("env ")


@dataclass(frozen=True)
class Layers:
    """The config files looked at (found or not) and the defaults they and the environment set."""

    files: tuple[Path, ...]  # user file, then local file (once if they are the same)
    settings: Mapping[str, Setting]


def _canonical(key: str) -> str:
    return key.replace("_", "-").lower()


def read_file(path: Path, keys: Iterable[str]) -> dict[str, Value]:
    """A config file's values by canonical key; any problem is one ConfigError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(path, f"cannot read ({exc.strerror})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML ({exc})") from None
    known = sorted(keys)
    values: dict[str, Value] = {}
    for key, value in data.items():
        name = _canonical(key)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(path, f"unknown key '{key}' ({hint})")
        if isinstance(value, dict | list):
            raise ConfigError(path, f"key '{key}' must be a single value, not a table or list")
        if name in values:
            raise ConfigError(path, f"key '{name}' is set twice")
        values[name] = value
    return values


def load_layers(
    keys: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user_dir: Path | None = None,
) -> Layers:
    """Merge user file, local file and environment for `keys`; built-ins are the caller's."""
    keys = list(keys)
    env = os.environ if env is None else env
    user_file = (user_dir or user_config_dir()) / CONFIG_NAME
    local_file = (cwd or Path.cwd()).resolve() / CONFIG_NAME
    settings: dict[str, Setting] = {}
    files = (user_file,) if user_file.resolve() == local_file else (user_file, local_file)
    for path in files:
        for key, value in read_file(path, keys).items():
            settings[key] = Setting(key, value, str(path))
    for key in keys:
        name = env_name(key)
        if env.get(name):  # set but empty means unset, as most tools treat it
            settings[key] = Setting(key, env[name], f"env {name}")
    return Layers(files=files, settings=settings)
