"""cli/tally.py: messages that differ only in figures are one kind."""

from __future__ import annotations

from transcript_cli.cli.tally import Tally, kind_of


def test_kind_blanks_figures() -> None:
    assert kind_of("reply is 12% of the source's length (expected 30%-160%)") == kind_of(
        "reply is 9% of the source's length (expected 30%-160%)"
    )
    assert kind_of("rate limited (429)") != kind_of("overloaded (529) x")


def test_tally_counts_per_label_and_kind_in_first_seen_order() -> None:
    tally = Tally()
    assert tally.add("warning", "reply is 12% long", "a.txt chunk 1")
    assert not tally.add("warning", "reply is 3% long", "a.txt chunk 2")
    assert tally.add("retried", "reply is 3% long", "a.txt chunk 2")  # another label
    assert tally.add("warning", "echoes the prompt", "b.txt chunk 1")
    assert not tally.add("warning", "echoes the prompt", "b.txt chunk 4")
    assert not tally.add("warning", "reply is 1% long", "b.txt chunk 5")
    repeated = tally.repeated()
    assert [(r.label, r.first, r.where, r.count) for r in repeated] == [
        ("warning", "reply is 12% long", "a.txt chunk 1", 3),
        ("warning", "echoes the prompt", "b.txt chunk 1", 2),
    ]
