"""A scriptable fake of the Anthropic Messages API, served over real HTTP on 127.0.0.1.

The real `anthropic` SDK talks to it through `base_url` / `ANTHROPIC_BASE_URL`, so tests cover the
SDK, our error conversion and our retries exactly as production runs them.

- Replies are derived from the request: the `<transcript>` part, prefixed with `[clean] `; or
  set `replier` to a stand-in model that reads the transcript and the whole user message.
- `latency` delays every reply (429s too); `jitter` adds up to that much more per transcript
  (fixed by `seed`, so replies to concurrent requests come back out of order, the same way every
  run); `rate_limit` enforces a token bucket, with or without a burst allowance and rate-limit
  headers (see RateLimit); every reply goes out with TCP_NODELAY.
  `Fault`s script errors, dropped connections, slow or odd replies, either in arrival order
  (`script`) or for requests whose transcript matches (`fail_when`).
- `POST /v1/messages/count_tokens` answers `{"input_tokens": N}`, N being what a message with
  the same system prompt and user turn is billed (`input_tokens_of`); faults apply to it too.
- Every request is recorded, with the status answered and the most requests ever in flight;
  every message answered is billed (`bills`, `billed_usd`), usable or not, as the API does.
- Message Batches (`/v1/messages/batches`, see fake_batches.py) answer each request as the live
  endpoint would, after `batch_delay` seconds (None: until `batches.end_all()`).
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.fake_batches import PREFIX as BATCHES_PREFIX
from tests.fake_batches import FakeBatches

_TRANSCRIPT = re.compile(r"<transcript>\n(.*)\n</transcript>", re.S)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or on top of) a normal reply to one request."""

    status: int | None = None  # answer with this HTTP error and an Anthropic error body
    message: str = "scripted fault"
    headers: dict[str, str] = field(default_factory=dict)  # e.g. {"retry-after": "2"}
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # sleep before answering (a slow reply)
    body: bytes | None = None  # raw 200 body instead of a message (e.g. invalid JSON)
    text: str | None = None  # reply text instead of the derived one (e.g. "")
    # reply text made from the transcript part instead of the derived one (drops, inventions)
    transform: Callable[[str], str] | None = None
    stop_reason: str | None = None  # e.g. "max_tokens"
    error_code: str | None = None  # `error.details.error_code`, e.g. a spend limit's
    batch_result: str | None = None  # in a batch: "expired" or "canceled" instead of an answer


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    transcript: str
    started: float
    finished: float = 0.0
    status: int | None = None  # the HTTP status answered; None while unanswered, or dropped


@dataclass(frozen=True)
class Bill:
    """One message the fake answered and so billed (a 200 reply, live or in a batch)."""

    input_tokens: int
    output_tokens: int
    batch: bool = False  # billed at half price


class _Server(ThreadingHTTPServer):
    """A listen backlog like a real server's.

    The standard library's is 5: a client opening more connections at once (`-j 16`) has the
    rest of its SYNs dropped and resent a second later, which no real API does to it.
    """

    request_queue_size = 1024


class RateLimit:
    """A server-side token bucket like Anthropic's: 429 + retry-after when empty.

    With `headers`, every answer carries `anthropic-ratelimit-requests-{limit,remaining,reset}`,
    `reset` being the RFC 3339 time at which the bucket would be full again, and a 429 also
    `retry-after-ms`. Without, it behaves like many gateways and proxies in front of the API: a
    429 says only `retry-after`, in whole seconds (rounded up), and nothing else says the limit.
    `burst=1` enforces the rate with no burst allowance at all (a per-minute limit enforced per
    second, say).
    """

    def __init__(
        self, per_second: float, burst: int | None = None, *, headers: bool = True
    ) -> None:
        self.rate = per_second
        self.capacity = float(burst if burst is not None else max(1, round(per_second)))
        self.headers = headers
        self.level = self.capacity
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = time.monotonic()
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now
            allowed = self.level >= 1.0
            if allowed:
                self.level -= 1.0
            to_full = (self.capacity - self.level) / self.rate
            reset = datetime.fromtimestamp(time.time() + to_full, UTC)
            headers = {
                "anthropic-ratelimit-requests-limit": str(int(self.capacity)),
                "anthropic-ratelimit-requests-remaining": str(int(self.level)),
                "anthropic-ratelimit-requests-reset": reset.isoformat().replace("+00:00", "Z"),
            }
            if not self.headers:
                headers = {}
            if not allowed:
                wait = (1.0 - self.level) / self.rate
                headers["retry-after"] = str(math.ceil(wait))
                if self.headers:
                    headers["retry-after-ms"] = str(math.ceil(wait * 1000))
            return allowed, headers


def reply_text(transcript: str) -> str:
    """The deterministic reply to a chunk, so tests can compute expected outputs."""
    return f"[clean] {transcript}"


def input_tokens_of(body: dict[str, Any]) -> int:
    """The input tokens the fake bills (and counts) for a request: a quarter of its characters."""
    system = body.get("system", "")
    prompt_chars = len(system if isinstance(system, str) else json.dumps(system))
    return max(1, (prompt_chars + len(_transcript_of(body)[0])) // 4)


def _user_message(body: dict[str, Any]) -> str:
    user = ""
    for message in body.get("messages", []):
        content = message.get("content")
        user += content if isinstance(content, str) else json.dumps(content)
    return user


class FakeAnthropic:
    """Start with `with FakeAnthropic() as api:`; point the SDK at `api.url`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit: RateLimit | None = None,
        jitter: float = 0.0,
        seed: int = 0,
        batch_delay: float | None = 0.2,
    ) -> None:
        self.latency = latency
        self.jitter = jitter
        self.seed = seed
        self.rate_limit = rate_limit
        # A stand-in model: (transcript, user message) -> reply text, instead of `reply_text`.
        self.replier: Callable[[str, str], str] | None = None
        self.throttled = 0  # requests answered 429 by the rate limit
        self.requests: list[Recorded] = []
        self.bills: list[Bill] = []  # every message answered, usable or not, in answer order
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._script: list[Fault | None] = []
        self._rules: list[tuple[Callable[[str], bool], Fault, list[int]]] = []
        self.batches = FakeBatches(
            lambda: self.url, self._batch_answer, delay=batch_delay, seed=seed
        )
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def in_flight(self) -> int:
        """Requests being answered right now (read without the lock: a rule may hold it)."""
        return self._in_flight

    def jitter_for(self, transcript: str) -> float:
        """The extra delay replies to `transcript` get: a function of `seed` and the text only."""
        if not self.jitter:
            return 0.0
        return random.Random(f"{self.seed}:{transcript}").uniform(0.0, self.jitter)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- scripting ---

    def script(self, *faults: Fault | None) -> None:
        """Apply these to the next requests in arrival order; None means a normal reply."""
        with self._lock:
            self._script.extend(faults)

    def fail_when(self, match: str | Callable[[str], bool], fault: Fault, times: int = 1) -> None:
        """Apply `fault` to the first `times` requests whose transcript matches (-1: always)."""
        predicate = (lambda t: match in t) if isinstance(match, str) else match
        with self._lock:
            self._rules.append((predicate, fault, [times]))

    def clear_faults(self) -> None:
        """Forget every scripted fault and rule: the API is healthy again."""
        with self._lock:
            self._script.clear()
            self._rules.clear()

    def batch_transcripts(self) -> list[str]:
        """Transcript parts of every request submitted in a batch, in submission order."""
        found = []
        for batch_id in list(self.batches.order):
            for request in self.batches.batches[batch_id].requests:
                found.append(_transcript_of(request.get("params", {}))[0])
        return found

    def transcripts(self) -> list[str]:
        """Transcript parts of the message requests received, in arrival order."""
        return [r.transcript for r in self.requests if r.path.endswith("/messages")]

    # --- serving ---

    def _pick_fault(self, transcript: str) -> Fault | None:
        with self._lock:
            for predicate, fault, left in self._rules:
                if left[0] != 0 and predicate(transcript):
                    left[0] -= 1
                    return fault
            if self._script:
                return self._script.pop(0)
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive reply.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                if self.path.startswith(BATCHES_PREFIX):
                    fake._serve_batches(self, "POST")
                else:
                    fake._serve(self)

            def do_GET(self) -> None:
                fake._serve_batches(self, "GET")

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        transcript, _ = _transcript_of(body)
        started = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            index = len(self.requests)
            self.requests.append(
                Recorded(
                    path=handler.path,
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    body=body,
                    transcript=transcript,
                    started=started,
                )
            )
        status: int | None = None
        try:
            status = self._answer(handler, body, transcript)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.requests[index] = replace(
                    self.requests[index], finished=time.monotonic(), status=status
                )

    def _answer(
        self, handler: BaseHTTPRequestHandler, body: dict[str, Any], transcript: str
    ) -> int | None:
        """Reply to one request; the status sent, or None if the connection was dropped."""
        fault = self._pick_fault(transcript) or Fault()
        if self.rate_limit is not None:
            allowed, limit_headers = self.rate_limit.take()
            if not allowed:
                with self._lock:
                    self.throttled += 1
                fault = Fault(status=429, message="rate limited", headers=limit_headers)
            else:
                fault = replace(fault, headers={**limit_headers, **fault.headers})
        delay = self.latency + self.jitter_for(transcript) + fault.delay
        if delay:
            time.sleep(delay)
        if fault.drop:
            handler.close_connection = True
            handler.connection.close()
            return None
        if fault.status is not None:
            kind = ERROR_TYPES.get(fault.status, "api_error")
            error: dict[str, Any] = {"type": kind, "message": fault.message}
            if fault.error_code:
                error["details"] = {"error_code": fault.error_code}
            payload = {"type": "error", "error": error}
            self._send(handler, fault.status, json.dumps(payload).encode(), fault.headers)
            return fault.status
        if fault.body is not None:
            self._send(handler, 200, fault.body, fault.headers)
            return 200
        if handler.path.endswith("/count_tokens"):
            counted = {"input_tokens": input_tokens_of(body)}
            self._send(handler, 200, json.dumps(counted).encode(), fault.headers)
            return 200
        message = self.message_for(body, transcript, fault)
        self._bill(message, batch=False)
        self._send(handler, 200, json.dumps(message).encode(), fault.headers)
        return 200

    def _bill(self, message: dict[str, Any], *, batch: bool) -> None:
        usage = message["usage"]
        with self._lock:
            self.bills.append(Bill(usage["input_tokens"], usage["output_tokens"], batch))

    def billed_usd(self, input_per_million: float, output_per_million: float) -> float:
        """What every message answered so far cost at these list prices (batches at half)."""
        with self._lock:
            bills = list(self.bills)
        return sum(
            (b.input_tokens * input_per_million + b.output_tokens * output_per_million)
            / 1_000_000
            * (0.5 if b.batch else 1.0)
            for b in bills
        )

    def message_for(self, body: dict[str, Any], transcript: str, fault: Fault) -> dict[str, Any]:
        """The message the live endpoint answers `body` with (and a batch's `succeeded`)."""
        if fault.text is not None:
            text = fault.text
        elif fault.transform is not None:
            text = fault.transform(transcript)
        elif self.replier is not None:
            text = self.replier(transcript, _user_message(body))
        else:
            text = reply_text(transcript)
        return {
            "id": f"msg_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "unknown"),
            "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": fault.stop_reason or "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens_of(body),
                "output_tokens": max(1, len(text) // 4),
            },
        }

    def _batch_answer(self, params: dict[str, Any]) -> dict[str, Any]:
        """One batch request's `result`: faults apply as they would live."""
        transcript, _ = _transcript_of(params)
        fault = self._pick_fault(transcript) or Fault()
        if fault.batch_result is not None:
            return {"type": fault.batch_result}
        if fault.status is not None:
            kind = ERROR_TYPES.get(fault.status, "api_error")
            return {
                "type": "errored",
                "error": {"type": "error", "error": {"type": kind, "message": fault.message}},
            }
        message = self.message_for(params, transcript, fault)
        self._bill(message, batch=True)
        return {"type": "succeeded", "message": message}

    def _serve_batches(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(
                Recorded(
                    path=handler.path,
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    body={},
                    transcript="",
                    started=time.monotonic(),
                    finished=time.monotonic(),
                )
            )
        status, answer = self.batches.handle(method, handler.path, raw)
        if isinstance(answer, dict):
            self._send(handler, status, json.dumps(answer).encode(), {})
        else:
            self._send(handler, status, b"".join(answer), {}, content_type="application/x-jsonl")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: bytes,
        headers: dict[str, str],
        content_type: str = "application/json",
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("content-type", content_type)
            handler.send_header("content-length", str(len(payload)))
            handler.send_header("request-id", "req_fake")
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, or a second Ctrl-C): nothing to answer


def _transcript_of(body: dict[str, Any]) -> tuple[str, str]:
    """(transcript part, whole user text) of a Messages request body."""
    user = _user_message(body)
    found = _TRANSCRIPT.search(user)
    return (found.group(1) if found else user), user
