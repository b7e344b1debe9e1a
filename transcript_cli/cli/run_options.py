"""The options of `run` and `resume`, declared once so their help and defaults agree.

`run`'s options carry their built-in defaults (shown in --help); a config file or a
TRANSCRIPT_CLI_* variable replaces them (see cli/defaults.py). `resume`'s overrides default to
None, meaning "keep the job's own".
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from transcript_cli.cli.completion import complete_models, complete_prompts, complete_providers
from transcript_cli.providers import DEFAULT_MODEL, PROVIDERS
from transcript_cli.providers.offline import OFFLINE_MODEL
from transcript_cli.state import OUTPUT_FORMATS

DEFAULT_CHUNK_CHARS = 6000
DEFAULT_CONTEXT_CHARS = 300
DEFAULT_MAX_TOKENS = 8192
DEFAULT_CONCURRENCY = 4
DEFAULT_OUT = Path("cleaned")

_CONCURRENCY_HELP = "Chunks in flight at once."
_RETRIES_HELP = "Retries per chunk for transient errors; throttles (429, 529) do not count."
_THROTTLE_HELP = (
    "Seconds one chunk may stay throttled (429, 529), waits included, before the job stops, "
    "resumable (exit 75)."
)
_TIMEOUT_HELP = "Seconds one API request may take."
_RPM_HELP = "Cap on requests per minute (for a shared key)."
_TPM_HELP = "Cap on tokens per minute, input + output."
_STRICT_HELP = (
    "Fail a chunk whose reply looks wrong (far shorter or longer than its source, or "
    "echoing the prompt) instead of keeping it with a warning."
)

# --- run: built-in defaults shown in --help ------------------------------------------------

Inputs = Annotated[
    list[Path],
    typer.Argument(
        help=(
            "Transcript files (.txt .srt .vtt .ass .ssa, speech-to-text .json), folders of "
            "them, or - for stdin."
        ),
        show_default=False,
    ),
]
Provider = Annotated[
    str,
    typer.Option(
        "--provider",
        "-p",
        help=f"One of: {', '.join(PROVIDERS)}.",
        autocompletion=complete_providers,
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model id.",
        autocompletion=complete_models,
        show_default=f"{DEFAULT_MODEL}, or {OFFLINE_MODEL} with --provider offline",
    ),
]
Prompt = Annotated[
    str,
    typer.Option(
        "--prompt",
        help="Template NAME (see `transcript-cli prompts`) or PATH to a .md file.",
        autocompletion=complete_prompts,
    ),
]
Language = Annotated[
    str | None,
    typer.Option("--language", "-l", help="Output language.", show_default="as spoken"),
]
Title = Annotated[
    str | None,
    typer.Option(
        "--title", help="Title given to the model and put atop each output.", show_default="none"
    ),
]
ChunkChars = Annotated[
    int, typer.Option("--chunk-chars", min=200, help="Max characters per chunk.")
]
ContextChars = Annotated[
    int,
    typer.Option("--context-chars", min=0, help="Previous-chunk characters sent as context."),
]
MaxTokens = Annotated[
    int, typer.Option("--max-tokens", min=1, max=128000, help="Max output tokens per chunk.")
]
Out = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Folder for the cleaned <stem>.md files, or - for stdout (one input only).",
    ),
]


class OutputFormat(StrEnum):
    """--format's choices (state.OUTPUT_FORMATS), as an Enum so Typer checks them."""

    md = "md"
    txt = "txt"
    json = "json"


assert tuple(f.value for f in OutputFormat) == OUTPUT_FORMATS
DEFAULT_FORMAT = OutputFormat.md
Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="Output file type: md (Markdown), txt, or json (paragraphs with source times).",
    ),
]
Timestamps = Annotated[
    bool,
    typer.Option(
        "--timestamps",
        help="Start each paragraph with the source time of its first word, [HH:MM:SS] "
        "(timed inputs: SRT, VTT, Whisper JSON).",
    ),
]
FrontMatter = Annotated[
    bool,
    typer.Option(
        "--front-matter",
        help="Put YAML front matter (source, model, prompt, tokens, cost, date) atop each "
        ".md output.",
    ),
]
Name = Annotated[
    str | None,
    typer.Option("--name", help="Job id to use instead of a derived one.", show_default="derived"),
]
StdinName = Annotated[
    str | None,
    typer.Option(
        "--stdin-name",
        help="File name for a transcript read from stdin (input -): its type and output name.",
        show_default="stdin.<type found in the text>",
    ),
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", "-j", min=1, max=64, help=_CONCURRENCY_HELP)
]
MaxRetries = Annotated[int, typer.Option("--max-retries", min=0, max=100, help=_RETRIES_HELP)]
MaxThrottleWait = Annotated[
    float, typer.Option("--max-throttle-wait", min=1.0, help=_THROTTLE_HELP)
]
Timeout = Annotated[float, typer.Option("--timeout", min=1.0, help=_TIMEOUT_HELP)]
Rpm = Annotated[int | None, typer.Option("--rpm", min=1, help=_RPM_HELP, show_default="no cap")]
Tpm = Annotated[int | None, typer.Option("--tpm", min=1, help=_TPM_HELP, show_default="no cap")]
Strict = Annotated[bool, typer.Option("--strict/--no-strict", help=_STRICT_HELP)]
Encoding = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Decode every input with this encoding (e.g. cp1256) instead of detecting it.",
        show_default="UTF-8, or the legacy encoding detected",
    ),
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid/--no-skip-invalid",
        help="Leave out inputs that cannot be read (each is named) and clean the rest.",
    ),
]
ResumeFlag = Annotated[
    bool, typer.Option("--resume", help="If this job exists unfinished, continue it.")
]
Restart = Annotated[
    bool, typer.Option("--restart", help="If this job exists, discard it and start over.")
]

# --- resume: None keeps the job's own value ------------------------------------------------

_KEEP = "the job's own"
ConcurrencyOverride = Annotated[
    int | None,
    typer.Option("--concurrency", "-j", min=1, max=64, help=_CONCURRENCY_HELP, show_default=_KEEP),
]
MaxRetriesOverride = Annotated[
    int | None,
    typer.Option("--max-retries", min=0, max=100, help=_RETRIES_HELP, show_default=_KEEP),
]
MaxThrottleWaitOverride = Annotated[
    float | None,
    typer.Option("--max-throttle-wait", min=1.0, help=_THROTTLE_HELP, show_default=_KEEP),
]
TimeoutOverride = Annotated[
    float | None, typer.Option("--timeout", min=1.0, help=_TIMEOUT_HELP, show_default=_KEEP)
]
RpmOverride = Annotated[
    int | None, typer.Option("--rpm", min=1, help=_RPM_HELP, show_default=_KEEP)
]
TpmOverride = Annotated[
    int | None, typer.Option("--tpm", min=1, help=_TPM_HELP, show_default=_KEEP)
]
StrictOverride = Annotated[
    bool | None,
    typer.Option("--strict/--no-strict", help=_STRICT_HELP, show_default=_KEEP),
]

Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Log every chunk, retry, throttle and pacing decision on stderr.",
    ),
]
_BATCH_HELP = (
    "Send the chunks as Message Batches: half the price, results within 24 hours. Waits and "
    "collects unless --no-wait; `resume` goes on in batch mode."
)
Batch = Annotated[bool, typer.Option("--batch", help=_BATCH_HELP)]
Wait = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="With --batch: wait for the batches and collect (or return at once; the job is "
        "`waiting` and `resume` collects).",
    ),
]
WaitOverride = Annotated[
    bool | None,
    typer.Option(
        "--wait/--no-wait",
        help="For a batch job: wait for its batches, or return while they run.",
        show_default="wait",
    ),
]
FallbackLive = Annotated[
    bool,
    typer.Option(
        "--fallback-live",
        help="With --batch: finish the requests a batch did not answer with live requests "
        "(full price) instead of another batch.",
    ),
]


# --- money: know the price first ------------------------------------------------------------

DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show files, chunks, tokens and $ per file and in total (live and batch prices); "
        "send nothing, write nothing. Same as `transcript-cli estimate`.",
    ),
]
Exact = Annotated[
    bool,
    typer.Option(
        "--exact",
        help="With --dry-run: count input tokens with the API's count_tokens endpoint (needs "
        "ANTHROPIC_API_KEY; sends no message) instead of estimating them locally.",
    ),
]
_MAX_COST_HELP = (
    "Budget in US dollars for the whole job: a chunk whose estimated cost, with what is spent "
    "and in flight, would pass it is not started; the job pauses (exit 75) instead."
)
_OVERWRITE_HELP = "Replace existing outputs that this job did not write (refused otherwise)."
MaxCost = Annotated[
    float | None,
    typer.Option("--max-cost", min=0.0, metavar="USD", help=_MAX_COST_HELP, show_default="no cap"),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help=_OVERWRITE_HELP)]
MaxCostOverride = Annotated[
    float | None,
    typer.Option("--max-cost", min=0.0, metavar="USD", help=_MAX_COST_HELP, show_default=_KEEP),
]
OverwriteOverride = Annotated[
    bool | None,
    typer.Option("--overwrite", help=_OVERWRITE_HELP, show_default=_KEEP),
]
