"""One scripted, in-process fake provider for unit tests of the engine (no HTTP, no SDK).

Integration tests use the fake Messages API server (fake_anthropic.py) with the real SDK; this is
for tests of the engine's own logic, where a script says what each call answers.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from transcript_cli.providers.base import ChunkRequest, Completion
from transcript_cli.state import Options, Settings

# What the script answers for one call: a completion, an error to raise, or None for the default
# (the chunk upper-cased, 10 tokens in, 5 out).
Answer = Completion | Exception | None
Script = Callable[[ChunkRequest, int], Answer]


@dataclass(frozen=True)
class Call:
    """One request the provider received, numbered from 0 in arrival order."""

    number: int
    request: ChunkRequest


class ScriptedProvider:
    """Answers each request as `script(request, call_number)` says; records every call.

    `jitter` adds a random delay (seeded) so concurrent runs finish out of order; `gate`, when
    given, holds every call until it is set (a stuck API).
    """

    name = "scripted"
    model = "scripted-1"

    def __init__(
        self,
        script: Script | None = None,
        *,
        jitter: float = 0.0,
        seed: int = 0,
        gate: threading.Event | None = None,
    ) -> None:
        self.script = script
        self.jitter = jitter
        self.random = random.Random(seed)
        self.gate = gate
        self.calls: list[Call] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = 0
        self.lock = threading.Lock()

    @property
    def sources(self) -> list[str]:
        """Source texts of every request, in arrival order (what was paid for)."""
        with self.lock:
            return [c.request.source for c in self.calls]

    def complete(
        self, request: ChunkRequest, on_send: Callable[[], None] | None = None
    ) -> Completion:
        if on_send is not None:
            on_send()
        with self.lock:
            number = len(self.calls)
            self.calls.append(Call(number, request))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            delay = self.random.random() * self.jitter
        try:
            if self.gate is not None:
                self.gate.wait(10)
            time.sleep(delay)
            answer = self.script(request, number) if self.script else None
        finally:
            with self.lock:
                self.in_flight -= 1
        if isinstance(answer, Exception):
            raise answer
        return answer or reply(request.source.upper())

    def close(self) -> None:
        self.closed += 1

    def factory(self) -> Callable[[Settings, Options], ScriptedProvider]:
        """A `runner.ProviderFactory` that always hands out this provider."""
        return lambda settings, options: self


def reply(
    text: str, *, input_tokens: int = 10, output_tokens: int = 5, stop_reason: str = "end_turn"
) -> Completion:
    """A completion as the scripted provider returns it."""
    return Completion(
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model=ScriptedProvider.model,
        stop_reason=stop_reason,
    )
