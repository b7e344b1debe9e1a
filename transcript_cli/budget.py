"""--max-cost: a chunk starts only if the job stays within its budget, counting what is in flight.

Before a chunk is sent, its cost is estimated (estimate.py: input tokens counted locally and
rounded up, output expected from the prompt, at the model's list price). It starts only if what
the job has spent, plus the estimates of the chunks in flight, plus its own stays within the
budget; otherwise no further chunk starts, those in flight finish, and the job pauses.
"""

from __future__ import annotations

import math

from transcript_cli.errors import BudgetReached, Command, TranscriptCliError, UsageError
from transcript_cli.estimate import expected_cost, remaining_cost
from transcript_cli.pricing import PRICES_AS_OF, format_usd, price_for
from transcript_cli.state import JobState, Options, Settings
from transcript_cli.work import WorkItem

BUDGET_KIND = "budget"  # ErrorRecord.kind of a job paused by its budget


def check_priced(settings: Settings, options: Options) -> None:
    """A budget needs a price: refuse --max-cost for a model the price table does not know."""
    if options.max_cost is not None and price_for(settings.provider, settings.model) is None:
        raise UsageError(
            f"--max-cost needs the model's price, and {settings.model} is not in the price "
            f"table (prices of {PRICES_AS_OF}); choose a listed --model or drop --max-cost"
        )


class Budget:
    """The chunks in flight and what each is expected to cost; the bookkeeper's thread only."""

    def __init__(self, settings: Settings, limit: float) -> None:
        self.settings = settings
        self.limit = limit
        self._in_flight: dict[tuple[int, int], float] = {}
        self.refused: float | None = None  # the estimate of the chunk that did not fit

    def admit(self, item: WorkItem, spent: float) -> bool:
        """Reserve the chunk's estimate if it fits beside what is spent and in flight."""
        expected = expected_cost(self.settings, item.request) or 0.0
        if spent + sum(self._in_flight.values()) + expected > self.limit:
            self.refused = expected
            return False
        self._in_flight[(item.input_index, item.chunk_index)] = expected
        self.refused = None
        return True

    def reserve(self, item: WorkItem) -> None:
        """Count a chunk sent before this run as in flight (in a batch), whatever the budget."""
        self._in_flight[(item.input_index, item.chunk_index)] = (
            expected_cost(self.settings, item.request) or 0.0
        )

    def release(self, item: WorkItem) -> None:
        """The chunk came back (its real cost is now in what is spent) or failed."""
        self._in_flight.pop((item.input_index, item.chunk_index), None)


def budget_message(spent: float, limit: float) -> str:
    """What `status` says after 'paused: ': 'budget reached, $4.98 of $5.00'."""
    return f"budget reached, {format_usd(spent)} of {format_usd(limit)}"


def budget_reached(state: JobState, limit: float, next_expected: float) -> BudgetReached:
    """The pause a budget ends a run with, and the --max-cost that would let it finish."""
    spent = state.cost_usd
    try:
        rest = remaining_cost(state)
    except TranscriptCliError:  # an input gone or changed: resume will say so
        rest = next_expected
    # Rounded up to a whole dollar (a cent under $1), so the suggestion is not short by a hair.
    needed = spent + rest
    suggestion = math.ceil(needed) if needed >= 1 else math.ceil(needed * 100) / 100
    return BudgetReached(
        f"Paused: {budget_message(spent, limit)}; the next chunk is expected to cost "
        f"{format_usd(next_expected)}, the rest of the job about {format_usd(rest)}.",
        spent=spent,
        limit=limit,
        job_id=state.job_id,
        hint=(
            " Resume with a higher cap: ",
            Command("resume", state.job_id, ("--max-cost", f"{suggestion:g}")),
        ),
    )
