"""Prompt templates: built-ins load, placeholders are checked up front, rendering fills them."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcript_cli.errors import PromptError, UsageError
from transcript_cli.prompts import (
    CLOSES_NOTE,
    DEFAULT_PROMPT,
    OPENS_NOTE,
    PLACEHOLDERS,
    PromptTemplate,
    builtin_names,
    load_prompt,
    parse_template,
    render_user_message,
)
from transcript_cli.sentences import Boundary


def render(template: PromptTemplate) -> str:
    return template.render(
        language="Welsh", title="Tides", file_name="tides.vtt", chunk_number=2, chunk_count=7
    )


@pytest.mark.parametrize("name", ["clean", "summary-notes"])
def test_builtin_templates_load_and_render_fully(name: str) -> None:
    template = load_prompt(name)
    assert template.name == name
    text = render(template)
    assert "{{" not in text and "}}" not in text
    assert "Write in Welsh." in text
    assert 'This is part 2 of 7 of "Tides".' in text


def test_builtin_names_and_default() -> None:
    assert {"clean", "summary-notes"} <= set(builtin_names())
    assert DEFAULT_PROMPT in builtin_names()


def test_template_file_is_loaded_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.md"
    path.write_text("Tidy {{ file_name }} ({{chunk_number}}/{{chunk_count}}).\n", encoding="utf-8")
    template = load_prompt(str(path))
    assert template.name == "mine"
    assert render(template) == "Tidy tides.vtt (2/7)."


def test_path_without_md_suffix_or_slash_is_found_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "house-style.txt").write_text("In {{language}}.", encoding="utf-8")
    assert render(load_prompt("house-style.txt")) == "In Welsh."


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Clean for {{audience}}.", "{{audience}}"),
        ("Write in {{ Language }}.", "{{Language}}"),  # names are case-sensitive
        ("Part {{chunk-number}}.", "{{chunk-number}}"),  # a typo that is not even a name
        ("{{language}} and {{zeta}} and {{alpha}}", "{{alpha}}"),  # first of several, sorted
    ],
)
def test_unknown_placeholder_names_file_and_placeholder(
    tmp_path: Path, text: str, bad: str
) -> None:
    path = tmp_path / "mine.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromptError) as caught:
        load_prompt(str(path))
    message = caught.value.message
    assert message.startswith(f"{path}: unknown placeholder {bad} (allowed: ")
    assert all("{{" + p + "}}" in message for p in PLACEHOLDERS)
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, UsageError)


def test_single_braces_are_left_alone() -> None:
    template = parse_template("t", 'Reply as JSON like {"text": "..."} in {{language}}.', "t")
    assert render(template) == 'Reply as JSON like {"text": "..."} in Welsh.'


def test_values_are_not_rendered_twice() -> None:
    template = parse_template("t", "{{title}} / {{language}}", "t")
    got = template.render(
        language="x", title="{{language}}", file_name="f", chunk_number=1, chunk_count=1
    )
    assert got == "{{language}} / x"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("missing/prompt.md", "missing/prompt.md: prompt file not found"),
        ("nowhere.md", "nowhere.md: prompt file not found"),
        ("polish", "unknown prompt 'polish' (known: clean, summary-notes;"),
    ],
)
def test_missing_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, problem: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(PromptError) as caught:
        load_prompt(spec)
    assert caught.value.message.startswith(problem)


def test_empty_and_undecodable_prompt_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(PromptError, match=r"empty\.md: prompt template is empty"):
        load_prompt(str(empty))
    latin = tmp_path / "latin.md"
    latin.write_bytes("En français, {{language}}.".encode("latin-1"))
    with pytest.raises(PromptError, match=r"latin\.md: cannot read prompt file"):
        load_prompt(str(latin))


def test_user_message_wraps_context_and_transcript() -> None:
    assert render_user_message("new part", "") == "<transcript>\nnew part\n</transcript>"
    assert render_user_message("new part", "old tail") == (
        "<context>\nold tail\n</context>\n\n<transcript>\nnew part\n</transcript>"
    )


def test_builtin_clean_is_verbatim_and_summary_notes_is_not() -> None:
    assert load_prompt("clean").verbatim is True
    notes = load_prompt("summary-notes")
    assert notes.verbatim is False
    assert notes.front_matter.description
    assert "---" not in render(notes) and "verbatim" not in render(notes)


def test_front_matter_declares_verbatim_and_is_never_sent(tmp_path: Path) -> None:
    path = tmp_path / "tidy.md"
    path.write_text(
        "---\nverbatim: true  # check every reply\ndescription: Tidy it\n---\nTidy {{title}}.\n",
        encoding="utf-8",
    )
    template = load_prompt(str(path))
    assert template.verbatim is True
    assert template.front_matter.description == "Tidy it"
    assert render(template) == "Tidy Tides."
    # Stored with the job as written, so resume parses the same declaration.
    assert PromptTemplate(template.name, template.text).verbatim is True


def test_templates_without_front_matter_are_not_verbatim_except_an_old_clean() -> None:
    assert parse_template("mine", "Summarise {{title}}.", "mine").verbatim is False
    # A job started before front matter existed stored `clean` without it.
    assert PromptTemplate("clean", "Clean {{title}}.").verbatim is True


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        ("verbatim: [yes\n", "front matter is not valid YAML"),
        ("- verbatim\n", "front matter must be `key: value` lines"),
        ("verbatium: true\n", "unknown front matter key 'verbatium'"),
        ("verbatim: maybe\n", "'verbatim' must be true or false"),
        ("description: 3\n", "'description' must be text"),
    ],
)
def test_bad_front_matter_is_one_clear_error(tmp_path: Path, front: str, problem: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(f"---\n{front}---\nClean it.\n", encoding="utf-8")
    with pytest.raises(PromptError, match=problem) as caught:
        load_prompt(str(path))
    assert str(path) in caught.value.message


def test_user_message_notes_a_parts_edges_only_when_mid_sentence() -> None:
    plain = render_user_message("part", "before")
    assert plain == "<context>\nbefore\n</context>\n\n<transcript>\npart\n</transcript>"
    at_ends = render_user_message("part", "", Boundary.SENTENCE_END, Boundary.TEXT_EDGE)
    assert "<note>" not in at_ends
    both = render_user_message("part", "before", Boundary.MID_SENTENCE, Boundary.MID_SENTENCE)
    assert both.endswith(
        "</transcript>\n\n<note>\n"
        + OPENS_NOTE[Boundary.MID_SENTENCE]
        + "\n"
        + CLOSES_NOTE[Boundary.MID_SENTENCE]
        + "\n</note>"
    )
    assert "do not capitalise" in both and "do not complete the sentence" in both
    bare = render_user_message("part", "before", Boundary.TEXT_EDGE, Boundary.UNPUNCTUATED)
    assert "may end in the middle of a sentence" in bare and "begin" not in bare
    ahead = render_user_message("part", "", Boundary.TEXT_EDGE, Boundary.UNPUNCTUATED, "next up")
    assert "</transcript>\n\n<next>\nnext up\n</next>\n\n<note>\n" in ahead
