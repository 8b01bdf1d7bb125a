"""Upstream backlog per partition: consumes the worker group's committed offsets and the log end offsets of news.raw
and news.enriched (kafka-python, blocking: call it from a thread), produces the partition numbers ("lanes") that
still have input waiting -- a lane whose upstream worker died, or is busy, is not idle, however long it is silent."""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Mapping, Tuple

from streams import kafka_clients, topics
from streams.config import Settings

log = logging.getLogger(__name__)

Offsets = Mapping[Tuple[str, int], int]


def pending_lanes(committed: Offsets, ends: Offsets) -> frozenset[int]:
    """Partitions of any watched topic whose log end is past the group's committed offset (none committed: every
    message of the partition is pending)."""
    return frozenset(p for (topic, p), end in ends.items() if end > max(committed.get((topic, p), 0), 0))


class GroupBacklog:
    """Probes the group's backlog on the stage inputs upstream of the spike detector (one admin and one consumer
    connection, opened on first use and kept)."""

    def __init__(self, settings: Settings, bases: Iterable[str] = (topics.RAW, topics.ENRICHED)) -> None:
        self.settings = settings
        self.names = [topics.name(settings, b) for b in bases]
        self._admin: Any = None
        self._consumer: Any = None

    def _clients(self) -> Tuple[Any, Any]:
        from kafka import KafkaAdminClient, KafkaConsumer
        if self._admin is None:
            opts = kafka_clients.kafka_python(self.settings)
            self._admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_servers, request_timeout_ms=5000,
                                           client_id=f"{self.settings.app_id}-backlog", **opts)
            self._consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_servers, enable_auto_commit=False,
                                           request_timeout_ms=6000, client_id=f"{self.settings.app_id}-backlog",
                                           **opts)
        return self._admin, self._consumer

    def probe(self) -> frozenset[int]:
        """Lanes with input the group has not committed past (blocking; raises on a broker error)."""
        from kafka import TopicPartition
        admin, consumer = self._clients()
        group = self.settings.app_id
        offsets = admin.list_group_offsets(group).get(group, {})
        committed: Dict[Tuple[str, int], int] = {(tp.topic, tp.partition): meta.offset
                                                 for tp, meta in offsets.items() if tp.topic in self.names}
        tps = [TopicPartition(name, p) for name in self.names for p in consumer.partitions_for_topic(name) or ()]
        ends = {(tp.topic, tp.partition): off for tp, off in consumer.end_offsets(tps).items()}
        return pending_lanes(committed, ends)

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except Exception as exc:  # noqa: BLE001 - closing is best effort
                    log.debug("backlog probe close: %s", exc)
        self._admin = self._consumer = None
