"""The anthropic provider through the real SDK over HTTP: replies, usage and error conversion."""

from __future__ import annotations

import email.utils
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.conftest import FAKE_KEY
from tests.fake_anthropic import FakeAnthropic, Fault
from transcript_cli.errors import (
    MissingApiKeyError,
    PermanentProviderError,
    TransientProviderError,
)
from transcript_cli.providers.anthropic import AnthropicProvider, parse_retry_after
from transcript_cli.providers.base import ChunkRequest

REQUEST = ChunkRequest(
    system="system prompt",
    user="<context>\nbefore\n</context>\n\n<transcript>\nhello there\n</transcript>",
    source="hello there",
    context="before",
    max_tokens=500,
)


@pytest.fixture
def provider(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AnthropicProvider]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    made = AnthropicProvider("claude-haiku-4-5", timeout=1.0, base_url=fake_api.url)
    yield made
    made.close()


def test_reply_text_usage_and_request_shape(
    provider: AnthropicProvider, fake_api: FakeAnthropic
) -> None:
    done = provider.complete(REQUEST)
    assert done.text == "[clean] hello there"
    assert done.stop_reason == "end_turn"
    assert done.input_tokens > 0 and done.output_tokens > 0
    assert done.model == "claude-haiku-4-5"
    assert done.headers["request-id"] == "req_fake"
    (seen,) = fake_api.requests
    assert seen.path == "/v1/messages"
    assert seen.body["model"] == "claude-haiku-4-5"
    assert seen.body["max_tokens"] == 500
    assert seen.body["system"] == "system prompt"
    assert seen.body["messages"] == [{"role": "user", "content": REQUEST.user}]


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault(status=429), 429),
        (Fault(status=529), 529),
        (Fault(status=500), 500),
        (Fault(status=502), 502),
        (Fault(status=503), 503),
        (Fault(status=504), 504),
        (Fault(status=408), 408),
        (Fault(status=409), 409),
    ],
)
def test_transient_statuses(
    provider: AnthropicProvider, fake_api: FakeAnthropic, fault: Fault, status: int
) -> None:
    fake_api.script(fault)
    with pytest.raises(TransientProviderError) as caught:
        provider.complete(REQUEST)
    assert caught.value.status == status
    # Our retry policy owns retries: the SDK must not have retried on its own.
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, ""),
        (401, "ANTHROPIC_API_KEY"),
        (403, "permission"),
        (404, "--model"),
        (413, "--chunk-chars"),
    ],
)
def test_permanent_statuses(
    provider: AnthropicProvider, fake_api: FakeAnthropic, status: int, hint: str
) -> None:
    fake_api.script(Fault(status=status, message="the API says no"))
    with pytest.raises(PermanentProviderError) as caught:
        provider.complete(REQUEST)
    assert caught.value.status == status
    assert "the API says no" in caught.value.message
    assert hint in caught.value.message
    assert len(fake_api.requests) == 1


def test_spend_limit_429_is_permanent(provider: AnthropicProvider, fake_api: FakeAnthropic) -> None:
    fake_api.script(Fault(status=429, error_code="enforced_spend_limit_reached"))
    with pytest.raises(PermanentProviderError):
        provider.complete(REQUEST)


def test_retry_after_is_read_from_the_response(
    provider: AnthropicProvider, fake_api: FakeAnthropic
) -> None:
    fake_api.script(
        Fault(status=429, headers={"retry-after": "7"}),
        Fault(status=529, headers={"retry-after-ms": "1500", "retry-after": "9"}),
    )
    with pytest.raises(TransientProviderError) as first:
        provider.complete(REQUEST)
    assert first.value.retry_after == 7.0
    with pytest.raises(TransientProviderError) as second:
        provider.complete(REQUEST)
    assert second.value.retry_after == 1.5


def test_parse_retry_after_forms() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    "fault",
    [
        Fault(drop=True),
        Fault(body=b"this is not json"),
        Fault(body=b'{"id": "msg_1", "type": "mess'),  # cut off mid-body
        Fault(delay=1.5),  # slower than the 1 s timeout
    ],
    ids=["dropped-connection", "invalid-json", "truncated-body", "timeout"],
)
def test_network_and_body_faults_are_transient(
    provider: AnthropicProvider, fake_api: FakeAnthropic, fault: Fault
) -> None:
    fake_api.script(fault)
    with pytest.raises(TransientProviderError) as caught:
        provider.complete(REQUEST)
    assert FAKE_KEY not in caught.value.message
    # The next request goes through: nothing in the client was left broken.
    assert provider.complete(REQUEST).text == "[clean] hello there"


def test_missing_key_names_offline(
    monkeypatch: pytest.MonkeyPatch, fake_api: FakeAnthropic
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(MissingApiKeyError) as caught:
        AnthropicProvider("claude-haiku-4-5", base_url=fake_api.url)
    assert "--provider offline" in caught.value.message


def test_key_echoed_by_the_server_is_redacted(
    provider: AnthropicProvider, fake_api: FakeAnthropic
) -> None:
    fake_api.script(Fault(status=401, message=f"invalid x-api-key {FAKE_KEY}"))
    with pytest.raises(PermanentProviderError) as caught:
        provider.complete(REQUEST)
    assert FAKE_KEY not in caught.value.message
    assert "[redacted]" in caught.value.message


def test_on_send_is_called_once_as_each_request_leaves(
    provider: AnthropicProvider, fake_api: FakeAnthropic
) -> None:
    fake_api.latency = 0.05
    calls: list[tuple[float, int]] = []
    provider.complete(
        REQUEST, on_send=lambda: calls.append((time.monotonic(), len(fake_api.requests)))
    )
    (seen,) = fake_api.requests
    ((called, seen_by_then),) = calls
    # After the request was built, before the server saw it: what the pacer spaces from.
    assert called <= seen.started
    assert seen_by_then == 0  # (an ordering, not a time bound: that would flake under load)
    # Not called for a request that was not given one (count_tokens, batches, other threads).
    provider.complete(REQUEST)
    assert len(calls) == 1


def test_worker_threads_share_a_client_a_few_at_a_time_and_close_closes_all(
    provider: AnthropicProvider, fake_api: FakeAnthropic
) -> None:
    from transcript_cli.providers.anthropic import THREADS_PER_CLIENT

    threads = THREADS_PER_CLIENT * 2 + 1
    used: list[object] = []
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        assert provider.complete(REQUEST).text == "[clean] hello there"
        used.append(provider._lane())

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    counts = sorted(Counter(id(client) for client in used).values())
    assert counts == [1, THREADS_PER_CLIENT, THREADS_PER_CLIENT]  # three pools, not one of 17
    assert provider.client in used  # the first is the one batches and count_tokens use
    assert len(fake_api.requests) == threads
    provider.close()
    assert all(client.is_closed() for client in provider._lanes)
