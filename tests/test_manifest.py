"""The job manifest: JSON round trip, private atomic save, and a clear error for damage."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.test_checkpoint import sample_state
from transcript_cli import manifest
from transcript_cli.errors import CheckpointError
from transcript_cli.manifest import MANIFEST_NAME, InputSpec, Manifest


def test_round_trip_keeps_what_the_job_is_and_drops_its_progress(tmp_path: Path) -> None:
    state = sample_state()
    made = Manifest.of(state)
    manifest.save(made, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST_NAME]  # no temp file left
    assert stat.S_IMODE((tmp_path / MANIFEST_NAME).stat().st_mode) == 0o600
    loaded = manifest.load(tmp_path)
    assert loaded is not None and loaded == made
    assert loaded.inputs[0] == InputSpec("/data/a.vtt", "a" * 64, 10, "/out/a.md")
    fresh = loaded.fresh_state()
    assert (fresh.job_id, fresh.settings, fresh.options) == (
        state.job_id,
        state.settings,
        state.options,
    )
    assert fresh.created_at == state.created_at
    assert fresh.chunks_total == state.chunks_total and fresh.chunks_done == 0
    assert fresh.status == "running" and not any(i.written for i in fresh.inputs)
    data = json.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert (data["schema"], data["schema_version"]) == ("transcript-cli/manifest", 1)
    assert "done" not in json.dumps(data["inputs"]) and "totals" not in data


def test_absent_manifest_is_none(tmp_path: Path) -> None:
    assert manifest.load(tmp_path) is None


def _error(tmp_path: Path, raw: bytes) -> str:
    (tmp_path / MANIFEST_NAME).write_bytes(raw)
    with pytest.raises(CheckpointError) as caught:
        manifest.load(tmp_path)
    assert str(tmp_path / MANIFEST_NAME) in caught.value.message
    return caught.value.message


def test_damage_is_a_clear_error(tmp_path: Path) -> None:
    manifest.save(Manifest.of(sample_state()), tmp_path)
    good = json.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert "not valid JSON" in _error(tmp_path, b'{"schema": ')
    assert "not a transcript-cli job manifest" in _error(tmp_path, b"{}")
    tampered = {**good, "settings": {**good["settings"], "model": "other"}}
    assert "settings do not match their hash" in _error(tmp_path, json.dumps(tampered).encode())
    newer = {**good, "schema_version": 2}
    assert "upgrade transcript-cli" in _error(tmp_path, json.dumps(newer).encode())
    missing = {k: v for k, v in good.items() if k != "inputs"}
    assert "field 'inputs' is missing" in _error(tmp_path, json.dumps(missing).encode())
