"""Message Batches through the official SDK, sharing the live provider's client and conversions.

A create body can be hundreds of megabytes: it is written to a file one request at a time and
posted from there, and results are read from the streamed JSONL, one line at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import anthropic
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

from transcript_cli.atomicio import atomic_write
from transcript_cli.errors import PermanentProviderError, ProviderError, TransientProviderError
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.providers.batches import BatchCounts, BatchInfo, BatchResult

if TYPE_CHECKING:
    from transcript_cli.providers.anthropic import AnthropicProvider

_PATH = "/v1/messages/batches"
# An `errored` result names an error type, not a status: the status that type comes with.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_PAGE = 100


def _info(batch: MessageBatch) -> BatchInfo:
    counts = batch.request_counts
    return BatchInfo(
        id=batch.id,
        status=batch.processing_status,
        counts=BatchCounts(
            processing=counts.processing,
            succeeded=counts.succeeded,
            errored=counts.errored,
            canceled=counts.canceled,
            expired=counts.expired,
        ),
        created_at=batch.created_at.timestamp(),
    )


class AnthropicBatches:
    """The BatchClient of an AnthropicProvider."""

    def __init__(self, provider: AnthropicProvider) -> None:
        self.provider = provider
        self._client = provider.client

    def write_requests(self, items: Iterable[tuple[str, ChunkRequest]], path: Path) -> int:
        size = 0

        def body() -> Iterator[bytes]:
            nonlocal size
            yield b'{"requests":['
            for n, (custom_id, request) in enumerate(items):
                entry = {"custom_id": custom_id, "params": self.provider.params(request)}
                line = (b",\n" if n else b"\n") + json.dumps(entry, ensure_ascii=False).encode()
                size += len(line)
                yield line
            yield b"\n]}"

        atomic_write(path, body())
        return size + 16

    def create(self, body: Path) -> BatchInfo:
        try:
            with open(body, "rb") as handle:
                batch = self._client.post(
                    _PATH,
                    content=handle,
                    cast_to=MessageBatch,
                    options={"headers": {"content-type": "application/json"}},
                )
        except anthropic.APIError as exc:
            raise self.provider.convert(exc) from None
        return _info(batch)

    def retrieve(self, batch_id: str) -> BatchInfo:
        try:
            return _info(self._client.messages.batches.retrieve(batch_id))
        except anthropic.APIError as exc:
            raise self.provider.convert(exc) from None

    def recent(self, since: float) -> Iterator[BatchInfo]:
        try:
            for batch in self._client.messages.batches.list(limit=_PAGE):
                info = _info(batch)
                if info.created_at < since:
                    return  # newest first: the rest are older still
                yield info
        except anthropic.APIError as exc:
            raise self.provider.convert(exc) from None

    def cancel(self, batch_id: str) -> BatchInfo:
        try:
            return _info(self._client.messages.batches.cancel(batch_id))
        except anthropic.APIError as exc:
            raise self.provider.convert(exc) from None

    def results(self, batch_id: str) -> Iterator[BatchResult]:
        try:
            stream = self._client.messages.batches.results(batch_id)
            try:
                for line in stream:
                    yield self._result(line)
            finally:
                stream.close()
        except anthropic.APIError as exc:
            raise self.provider.convert(exc) from None
        except (ValueError, TypeError) as exc:
            # A results file cut off or garbled mid-line: fetching it again may work.
            raise TransientProviderError(f"unreadable batch results ({exc})") from None

    def _result(self, line: MessageBatchIndividualResponse) -> BatchResult:
        result = line.result
        if result.type == "succeeded":
            completion = self.provider.completion_of(result.message, headers={})
            return BatchResult(line.custom_id, "succeeded", completion=completion)
        if result.type == "errored":
            detail = result.error.error
            kind = detail.type
            status = _ERROR_STATUS.get(kind, 500)
            message = f"API error {status}: {kind}: {detail.message}"
            error: ProviderError
            if status in (429, 500, 504, 529):
                error = TransientProviderError(message, status=status)
            else:
                error = PermanentProviderError(message, status=status)
            return BatchResult(line.custom_id, "errored", error=error)
        return BatchResult(line.custom_id, result.type)
