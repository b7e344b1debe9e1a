"""Everything that can go wrong, as one tree; each error carries its user message and exit code.

TranscriptCliError                 base: message + exit_code; the CLI catches only this
├── UsageError (2)                 bad flags, unknown job, nothing to resume
│   ├── InputError (2)             an input file is missing, empty, undecodable or malformed
│   ├── BadInputsError (2)         several of them: one line each
│   ├── PromptError (2)            unknown template, unknown placeholder
│   ├── ConfigError (2)            a transcript-cli.toml is malformed or sets an unknown key
│   ├── MissingApiKeyError (2)     anthropic provider without ANTHROPIC_API_KEY
│   └── OutputExistsError (2)      an output this job did not write is in the way (--overwrite)
├── StateError (1)                 state on disk cannot be used
│   ├── CheckpointError (1)        checkpoint or job manifest damaged, wrong schema, newer
│   ├── InputChangedError (1)      an input's sha256 differs from when the job started
│   └── JobLockedError (1)         another process holds the job
├── StorageError (1), OSError      a write failed (disk full, read-only); previous state intact;
│   │                              carries .path and .reason
│   └── StdoutError (1)            stdout cannot be written (a full disk behind `> file`)
├── ProviderError (1)              the model API said no
│   ├── PermanentProviderError (1) bad key, bad request, unknown model: retrying cannot help
│   │   └── UnusableReply (1)      empty, cut off at max_tokens, refused (failures.py)
│   └── TransientProviderError (75) still failing after the retry budget; resumable
├── ChunksFailedError (1)          some chunks failed for good; their files were not written,
│                                  the others were; `resume --retry-failed` tries them again
├── Paused (130)                   a signal asked us to stop; state is consistent
│   └── BudgetReached (75)         the next chunk could pass --max-cost; resumable with a higher one
└── Waiting (0)                    not an error: batches run on Anthropic's side (--no-wait)

Which provider failure ends the job, and which only its chunk, is decided in failures.py.

Errors carry their context as attributes (`job_id`, `state_dir`, `path`...) and never spell a
command line: a suggested next step is a `Command` in `hint`, and the CLI spells it with the
flags in use (cli/hints.py). `message` is the text without the hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 75  # EX_TEMPFAIL from sysexits.h: try again later
EXIT_PAUSED = 130  # 128 + SIGINT, what shells expect after Ctrl-C


@dataclass(frozen=True)
class Command:
    """A transcript-cli command to suggest, as data: only the CLI knows how to spell it."""

    verb: str  # "resume" | "repair" | "clear"
    job_id: str
    flags: tuple[str, ...] = ()


# Text to append to an error's message: plain strings and commands, in order.
Hint = tuple["str | Command", ...]


class TranscriptCliError(Exception):
    """Base of every error a user can see; `message` is one line meant for them."""

    exit_code: int = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        state_dir: Path | None = None,
        hint: Hint = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.job_id = job_id
        self.state_dir = state_dir
        self.hint = hint


class UsageError(TranscriptCliError):
    """The command line asks for something that cannot be done."""

    exit_code = EXIT_USAGE


class InputError(UsageError):
    """An input file cannot be read as a transcript."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class BadInputsError(UsageError):
    """Some inputs cannot be read; all of them are named, one line each."""

    def __init__(self, errors: list[InputError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class PromptError(UsageError):
    """A prompt template is missing or cannot be rendered."""


class ConfigError(UsageError):
    """A config file (or a TRANSCRIPT_CLI_* variable) cannot be used; the message names it."""

    def __init__(self, origin: Path | str, problem: str) -> None:
        super().__init__(f"{origin}: {problem}")
        self.origin = str(origin)
        self.problem = problem


class MissingApiKeyError(UsageError):
    """The anthropic provider was chosen but no credential is configured."""


class OutputExistsError(UsageError):
    """An output file exists that this job did not write; replacing it takes --overwrite."""

    def __init__(self, message: str, paths: list[Path], **where: Any) -> None:
        super().__init__(message, **where)
        self.paths = paths


class StateError(TranscriptCliError):
    """Job state on disk cannot be used as it is."""


class CheckpointError(StateError):
    """A checkpoint file is damaged or of an unknown schema."""

    def __init__(
        self, path: Path, problem: str, hint: str | Hint = "", *, job_id: str | None = None
    ) -> None:
        text = f"{path}: {problem}"
        if isinstance(hint, str):
            text += f" ({hint})" if hint else ""
            hint = ()
        else:
            hint = (" (", *hint, ")")
        super().__init__(text, job_id=job_id, hint=hint)
        self.path = path
        self.problem = problem


class InputChangedError(StateError):
    """An input file changed after the job started, so stored chunks no longer match it."""


class JobLockedError(StateError):
    """Another transcript-cli process is working on this job."""


class StorageError(TranscriptCliError, OSError):
    """Writing state or output failed; the previous checkpoint is still intact."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        reason: str = "",
        job_id: str | None = None,
    ) -> None:
        super().__init__(message, job_id=job_id)
        self.path = path  # the file or folder that could not be written
        self.reason = reason  # e.g. "disk full", "read-only file system"


class StdoutError(StorageError):
    """Writing to stdout failed (not a reader that left: that is no error); no JSON can follow."""


class ProviderError(TranscriptCliError):
    """The model API refused or failed a request."""

    def __init__(
        self, message: str, *, status: int | None = None, job_id: str | None = None
    ) -> None:
        super().__init__(message, job_id=job_id)
        self.status = status


class PermanentProviderError(ProviderError):
    """Retrying cannot help: bad key, bad request, unknown model, spend limit."""


class TransientProviderError(ProviderError):
    """May clear by waiting: overload, rate limit, network trouble."""

    exit_code = EXIT_TRANSIENT

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, job_id=job_id)
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = headers or {}


class ChunksFailedError(TranscriptCliError):
    """The job ran to its end, but some chunks failed permanently (listed in the message)."""


class Paused(TranscriptCliError):
    """A signal asked the job to stop; everything finished so far is checkpointed."""

    exit_code = EXIT_PAUSED


class Waiting(TranscriptCliError):
    """A batch run returned before its batches ended (--no-wait); `resume` collects them."""

    exit_code = EXIT_OK


class BudgetReached(Paused):
    """Starting the next chunk could pass --max-cost: the job paused; a higher cap resumes it."""

    exit_code = EXIT_TRANSIENT

    def __init__(self, message: str, *, spent: float, limit: float, **where: Any) -> None:
        super().__init__(message, **where)
        self.spent = spent
        self.limit = limit
