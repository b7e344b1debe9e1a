"""The checkpoint: JSON round trip, atomic save, and a clear error for every kind of damage."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from transcript_cli import checkpoint
from transcript_cli.checkpoint import CHECKPOINT_NAME, SCHEMA_VERSION
from transcript_cli.chunkset import ChunkSet
from transcript_cli.errors import CheckpointError, StorageError
from transcript_cli.state import ErrorRecord, InputState, JobState, Options, Settings

SETTINGS = Settings(
    provider="anthropic",
    model="claude-sonnet-5-5",
    prompt_name="clean",
    prompt_text="Clean this {{language}} transcript.",
    language="English",
    title="Keynote",
    chunk_chars=6000,
    context_chars=300,
    max_tokens=8192,
)


def sample_state() -> JobState:
    """A state with every field away from its default, so a dropped field shows."""
    return JobState(
        job_id="talk-1a2b3c4d",
        settings=SETTINGS,
        options=Options(concurrency=3, max_retries=4, timeout=120.5),
        inputs=[
            InputState(
                path="/data/a.vtt",
                sha256="a" * 64,
                chunk_count=10,
                output="/out/a.md",
                done=ChunkSet.from_ranges([[0, 4], [6, 7]]),
            ),
            InputState(
                path="/data/b.srt",
                sha256="b" * 64,
                chunk_count=2,
                output="/out/b.md",
                done=ChunkSet.from_ranges([[0, 2]]),
                written=True,
            ),
        ],
        status="failed",
        created_at="2026-11-01T10:00:00Z",
        updated_at="2026-11-01T10:05:00Z",
        completed_at=None,
        resume_count=2,
        retry_count=5,
        input_tokens=12345,
        output_tokens=6789,
        cost_usd=0.0925,
        cost_unknown_chunks=1,
        active_seconds=42.25,
        last_error=ErrorRecord(
            message="a.vtt chunk 8/10: bad key",
            kind="permanent",
            at="2026-11-01T10:05:00Z",
            file="a.vtt",
            chunk=8,
        ),
        tool_version="0.0.9",
    )


def assert_same(a: JobState, b: JobState) -> None:
    """Field by field: ChunkSet has no __eq__, so compare the done sets as ranges."""
    assert checkpoint.to_dict(a) == checkpoint.to_dict(b)
    for x, y in zip(a.inputs, b.inputs, strict=True):
        assert x.done.to_ranges() == y.done.to_ranges()
        assert (x.path, x.sha256, x.chunk_count, x.output, x.written) == (
            y.path,
            y.sha256,
            y.chunk_count,
            y.output,
            y.written,
        )
    assert (a.job_id, a.settings, a.options, a.last_error) == (
        b.job_id,
        b.settings,
        b.options,
        b.last_error,
    )
    assert (a.status, a.created_at, a.updated_at, a.completed_at) == (
        b.status,
        b.created_at,
        b.updated_at,
        b.completed_at,
    )
    assert (a.resume_count, a.retry_count, a.input_tokens, a.output_tokens) == (
        b.resume_count,
        b.retry_count,
        b.input_tokens,
        b.output_tokens,
    )
    assert (a.cost_usd, a.cost_unknown_chunks, a.active_seconds, a.tool_version) == (
        b.cost_usd,
        b.cost_unknown_chunks,
        b.active_seconds,
        b.tool_version,
    )


# --- round trips ---


def test_to_dict_shape() -> None:
    data = checkpoint.to_dict(sample_state())
    assert data["schema"] == "transcript-cli/checkpoint"
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["settings_hash"] == SETTINGS.digest()
    assert data["inputs"][0]["done"] == [[0, 4], [6, 7]]
    assert data["totals"]["cost_unknown_chunks"] == 1
    assert data["last_error"] == {
        "message": "a.vtt chunk 8/10: bad key",
        "kind": "permanent",
        "at": "2026-11-01T10:05:00Z",
        "file": "a.vtt",
        "chunk": 8,
    }
    # The chunk texts live elsewhere: nothing in the checkpoint grows with the transcript.
    assert "text" not in json.dumps(data["inputs"])


def test_dict_round_trip_through_json(tmp_path: Path) -> None:
    state = sample_state()
    data = json.loads(json.dumps(checkpoint.to_dict(state)))
    assert_same(checkpoint.from_dict(data, tmp_path / CHECKPOINT_NAME), state)


def test_round_trip_without_optional_fields(tmp_path: Path) -> None:
    state = sample_state()
    state.last_error = None
    state.completed_at = "2026-11-01T11:00:00Z"
    state.status = "completed"
    state.settings = Settings(**{**checkpoint.to_dict(state)["settings"], "title": None})
    back = checkpoint.from_dict(json.loads(json.dumps(checkpoint.to_dict(state))), tmp_path)
    assert back.last_error is None
    assert back.settings.title is None
    assert back.completed_at == "2026-11-01T11:00:00Z"
    assert_same(back, state)


def test_save_then_load(tmp_path: Path) -> None:
    state = sample_state()
    checkpoint.save(state, tmp_path)
    loaded = checkpoint.load(tmp_path)
    assert_same(loaded, state)
    # save stamps the time it wrote, in the documented ISO 8601 UTC form.
    assert state.updated_at != "2026-11-01T10:05:00Z"
    assert state.updated_at.endswith("Z") and "T" in state.updated_at


def test_loaded_done_sets_keep_working(tmp_path: Path) -> None:
    checkpoint.save(sample_state(), tmp_path)
    loaded = checkpoint.load(tmp_path)
    first = loaded.inputs[0]
    assert first.done.first_missing(first.chunk_count) == 4
    first.done.add(4)
    first.done.add(5)
    assert first.done.to_ranges() == [[0, 7]]
    assert loaded.chunks_done == 9 and loaded.chunks_total == 12 and loaded.files_done == 1


# --- atomic, private save ---


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    state = sample_state()
    checkpoint.save(state, tmp_path)
    state.retry_count = 6
    checkpoint.save(state, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temp file left
    assert stat.S_IMODE((tmp_path / CHECKPOINT_NAME).stat().st_mode) == 0o600
    assert checkpoint.load(tmp_path).retry_count == 6


def test_save_replaces_a_world_readable_file_with_a_private_one(tmp_path: Path) -> None:
    target = tmp_path / CHECKPOINT_NAME
    target.write_text("{}")
    target.chmod(0o644)
    checkpoint.save(sample_state(), tmp_path)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failed_save_leaves_previous_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = sample_state()
    checkpoint.save(state, tmp_path)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()

    def no_space(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    state.retry_count = 99
    with pytest.raises(StorageError) as caught:
        checkpoint.save(state, tmp_path)
    assert "disk full" in caught.value.message
    assert str(tmp_path / CHECKPOINT_NAME) in caught.value.message
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]


# --- damage on disk ---


def saved(tmp_path: Path) -> bytes:
    checkpoint.save(sample_state(), tmp_path)
    return (tmp_path / CHECKPOINT_NAME).read_bytes()


def load_error(tmp_path: Path, raw: bytes) -> str:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(raw)
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(tmp_path)
    message = caught.value.message
    assert str(path) in message, message
    assert caught.value.path == path
    assert "\n" not in message
    return message


def test_truncated(tmp_path: Path) -> None:
    raw = saved(tmp_path)
    for cut in (1, len(raw) // 3, len(raw) // 2, len(raw) - 1):
        assert "not valid JSON" in load_error(tmp_path, raw[:cut])


@pytest.mark.parametrize("raw", [b"", b"   \n", b"\n\n"])
def test_empty(tmp_path: Path, raw: bytes) -> None:
    assert "checkpoint is empty" in load_error(tmp_path, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"hello",
        b"\x00\x17garbage\xff\xfe",
        bytes(range(256)),
        b'{"schema": "transcript-cli/checkpoint",',
        b"[" * 100_000,  # deep enough to overflow the parser's recursion
    ],
)
def test_not_json(tmp_path: Path, raw: bytes) -> None:
    assert "not valid JSON" in load_error(tmp_path, raw)


@pytest.mark.parametrize("raw", [b"[]", b"null", b"42", b'"checkpoint"', b"true"])
def test_not_an_object(tmp_path: Path, raw: bytes) -> None:
    assert "must be an object" in load_error(tmp_path, raw)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(tmp_path)
    assert str(tmp_path / CHECKPOINT_NAME) in caught.value.message
    assert "missing" in caught.value.message


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT_NAME).mkdir()  # a folder where the file should be
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(tmp_path)
    assert str(tmp_path / CHECKPOINT_NAME) in caught.value.message


# --- damage in the JSON shape ---


def edited(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> str:
    """Save a good checkpoint, apply `edit` to its JSON, and return load's error message."""
    data = json.loads(saved(tmp_path))
    edit(data)
    return load_error(tmp_path, json.dumps(data).encode())


@pytest.mark.parametrize("schema", ["other-tool/checkpoint", None, 1])
def test_wrong_schema(tmp_path: Path, schema: object) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schema"] = schema

    assert "not a transcript-cli checkpoint" in edited(tmp_path, edit)


def test_schema_missing(tmp_path: Path) -> None:
    assert "not a transcript-cli checkpoint" in edited(tmp_path, lambda d: d.pop("schema"))


def test_newer_schema_version_says_upgrade(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schema_version"] = SCHEMA_VERSION + 98
        d["tool_version"] = "9.0.0"

    message = edited(tmp_path, edit)
    assert "newer transcript-cli" in message and "9.0.0" in message
    assert "upgrade" in message


def test_older_unknown_schema_version(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["schema_version"] = 0

    assert "unknown checkpoint schema 0" in edited(tmp_path, edit)


# Every required field, as a path into the JSON. Optional ones (title, completed_at,
# last_error, last_error.file/chunk) may be absent or null.
REQUIRED = [
    ("schema_version",),
    ("tool_version",),
    ("job_id",),
    ("settings",),
    ("settings_hash",),
    ("options",),
    ("inputs",),
    ("status",),
    ("created_at",),
    ("updated_at",),
    ("resume_count",),
    ("retry_count",),
    ("totals",),
    *[
        ("settings", key)
        for key in (
            "provider",
            "model",
            "prompt_name",
            "prompt_text",
            "language",
            "chunk_chars",
            "context_chars",
            "max_tokens",
        )
    ],
    ("options", "concurrency"),
    ("options", "max_retries"),
    ("options", "timeout"),
    *[("inputs", 0, key) for key in ("path", "sha256", "chunk_count", "output", "done", "written")],
    *[
        ("totals", key)
        for key in (
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "cost_unknown_chunks",
            "active_seconds",
        )
    ],
    ("last_error", "message"),
    ("last_error", "kind"),
    ("last_error", "at"),
]


def _parent(data: dict[str, Any], where: tuple[str | int, ...]) -> Any:
    node: Any = data
    for key in where[:-1]:
        node = node[key]
    return node


@pytest.mark.parametrize("where", REQUIRED, ids=lambda w: ".".join(map(str, w)))
def test_missing_field(tmp_path: Path, where: tuple[str | int, ...]) -> None:
    message = edited(tmp_path, lambda d: _parent(d, where).pop(where[-1]))
    # A missing object reads "must be an object", a missing value "is missing": both name it.
    assert f"field '{where[-1]}' is missing" in message or (
        f"field '{where[-1]}' must be an object" in message
    )


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("schema_version",), "1"),
        (("schema_version",), True),
        (("job_id",), 7),
        (("settings",), ["anthropic"]),
        (("settings_hash",), None),
        (("options",), None),
        (("options", "concurrency"), "3"),
        (("options", "timeout"), "120"),
        (("inputs",), {"path": "/data/a.vtt"}),
        (("inputs", 0), "a.vtt"),
        (("inputs", 0, "chunk_count"), 10.0),
        (("inputs", 0, "chunk_count"), True),
        (("inputs", 0, "written"), "yes"),
        (("inputs", 0, "written"), 1),
        (("inputs", 0, "done"), {"0": 4}),
        (("status",), 3),
        (("resume_count",), "2"),
        (("retry_count",), False),
        (("totals",), [1, 2]),
        (("totals", "cost_usd"), "0.09"),
        (("totals", "input_tokens"), 1.5),
        (("last_error",), "boom"),
        (("last_error", "chunk"), "8"),
        (("last_error", "chunk"), True),
        (("completed_at",), 0),
    ],
    ids=lambda x: ".".join(map(str, x)) if isinstance(x, tuple) else repr(x),
)
def test_wrong_type(tmp_path: Path, where: tuple[str | int, ...], value: object) -> None:
    def edit(d: dict[str, Any]) -> None:
        _parent(d, where)[where[-1]] = value

    message = edited(tmp_path, edit)
    assert any(
        phrase in message
        for phrase in ("has the wrong type", "must be an object", "not a valid range list")
    ), message


def test_unknown_status(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["status"] = "exploded"

    assert "unknown status 'exploded'" in edited(tmp_path, edit)


@pytest.mark.parametrize(
    "done",
    [
        [[0, 3], [2, 5]],  # overlapping
        [[6, 7], [0, 4]],  # out of order
        [[0, 4], [4, 6]],  # touching: a saved set always merges these
        [[2, 2]],  # empty range
        [[3, 1]],  # backwards
        [[-1, 2]],  # negative
        [[0, 11]],  # beyond the file's 10 chunks
        [[0]],  # not a pair
        [[0, 1, 2]],
        [[0.0, 1.0]],  # not integers
        [[False, True]],
        [["0", "1"]],
        [3],
        [None],
    ],
    ids=repr,
)
def test_bad_done_ranges(tmp_path: Path, done: list[Any]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["inputs"][0]["done"] = done

    message = edited(tmp_path, edit)
    assert "field 'done' of '/data/a.vtt' is not a valid range list" in message


def test_done_covering_every_chunk_is_valid(tmp_path: Path) -> None:
    data = json.loads(saved(tmp_path))
    data["inputs"][0]["done"] = [[0, 10]]
    (tmp_path / CHECKPOINT_NAME).write_text(json.dumps(data))
    assert len(checkpoint.load(tmp_path).inputs[0].done) == 10


@pytest.mark.parametrize(
    ("key", "value"),
    [("model", "claude-opus-5"), ("prompt_text", "Summarise instead."), ("title", None)],
)
def test_settings_hash_mismatch(tmp_path: Path, key: str, value: object) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["settings"][key] = value

    assert "settings do not match their hash" in edited(tmp_path, edit)


def test_settings_hash_itself_edited(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["settings_hash"] = "0" * 64

    assert "settings do not match their hash" in edited(tmp_path, edit)


def test_from_dict_names_the_given_path(tmp_path: Path) -> None:
    path = tmp_path / "somewhere" / CHECKPOINT_NAME
    with pytest.raises(CheckpointError) as caught:
        checkpoint.from_dict({"schema": "nope"}, path)
    assert caught.value.message.startswith(f"{path}: ")


def test_settings_added_later_keep_old_jobs_hashes_and_load_from_old_checkpoints(
    tmp_path: Path,
) -> None:
    # The hash a job made before the output settings existed stored: its nine fields only.
    nine = {k: v for k, v in dataclasses.asdict(SETTINGS).items() if k in _ORIGINAL_SETTINGS}
    old_hash = hashlib.sha256(
        json.dumps(nine, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert SETTINGS.digest() == old_hash
    data = checkpoint.to_dict(sample_state())
    data["settings"] = nine
    data["settings_hash"] = old_hash
    loaded = checkpoint.from_dict(json.loads(json.dumps(data)), tmp_path / CHECKPOINT_NAME)
    assert (loaded.settings.output_format, loaded.settings.timestamps) == ("md", False)
    # Set, they are part of the hash: another format is another job.
    as_json = dataclasses.replace(SETTINGS, output_format="json", front_matter=False)
    assert as_json.digest() != old_hash
    data["settings"] = {**nine, "output_format": "xml"}
    with pytest.raises(CheckpointError, match="unknown output format 'xml'"):
        checkpoint.from_dict(data, tmp_path / CHECKPOINT_NAME)


_ORIGINAL_SETTINGS = frozenset(
    {
        "provider",
        "model",
        "prompt_name",
        "prompt_text",
        "language",
        "title",
        "chunk_chars",
        "context_chars",
        "max_tokens",
    }
)


def test_checkpoint_from_before_encodings_and_caption_styles_still_loads(tmp_path: Path) -> None:
    """Those fields were added later: a checkpoint without them loads, and its settings hash
    (computed without `encoding`) still verifies."""
    import hashlib
    from dataclasses import asdict

    data: dict[str, Any] = json.loads(json.dumps(checkpoint.to_dict(sample_state())))
    # The settings as the first schema wrote them: no field added since.
    first = ("provider", "model", "prompt_name", "prompt_text", "language", "title")
    first += ("chunk_chars", "context_chars", "max_tokens")
    data["settings"] = {k: data["settings"][k] for k in first}
    old_canonical = json.dumps(data["settings"], sort_keys=True, separators=(",", ":"))
    data["settings_hash"] = hashlib.sha256(old_canonical.encode()).hexdigest()
    for item in data["inputs"]:
        item.pop("encoding", None)
        item.pop("captions", None)
    state = checkpoint.from_dict(data, tmp_path / CHECKPOINT_NAME)
    assert state.settings == SETTINGS and state.settings.encoding is None
    assert all(i.encoding is None and i.captions is None for i in state.inputs)
    assert "encoding" not in asdict(state.inputs[0].spec) or state.inputs[0].spec.encoding is None


def test_encoding_and_caption_style_round_trip(tmp_path: Path) -> None:
    state = sample_state()
    state.settings = Settings(**{**vars(SETTINGS), "encoding": "cp1256"})
    state.inputs[0].encoding, state.inputs[0].captions = "cp1256", "roll-up"
    checkpoint.save(state, tmp_path)
    loaded = checkpoint.load(tmp_path)
    assert loaded.settings.encoding == "cp1256"
    assert (loaded.inputs[0].encoding, loaded.inputs[0].captions) == ("cp1256", "roll-up")
    assert loaded.settings.digest() != SETTINGS.digest()
