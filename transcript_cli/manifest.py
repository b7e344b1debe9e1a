"""The job manifest: what a job is (settings, options, inputs), written once when it starts.

The checkpoint is rewritten after every chunk; this file never is. So when a checkpoint is lost or
damaged, `repair` rebuilds it from the manifest and the self-checking chunk results beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from transcript_cli import __version__
from transcript_cli.atomicio import atomic_write
from transcript_cli.checkpoint import DocumentHeader, FieldValidator, InputSpecDict, input_spec_dict
from transcript_cli.errors import CheckpointError
from transcript_cli.state import InputSpec, InputState, JobState, Options, Settings

SCHEMA = "transcript-cli/manifest"
SCHEMA_VERSION = 1
MANIFEST_NAME = "job.json"

_DAMAGED_HINT = "the job manifest is damaged; `clear` the job and run it again"


@dataclass(frozen=True)
class Manifest:
    """Everything about a job that never changes after it starts. Never holds the API key."""

    job_id: str
    settings: Settings
    options: Options
    inputs: tuple[InputSpec, ...]
    created_at: str
    tool_version: str = __version__

    @classmethod
    def of(cls, state: JobState) -> Manifest:
        """The manifest of a job, taken from its state (progress is left out)."""
        return cls(
            job_id=state.job_id,
            settings=state.settings,
            options=state.options,
            inputs=tuple(i.spec for i in state.inputs),
            created_at=state.created_at,
        )

    def fresh_state(self) -> JobState:
        """A state with nothing done yet, as when the job was created."""
        return JobState(
            job_id=self.job_id,
            settings=self.settings,
            options=self.options,
            inputs=[InputState.planned(i) for i in self.inputs],
            created_at=self.created_at,
        )


class ManifestDict(DocumentHeader):
    """The on-disk JSON shape (schema_version 1)."""

    inputs: list[InputSpecDict]
    created_at: str


def to_dict(manifest: Manifest) -> ManifestDict:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool_version": manifest.tool_version,
        "job_id": manifest.job_id,
        "settings": asdict(manifest.settings),
        "settings_hash": manifest.settings.digest(),
        "options": asdict(manifest.options),
        "inputs": [input_spec_dict(i) for i in manifest.inputs],
        "created_at": manifest.created_at,
    }


def save(manifest: Manifest, job_dir: Path) -> None:
    """Write `job.json` atomically and privately (0600), like the checkpoint."""
    data = json.dumps(to_dict(manifest), indent=1).encode() + b"\n"
    atomic_write(job_dir / MANIFEST_NAME, data)


def load(job_dir: Path) -> Manifest | None:
    """The job's manifest; None if it has none (jobs made before manifests existed)."""
    path = job_dir / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(path, f"cannot read the job manifest ({exc.strerror})") from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(
            path, f"job manifest is not valid JSON ({exc})", _DAMAGED_HINT
        ) from None
    return from_dict(data, path)


def from_dict(data: object, path: Path) -> Manifest:
    """Validate the JSON shape field by field."""
    v = FieldValidator(path, _DAMAGED_HINT)
    top = v.document(data, "job manifest", SCHEMA, SCHEMA_VERSION)
    inputs = [v.input_spec(v.obj(item, "inputs[]")) for item in v.get(top, "inputs", list)]
    if any(i.chunk_count < 1 for i in inputs):
        raise v.fail("field 'chunk_count' must be positive")
    return Manifest(
        job_id=v.get(top, "job_id", str),
        settings=v.settings(top),
        options=v.options(top),
        inputs=tuple(inputs),
        created_at=v.get(top, "created_at", str),
        tool_version=v.get(top, "tool_version", str),
    )
