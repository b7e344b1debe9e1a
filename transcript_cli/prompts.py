"""Prompt templates: find them, check their placeholders up front, render one chunk's request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from transcript_cli.errors import PromptError

PLACEHOLDERS = frozenset({"language", "title", "chunk_number", "chunk_count", "file_name"})
DEFAULT_PROMPT = "clean"
DEFAULT_LANGUAGE = "the same language as the transcript"

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Anything in double braces, so "{{chunk-number}}" is caught as a typo instead of being sent.
_BRACED = re.compile(r"\{\{([^{}\n]*)\}\}")
_PACKAGE_DIR = Path(__file__).resolve().parent


def _template_dirs() -> list[Path]:
    # Installed wheels carry the templates inside the package; a source checkout has them at the
    # repo's top level (an editable install points here).
    return [_PACKAGE_DIR / "prompts", _PACKAGE_DIR.parent / "prompts"]


def builtin_names() -> list[str]:
    """Names of the templates that ship with the tool."""
    names: set[str] = set()
    for folder in _template_dirs():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.md"))
    return sorted(names)


@dataclass(frozen=True)
class PromptTemplate:
    """A system-prompt template; its text is stored with the job so resume renders the same."""

    name: str
    text: str

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
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text).strip()


def parse_template(name: str, text: str, origin: str) -> PromptTemplate:
    """Validate a template's placeholders so a typo fails before any paid request."""
    unknown = sorted({m.group(1).strip() for m in _BRACED.finditer(text)} - PLACEHOLDERS)
    if unknown:
        allowed = ", ".join("{{" + p + "}}" for p in sorted(PLACEHOLDERS))
        raise PromptError(
            f"{origin}: unknown placeholder {{{{{unknown[0]}}}}} (allowed: {allowed})"
        )
    if not text.strip():
        raise PromptError(f"{origin}: prompt template is empty")
    return PromptTemplate(name=name, text=text)


def load_prompt(spec: str) -> PromptTemplate:
    """Load a template by built-in NAME or by PATH to a file of one's own."""
    path = Path(spec).expanduser()
    looks_like_path = path.suffix == ".md" or "/" in spec or path.is_file()
    if looks_like_path:
        if not path.is_file():
            raise PromptError(f"{spec}: prompt file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PromptError(f"{spec}: cannot read prompt file ({exc})") from exc
        return parse_template(path.stem, text, spec)
    for folder in _template_dirs():
        candidate = folder / f"{spec}.md"
        if candidate.is_file():
            return parse_template(spec, candidate.read_text(encoding="utf-8"), str(candidate))
    known = ", ".join(builtin_names()) or "none found"
    raise PromptError(f"unknown prompt '{spec}' (built-in: {known}; or give a path to a .md file)")


def render_user_message(source: str, context: str) -> str:
    """The user turn: read-only context, then the part to process, in tags the prompt names."""
    parts = []
    if context:
        parts.append(f"<context>\n{context}\n</context>")
    parts.append(f"<transcript>\n{source}\n</transcript>")
    return "\n\n".join(parts)
