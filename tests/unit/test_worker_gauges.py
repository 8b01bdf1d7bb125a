"""Worker gauges after a rebalance: consumes assignments and lag values, produces the exported series (a real
Metrics registry), so that sums across workers count each topic's lag and the detector's keys once."""
from __future__ import annotations

from streams.metrics import Metrics
from surgewatch.worker import AssignmentGauges, partition_lag


def lag_series(m: Metrics) -> dict:
    return {s.labels["topic"]: s.value for fam in m.registry.collect()
            if fam.name == "surgewatch_consumer_lag_messages" for s in fam.samples}


def test_lag_series_of_topics_no_longer_assigned_are_removed() -> None:
    m = Metrics()
    g = AssignmentGauges(m, "news.counts")
    g.publish({"news.raw", "news.enriched"}, {"news.raw": 120, "news.enriched": 7})
    assert lag_series(m) == {"news.raw": 120, "news.enriched": 7}
    # rebalance: news.enriched moved to another worker
    g.publish({"news.raw"}, {"news.raw": 90})
    assert lag_series(m) == {"news.raw": 90}
    # everything revoked (rebalance in progress): no series left to double-count
    g.publish(set(), {})
    assert lag_series(m) == {}
    # assigned again, log end not known yet: no series until it is
    g.publish({"news.raw"}, {})
    assert lag_series(m) == {}
    g.publish({"news.raw"}, {"news.raw": 3})
    assert lag_series(m) == {"news.raw": 3}


def test_an_owned_topic_without_a_known_log_end_keeps_its_last_value() -> None:
    m = Metrics()
    g = AssignmentGauges(m, "news.counts")
    g.publish({"news.raw"}, {"news.raw": 5})
    g.publish({"news.raw"}, {})
    assert lag_series(m) == {"news.raw": 5}


def test_detector_gauges_drop_to_zero_when_the_counts_topic_moves_away() -> None:
    m = Metrics()
    g = AssignmentGauges(m, "p.news.counts")
    m.active_keys.set(4200)
    m.reorder_buffered.set(17)
    g.publish({"p.news.counts", "p.news.raw"}, {"p.news.counts": 0})
    assert m.registry.get_sample_value("surgewatch_spike_keys") == 4200  # still the owner
    g.publish({"p.news.raw"}, {"p.news.raw": 0})
    assert m.registry.get_sample_value("surgewatch_spike_keys") == 0
    assert m.registry.get_sample_value("surgewatch_spike_reorder_buffered_events") == 0


def test_partition_lag_counts_from_the_committed_offset() -> None:
    # a sink backing off: the consumer fetched to 900, the group committed 400 of a log ending at 1,000
    assert partition_lag(1000, 400, 900) == 600
    # before a first commit the fetch position stands in
    assert partition_lag(1000, None, 900) == 100
    assert partition_lag(None, 400, 900) is None
    assert partition_lag(1000, None, None) is None
    # a log end not refreshed since the last commit is never negative lag
    assert partition_lag(1000, 1005, 1005) == 0
