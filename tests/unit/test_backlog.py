"""Which lanes still have input upstream, from committed and log end offsets (pure; the probe itself is exercised
against the real broker in tests/integration/test_backlog_probe.py)."""
from streams.backlog import pending_lanes


def test_a_partition_whose_log_end_is_past_the_committed_offset_is_pending() -> None:
    ends = {("raw", 0): 10, ("raw", 1): 7, ("enriched", 0): 5, ("enriched", 1): 7}
    committed = {("raw", 0): 10, ("raw", 1): 7, ("enriched", 0): 4, ("enriched", 1): 7}
    assert pending_lanes(committed, ends) == {0}


def test_a_partition_never_committed_is_pending_unless_empty() -> None:
    assert pending_lanes({}, {("raw", 0): 3, ("raw", 1): 0}) == {0}
    assert pending_lanes({("raw", 0): -1}, {("raw", 0): 1}) == {0}


def test_nothing_pending_when_every_partition_is_committed_to_its_end() -> None:
    assert pending_lanes({("raw", 0): 3, ("raw", 1): 9}, {("raw", 0): 3, ("raw", 1): 9}) == frozenset()
