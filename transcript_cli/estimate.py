"""What a job would cost before it runs: files, chunks, tokens and dollars; nothing is sent.

Input tokens are counted locally (approximate) unless a `TokenCounter` (the API's count_tokens
endpoint) is given; output tokens are always an expectation, from the prompt's usual ratio of
output to transcript, capped by --max-tokens. Dollars use pricing.py's one table.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from transcript_cli.errors import BadInputsError, InputError
from transcript_cli.job import output_paths
from transcript_cli.pricing import Price, batch_price, cost_usd, price_for
from transcript_cli.prompts import PromptTemplate
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.retry import RetryPolicy, call_with_retries
from transcript_cli.sources import load_source
from transcript_cli.state import JobState, Settings
from transcript_cli.work import build_request

# Latin-script text runs about 3.5 characters a token with Claude's tokenizer; other scripts
# (CJK above all) nearer one token a character. Rounded up: an estimate should not flatter.
_ASCII_CHARS_PER_TOKEN = 3.5
_OTHER_CHARS_PER_TOKEN = 1.0
# The Messages API wraps every request in a few tokens of its own.
_REQUEST_OVERHEAD_TOKENS = 8
# Output tokens per transcript token by built-in prompt: cleaning returns about as much as it
# is given; notes far less. Unknown (user) prompts are assumed to return as much as `clean`.
_OUTPUT_RATIO = {"clean": 1.0, "summary-notes": 0.35}
_DEFAULT_OUTPUT_RATIO = 1.0
_COUNT_WORKERS = 4


def approx_tokens(text: str) -> int:
    """A local token count: close for English, on the high side for most other text."""
    ascii_chars = len(text.encode("ascii", "ignore"))
    other = len(text) - ascii_chars
    return math.ceil(ascii_chars / _ASCII_CHARS_PER_TOKEN + other / _OTHER_CHARS_PER_TOKEN)


def request_tokens(request: ChunkRequest) -> int:
    """Local estimate of a request's input tokens (system prompt and user turn)."""
    return approx_tokens(request.system) + approx_tokens(request.user) + _REQUEST_OVERHEAD_TOKENS


def expected_output_tokens(prompt_name: str, request: ChunkRequest) -> int:
    """What the model is expected to return for one chunk, never more than max_tokens."""
    ratio = _OUTPUT_RATIO.get(prompt_name, _DEFAULT_OUTPUT_RATIO)
    return min(request.max_tokens, math.ceil(approx_tokens(request.source) * ratio))


def expected_cost(settings: Settings, request: ChunkRequest) -> float | None:
    """Estimated dollars for one chunk at live prices (None: the model's price is unknown)."""
    return cost_usd(
        price_for(settings.provider, settings.model),
        request_tokens(request),
        expected_output_tokens(settings.prompt_name, request),
    )


class TokenCounter(Protocol):
    """Exact input tokens for a request (the API's count_tokens endpoint)."""

    def count_tokens(self, request: ChunkRequest) -> int: ...


@dataclass(frozen=True)
class Figures:
    """Counts and dollars for one file, or for all of them."""

    chunks: int
    input_tokens: int
    output_tokens: int
    live_usd: float | None  # None when the model's price is unknown
    batch_usd: float | None


@dataclass(frozen=True)
class FileEstimate:
    path: str
    output: str
    figures: Figures


@dataclass(frozen=True)
class Estimate:
    """A job's expected size and price, per file and in total."""

    provider: str
    model: str
    prompt: str
    exact: bool  # input tokens counted by the API, not estimated
    price: Price | None
    files: tuple[FileEstimate, ...]
    skipped: tuple[InputError, ...] = ()  # inputs --skip-invalid left out

    @property
    def total(self) -> Figures:
        figures = [f.figures for f in self.files]
        live = [f.live_usd for f in figures]
        batch = [f.batch_usd for f in figures]
        return Figures(
            chunks=sum(f.chunks for f in figures),
            input_tokens=sum(f.input_tokens for f in figures),
            output_tokens=sum(f.output_tokens for f in figures),
            live_usd=None if None in live else sum(x or 0.0 for x in live),
            batch_usd=None if None in batch else sum(x or 0.0 for x in batch),
        )


class _Abandoned(Exception):
    """The estimate was stopped (Ctrl-C): a count in flight gives up instead of retrying."""


def _with_retries(counter: TokenCounter, stopped: threading.Event) -> Callable[[ChunkRequest], int]:
    policy = RetryPolicy()

    def wait(seconds: float) -> None:
        if stopped.wait(seconds):
            raise _Abandoned

    def count(request: ChunkRequest) -> int:
        def attempt() -> int:
            if stopped.is_set():
                raise _Abandoned
            return counter.count_tokens(request)

        return call_with_retries(attempt, policy, sleep=wait)

    return count


def requests_of(path: Path, settings: Settings) -> Iterator[ChunkRequest]:
    """The requests a job would send for one input, chunk by chunk, rendered as a job does."""
    template = PromptTemplate(settings.prompt_name, settings.prompt_text)
    source = load_source(path, settings.chunk_chars, settings.context_chars, settings.encoding)
    for chunk in source.chunks:
        yield build_request(template, settings, path, chunk, len(source.chunks))


def estimate(
    inputs: Sequence[Path],
    settings: Settings,
    out_dir: Path,
    *,
    counter: TokenCounter | None = None,
    problems: Sequence[InputError] = (),
    skip_invalid: bool = False,
) -> Estimate:
    """Read and chunk every input, count or estimate its tokens, price them. Sends no message.

    With a `counter`, each request is counted by it (a few at once, transient errors retried).
    Bad inputs (and `problems` found before) are refused all at once, as `run` refuses them,
    or left out with `skip_invalid` while any input is left.
    """
    price = price_for(settings.provider, settings.model)
    files = []
    bad = list(problems)
    stopped = threading.Event()
    count = request_tokens if counter is None else _with_retries(counter, stopped)
    pool = ThreadPoolExecutor(_COUNT_WORKERS if counter else 1)
    try:
        targets = output_paths(inputs, out_dir, f".{settings.output_format}")
        for path, target in zip(inputs, targets, strict=True):
            try:
                requests = list(requests_of(path, settings))
            except InputError as exc:
                bad.append(exc)
                continue
            tokens_in = sum(pool.map(count, requests))
            tokens_out = sum(expected_output_tokens(settings.prompt_name, r) for r in requests)
            live = cost_usd(price, tokens_in, tokens_out)
            batch = cost_usd(batch_price(price), tokens_in, tokens_out) if price else None
            figures = Figures(len(requests), tokens_in, tokens_out, live, batch)
            files.append(FileEstimate(str(path), str(target), figures))
    except BaseException:
        # Ctrl-C: counts not started are cancelled (map does that), and those in flight stop
        # at their next retry instead of backing off for a minute before the process may exit.
        stopped.set()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if bad and (not skip_invalid or not files):
        raise BadInputsError(bad)
    return Estimate(
        provider=settings.provider,
        model=settings.model,
        prompt=settings.prompt_name,
        exact=counter is not None,
        price=price,
        files=tuple(files),
        skipped=tuple(bad),
    )


def remaining_cost(state: JobState) -> float:
    """The estimated cost of every chunk not done yet (failed ones included)."""
    total = 0.0
    for item in state.inputs:
        if item.written or len(item.done) == item.chunk_count:
            continue
        for n, request in enumerate(requests_of(Path(item.path), state.settings)):
            if n not in item.done:
                total += expected_cost(state.settings, request) or 0.0
    return total
