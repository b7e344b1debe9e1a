"""The --max-cost gate: what is spent, plus chunks in flight, plus the next must fit."""

from __future__ import annotations

from transcript_cli.budget import Budget, budget_message
from transcript_cli.estimate import expected_cost
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.state import Settings
from transcript_cli.work import WorkItem

SETTINGS = Settings(
    provider="anthropic",
    model="claude-sonnet-5-5",
    prompt_name="clean",
    prompt_text="Clean it.",
    language="English",
    title=None,
    chunk_chars=1000,
    context_chars=0,
    max_tokens=8192,
)


def _item(n: int) -> WorkItem:
    text = "Some words that are spoken here. " * 20
    request = ChunkRequest("Clean it.", f"<transcript>\n{text}\n</transcript>", text, "", 8192)
    return WorkItem(0, n, "talk.txt", request, "sha")


def test_in_flight_estimates_count_until_released() -> None:
    each = expected_cost(SETTINGS, _item(0).request)
    assert each is not None and each > 0
    budget = Budget(SETTINGS, limit=each * 2.5)
    assert budget.admit(_item(0), spent=0.0)
    assert budget.admit(_item(1), spent=0.0)
    assert not budget.admit(_item(2), spent=0.0)  # two in flight, a third would pass it
    assert budget.refused == each
    budget.release(_item(0))  # landed: its real cost is now in `spent`
    assert budget.admit(_item(2), spent=each / 2)
    assert budget.refused is None
    assert not budget.admit(_item(3), spent=each * 2)


def test_message_reads_as_status_shows_it() -> None:
    assert budget_message(4.98, 5.0) == "budget reached, $4.98 of $5.00"
    assert budget_message(0.0123, 0.5) == "budget reached, $0.0123 of $0.50"
