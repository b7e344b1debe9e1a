"""Claude through the official SDK; SDK errors become ours here, at the edge."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anthropic
from anthropic import APIResponse
from anthropic.types import Message

from transcript_cli.errors import (
    MissingApiKeyError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from transcript_cli.providers.base import DEFAULT_MODEL, DEFAULT_TIMEOUT, ChunkRequest, Completion

if TYPE_CHECKING:
    from transcript_cli.providers.anthropic_batches import AnthropicBatches

# Worker threads that share one HTTP client (and its connection pool).
THREADS_PER_CLIENT = 8
# Statuses that may clear by waiting; everything else 4xx is the request's or account's fault.
_TRANSIENT_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# 429s that are spend limits: waiting will not refill the budget.
_PERMANENT_ERROR_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `retry-after` (secs or date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class AnthropicProvider:
    """One chunk per Messages API call; our retry policy owns retries, so the SDK's are off."""

    name = "anthropic"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        base_url: str | None = None,
    ) -> None:
        self.model = model
        self._timeout = timeout
        self._base_url = base_url
        self._sending = threading.local()  # this thread's on_send while it sends, and client
        try:
            client = self._new_client()
        except anthropic.AnthropicError as exc:  # e.g. a broken credentials profile
            raise MissingApiKeyError(f"cannot configure the Anthropic client: {exc}") from exc
        if not (client.api_key or client.auth_token or client.credentials):
            raise MissingApiKeyError(
                "ANTHROPIC_API_KEY is not set: export it, or use --provider offline "
                "to clean without the API"
            )
        self._secret = client.api_key or client.auth_token or ""
        self.client = client
        self._lanes = [client]
        self._threads = 0
        self._lanes_lock = threading.Lock()

    def _new_client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self._base_url,
            max_retries=0,
            timeout=self._timeout,
            http_client=anthropic.DefaultHttpxClient(event_hooks={"request": [self._on_request]}),
        )

    def _lane(self) -> anthropic.Anthropic:
        """This thread's client: one per few threads.

        A connection pool does work per request in proportion to its connections, under the
        interpreter lock: at -j 64, one pool of 64 costs more than eight pools of eight.
        """
        client: anthropic.Anthropic | None = getattr(self._sending, "client", None)
        if client is None:
            with self._lanes_lock:
                index = self._threads // THREADS_PER_CLIENT
                self._threads += 1
                while len(self._lanes) <= index:
                    self._lanes.append(self._new_client())
                client = self._lanes[index]
            self._sending.client = client
        return client

    def params(self, request: ChunkRequest) -> dict[str, Any]:
        """The Messages API parameters for one chunk: the same live and in a batch."""
        return {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": request.user}],
        }

    def batches(self) -> AnthropicBatches:
        """Message Batches through this provider's client."""
        from transcript_cli.providers.anthropic_batches import AnthropicBatches

        return AnthropicBatches(self)

    def _on_request(self, request: object) -> None:
        """The HTTP client's hook, run just before a request's bytes go out."""
        on_send = getattr(self._sending, "on_send", None)
        if on_send is not None:
            on_send()

    def complete(
        self, request: ChunkRequest, on_send: Callable[[], None] | None = None
    ) -> Completion:
        """One Messages API call; raises only our ProviderError subclasses."""
        self._sending.on_send = on_send
        try:
            raw = self._lane().messages.with_raw_response.create(
                **self.params(request), timeout=self._timeout
            )
        except anthropic.APIError as exc:
            raise self.convert(exc) from None
        finally:
            self._sending.on_send = None
        try:
            return self._completion(raw)
        except anthropic.APIError as exc:
            raise self.convert(exc) from None
        except (ValueError, TypeError, AttributeError) as exc:
            # A 200 whose body is cut off, not JSON, or not a message: the next try may be fine.
            raise self._unreadable(exc) from None

    def count_tokens(self, request: ChunkRequest) -> int:
        """Exact input tokens of a request (POST /v1/messages/count_tokens); bills nothing."""
        try:
            counted = self.client.messages.count_tokens(
                model=self.model,
                system=request.system,
                messages=[{"role": "user", "content": request.user}],
                timeout=self._timeout,
            )
        except anthropic.APIError as exc:
            raise self.convert(exc) from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise self._unreadable(exc) from None
        return counted.input_tokens

    def _unreadable(self, exc: Exception) -> TransientProviderError:
        """A 200 the SDK could not read (cut off, not JSON, not the expected shape)."""
        return TransientProviderError(
            self._redact(f"unreadable API response ({type(exc).__name__}: {exc})")
        )

    @classmethod
    def _completion(cls, raw: APIResponse[Message]) -> Completion:
        return cls.completion_of(raw.parse(), {k.lower(): v for k, v in raw.headers.items()})

    @staticmethod
    def completion_of(message: Message, headers: Mapping[str, str]) -> Completion:
        """Our Completion of an SDK message (live, or one batch result)."""
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        input_tokens = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=usage.output_tokens,
            model=message.model,
            stop_reason=str(message.stop_reason or ""),
            headers=headers,
        )

    def close(self) -> None:
        """Release pooled connections."""
        for client in self._lanes:
            client.close()

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "[redacted]") if self._secret else text

    def convert(self, exc: anthropic.APIError) -> ProviderError:
        """An SDK error as ours (the batch client converts with this too)."""
        if isinstance(exc, anthropic.APITimeoutError):
            return TransientProviderError(f"request timed out after {self._timeout:g}s")
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__ or exc
            return TransientProviderError(self._redact(f"connection error: {cause}"))
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            detail = self._redact(_error_detail(exc))
            message = f"API error {status}: {detail}"
            if status in _TRANSIENT_STATUSES and exc.error_code not in _PERMANENT_ERROR_CODES:
                headers = {k.lower(): v for k, v in exc.response.headers.items()}
                return TransientProviderError(
                    message,
                    status=status,
                    retry_after=parse_retry_after(headers),
                    headers=headers,
                )
            if status >= 500:
                return TransientProviderError(message, status=status)
            return PermanentProviderError(message + _hint(status), status=status)
        # A 200 whose body is not a message (cut off mid-body, not JSON): worth another try.
        return TransientProviderError(self._redact(f"unreadable API response: {exc.message}"))


def _error_detail(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind = error.get("type", "")
            text = error.get("message", "")
            return f"{kind}: {text}" if kind else str(text)
    return exc.message


def _hint(status: int) -> str:
    hints = {
        401: " (check ANTHROPIC_API_KEY)",
        403: " (the key lacks permission for this model or feature)",
        404: " (unknown model? pass a valid --model)",
        413: " (request too large: lower --chunk-chars)",
    }
    return hints.get(status, "")
