"""Where prompt templates are found by name: the ones shipped with the tool, and the user's own.

A user's template (`NAME.md` in the `prompts/` folder beside the user config) is found before a
built-in one of the same name, so `clean.md` there replaces the shipped `clean` for new jobs.
A job stores the text it started with, so this never changes what a resumed job sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from transcript_cli.config import user_prompts_dir

_PACKAGE_DIR = Path(__file__).resolve().parent
SUFFIX = ".md"

Origin = Literal["built-in", "user"]


def builtin_dirs() -> list[Path]:
    """Installed wheels carry the templates inside the package; a source checkout has them at
    the repo's top level (an editable install points here)."""
    return [_PACKAGE_DIR / "prompts", _PACKAGE_DIR.parent / "prompts"]


@dataclass(frozen=True)
class CatalogEntry:
    """A template that `--prompt NAME` would use."""

    name: str
    path: Path
    origin: Origin
    overrides_builtin: bool = False  # a user template with a built-in one's name


def _in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}")) if p.is_file()}


def _builtins() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in builtin_dirs():
        for name, path in _in(folder).items():
            found.setdefault(name, path)
    return found


def entries(user_dir: Path | None = None) -> list[CatalogEntry]:
    """Every template usable by name, sorted by name; a user's one hides a built-in namesake."""
    builtins = _builtins()
    users = _in(user_dir if user_dir is not None else user_prompts_dir())
    made = [CatalogEntry(n, p, "user", n in builtins) for n, p in users.items()]
    made += [CatalogEntry(n, p, "built-in") for n, p in builtins.items() if n not in users]
    return sorted(made, key=lambda e: e.name)


def find(name: str, user_dir: Path | None = None) -> CatalogEntry | None:
    """The template `name` stands for, the user's first; None if there is none."""
    return next((e for e in entries(user_dir) if e.name == name), None)


def builtin_names() -> list[str]:
    """Names of the templates that ship with the tool."""
    return sorted(_builtins())
