"""Finding templates by name: built-in ones, and the user's own first."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcript_cli.errors import PromptError
from transcript_cli.prompt_catalog import CatalogEntry, builtin_names, entries, find
from transcript_cli.prompts import load_prompt


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtins_alone(tmp_path: Path) -> None:
    listed = entries(tmp_path / "no-such-folder")
    assert [e.name for e in listed] == builtin_names()
    assert {"clean", "summary-notes"} <= set(builtin_names())
    assert all(e.origin == "built-in" and e.path.is_file() for e in listed)


def test_user_templates_join_and_override_builtins(tmp_path: Path) -> None:
    mine = tmp_path / "prompts"
    house = write(mine, "house-style.md", "Clean it our way.")
    clean = write(mine, "clean.md", "My own clean.")
    write(mine, "notes.txt", "not a template: wrong suffix")
    (mine / "folder.md").mkdir()
    listed = {e.name: e for e in entries(mine)}
    assert listed["house-style"] == CatalogEntry("house-style", house, "user")
    assert listed["clean"] == CatalogEntry("clean", clean, "user", overrides_builtin=True)
    assert listed["summary-notes"].origin == "built-in"
    assert "notes" not in listed and "folder" not in listed
    assert [e.name for e in entries(mine)] == sorted(listed)
    assert find("clean", mine) == listed["clean"]
    assert find("nothing", mine) is None
    # --prompt NAME finds them the same way.
    assert load_prompt("house-style", mine).body == "Clean it our way."
    assert load_prompt("clean", mine).text == "My own clean."
    assert load_prompt("clean", tmp_path / "elsewhere").name == "clean"


def test_unknown_name_lists_every_known_one(tmp_path: Path) -> None:
    mine = tmp_path / "prompts"
    write(mine, "house-style.md", "Mine.")
    with pytest.raises(PromptError) as caught:
        load_prompt("house", mine)
    assert caught.value.message.startswith(
        "unknown prompt 'house' (known: clean, house-style, summary-notes; "
        "see `transcript-cli prompts`"
    )


def test_a_broken_user_template_is_an_error_naming_its_file(tmp_path: Path) -> None:
    mine = tmp_path / "prompts"
    bad = write(mine, "typo.md", "Part {{chunk-number}}.")
    with pytest.raises(PromptError) as caught:
        load_prompt("typo", mine)
    assert caught.value.message.startswith(f"{bad}: unknown placeholder {{{{chunk-number}}}}")
    (mine / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(PromptError, match=r"latin\.md: cannot read prompt file"):
        load_prompt("latin", mine)
