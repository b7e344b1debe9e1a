"""Prompt templates: find them, check their placeholders up front, render one chunk's request.

A template may open with a YAML front-matter block that describes it and is never sent:

    ---
    verbatim: true        # a faithful cleaning: every reply gets the fidelity check
    description: Clean the transcript, keeping every word that matters
    ---
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from transcript_cli import prompt_catalog
from transcript_cli.errors import PromptError
from transcript_cli.sentences import Boundary

PLACEHOLDERS = frozenset({"language", "title", "chunk_number", "chunk_count", "file_name"})
DEFAULT_PROMPT = "clean"
DEFAULT_LANGUAGE = "the same language as the transcript"

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Anything in double braces, so "{{chunk-number}}" is caught as a typo instead of being sent.
_BRACED = re.compile(r"\{\{([^{}\n]*)\}\}")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
# Templates made before front matter existed: the built-in `clean` was verbatim all along.
_VERBATIM_BY_NAME = frozenset({"clean"})
FRONT_MATTER_KEYS = frozenset({"verbatim", "description"})


@dataclass(frozen=True)
class FrontMatter:
    """What a template says about itself."""

    verbatim: bool | None = None  # None: not declared
    description: str | None = None


def split_front_matter(text: str, origin: str) -> tuple[FrontMatter, str]:
    """The template's front matter (if any) and the prompt text after it."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return FrontMatter(), text
    try:
        data: Any = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        raise PromptError(f"{origin}: front matter is not valid YAML{line}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PromptError(f"{origin}: front matter must be `key: value` lines")
    unknown = sorted(str(k) for k in data if k not in FRONT_MATTER_KEYS)
    if unknown:
        known = ", ".join(sorted(FRONT_MATTER_KEYS))
        raise PromptError(f"{origin}: unknown front matter key '{unknown[0]}' (known: {known})")
    verbatim = data.get("verbatim")
    if verbatim is not None and not isinstance(verbatim, bool):
        raise PromptError(f"{origin}: front matter 'verbatim' must be true or false")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise PromptError(f"{origin}: front matter 'description' must be text")
    return FrontMatter(verbatim=verbatim, description=description), text[match.end() :]


def builtin_names() -> list[str]:
    """Names of the templates that ship with the tool."""
    return prompt_catalog.builtin_names()


@dataclass(frozen=True)
class PromptTemplate:
    """A system-prompt template; its text is stored with the job so resume renders the same."""

    name: str
    text: str  # as written, front matter included

    @cached_property
    def _parts(self) -> tuple[FrontMatter, str]:
        return split_front_matter(self.text, self.name)

    @property
    def front_matter(self) -> FrontMatter:
        return self._parts[0]

    @property
    def body(self) -> str:
        """The text sent to the model."""
        return self._parts[1]

    @property
    def verbatim(self) -> bool:
        """A faithful cleaning rather than a summary: replies get the fidelity check."""
        declared = self.front_matter.verbatim
        return self.name in _VERBATIM_BY_NAME if declared is None else declared

    def render(
        self,
        *,
        language: str,
        title: str,
        file_name: str,
        chunk_number: int,
        chunk_count: int,
    ) -> str:
        """The system prompt for one chunk."""
        values = {
            "language": language,
            "title": title,
            "file_name": file_name,
            "chunk_number": str(chunk_number),
            "chunk_count": str(chunk_count),
        }
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.body).strip()


def parse_template(name: str, text: str, origin: str) -> PromptTemplate:
    """Validate a template's front matter and placeholders so a typo fails before any request."""
    _, body = split_front_matter(text, origin)
    unknown = sorted({m.group(1).strip() for m in _BRACED.finditer(body)} - PLACEHOLDERS)
    if unknown:
        allowed = ", ".join("{{" + p + "}}" for p in sorted(PLACEHOLDERS))
        raise PromptError(
            f"{origin}: unknown placeholder {{{{{unknown[0]}}}}} (allowed: {allowed})"
        )
    if not body.strip():
        raise PromptError(f"{origin}: prompt template is empty")
    return PromptTemplate(name=name, text=text)


def load_prompt(spec: str, user_dir: Path | None = None) -> PromptTemplate:
    """Load a template by NAME (the user's own first, then built-in) or by PATH to a file."""
    path = Path(spec).expanduser()
    looks_like_path = path.suffix == ".md" or "/" in spec or path.is_file()
    if looks_like_path:
        if not path.is_file():
            raise PromptError(f"{spec}: prompt file not found")
        return parse_template(path.stem, read_template(path, spec), spec)
    entry = prompt_catalog.find(spec, user_dir)
    if entry is None:
        known = ", ".join(e.name for e in prompt_catalog.entries(user_dir)) or "none found"
        raise PromptError(
            f"unknown prompt '{spec}' (known: {known}; see `transcript-cli prompts`, "
            "or give a path to a .md file)"
        )
    return parse_template(spec, read_template(entry.path, str(entry.path)), str(entry.path))


def read_template(path: Path, origin: str) -> str:
    """A template file's text; a file that cannot be read is a PromptError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"{origin}: cannot read prompt file ({exc})") from exc


# What the model is told about a part's edges; nothing is said of an edge at a sentence end.
OPENS_NOTE = {
    Boundary.MID_SENTENCE: (
        "The part begins in the middle of a sentence that starts in the context: continue that "
        'sentence, so do not capitalise the part\'s first word (unless it is a name or "I").'
    ),
    Boundary.UNPUNCTUATED: (
        "The transcript has no punctuation, so the part may begin in the middle of a sentence: "
        "if its first words continue the last sentence of the context, do not capitalise them."
    ),
}
CLOSES_NOTE = {
    Boundary.MID_SENTENCE: (
        "The part ends in the middle of a sentence that the next part (its start is in <next>) "
        "finishes: end your reply with the part's last word, with no closing punctuation, and do "
        "not complete the sentence."
    ),
    Boundary.UNPUNCTUATED: (
        "The part may end in the middle of a sentence that the next part finishes: if its last "
        "words and the start of the next part in <next> make one sentence, end your reply with "
        "those last words, with no closing punctuation, and do not complete it."
    ),
}


def render_user_message(
    source: str,
    context: str,
    opens: Boundary = Boundary.TEXT_EDGE,
    closes: Boundary = Boundary.TEXT_EDGE,
    following: str = "",
) -> str:
    """The user turn: read-only context, the part to process, what follows it, its edges."""
    parts = []
    if context:
        parts.append(f"<context>\n{context}\n</context>")
    parts.append(f"<transcript>\n{source}\n</transcript>")
    if following:
        parts.append(f"<next>\n{following}\n</next>")
    notes = [n for n in (OPENS_NOTE.get(opens), CLOSES_NOTE.get(closes)) if n]
    if notes:
        parts.append("<note>\n" + "\n".join(notes) + "\n</note>")
    return "\n\n".join(parts)
