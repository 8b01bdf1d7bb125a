"""Metrics: one container of every Prometheus metric the workers expose, on an injectable registry."""
from __future__ import annotations

from typing import Dict, Mapping, Set

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

TOP_TAGS_PER_DIMENSION = 10   # series per dimension of surgewatch_tag_items_top (bounded cardinality)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """All surgewatch metrics. Labels are bounded: stage, reason, dimension, state, severity, topic."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.items_in = Counter("surgewatch_items_in_total", "Items consumed by a stage", ["stage"], registry=r)
        self.items_out = Counter("surgewatch_items_out_total", "Items produced by a stage", ["stage"], registry=r)
        self.dead_letters = Counter("surgewatch_dead_letters_total", "Items sent to the dead-letter topic",
                                    ["stage", "reason"], registry=r)
        self.processing_seconds = Histogram("surgewatch_processing_seconds", "Per-item processing time by stage",
                                            ["stage"], buckets=LATENCY_BUCKETS, registry=r)
        self.event_lag_seconds = Histogram("surgewatch_event_lag_seconds",
                                           "Seconds from an item's published_at to its processing (live streams)",
                                           ["stage"], buckets=(1, 5, 15, 60, 300, 900, 3600, 21600, 86400), registry=r)
        self.es_bulk_seconds = Histogram("surgewatch_es_bulk_seconds", "Elasticsearch bulk request latency",
                                         buckets=LATENCY_BUCKETS, registry=r)
        self.es_bulk_failures = Counter("surgewatch_es_bulk_failures_total",
                                        "Documents or requests Elasticsearch rejected", ["kind"], registry=r)
        self.indexed = Counter("surgewatch_indexed_documents_total", "Documents written to Elasticsearch",
                               ["index"], registry=r)
        self.tags = Counter("surgewatch_tags_total", "Tags assigned to enriched items", ["dimension"], registry=r)
        self.alerts = Counter("surgewatch_alerts_total", "Alert state changes emitted", ["state", "severity"],
                              registry=r)
        self.active_keys = Gauge("surgewatch_spike_keys", "Count keys tracked by the spike detector", registry=r)
        self.late_events = Counter("surgewatch_spike_late_events_total",
                                   "Count events older than the allowed lateness (ignored by the detector)", registry=r)
        self.reorder_buffered = Gauge("surgewatch_spike_reorder_buffered_events",
                                      "Count events held until every input partition has passed their event time",
                                      registry=r)
        self.rewinds = Counter("surgewatch_consumer_rewinds_total",
                               "Partitions sought back to a head the consumer had passed over unhandled", registry=r)
        self.consumer_lag = Gauge("surgewatch_consumer_lag_messages", "Messages between the committed offset and the log end, per topic",
                                  ["topic"], registry=r)
        self.last_item_timestamp = Gauge("surgewatch_last_item_timestamp_seconds",
                                         "Wall-clock time the stage last processed an item", ["stage"], registry=r)
        self.tag_items_top = Gauge("surgewatch_tag_items_top",
                                   "Items per tag in the current count bucket, only for the top-N tags of each "
                                   "dimension (series of tags leaving the top-N are removed)",
                                   ["dimension", "tag"], registry=r)
        self._top_tags: Dict[str, Set[str]] = {}

    def set_top_tags(self, dimension: str, counts: Mapping[str, float], n: int = TOP_TAGS_PER_DIMENSION) -> None:
        """Publish the n largest tag counts of a dimension; drop series of tags no longer in the top n."""
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        keep = {tag for tag, _ in top}
        for tag in self._top_tags.get(dimension, set()) - keep:
            self.tag_items_top.remove(dimension, tag)
        for tag, value in top:
            self.tag_items_top.labels(dimension=dimension, tag=tag).set(value)
        self._top_tags[dimension] = keep

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Expose /metrics over HTTP on host:port (port 0 = off)."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)


_default: Metrics | None = None


def default_metrics() -> Metrics:
    """The process-wide container used by the worker (tests build their own with a fresh registry)."""
    global _default
    if _default is None:
        _default = Metrics()
    return _default
