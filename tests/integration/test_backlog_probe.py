"""The detector's upstream backlog probe on the real broker: consumes a namespace's news.raw / news.enriched with
messages produced and offsets committed by a consumer of the workers' group, produces the lanes it reports busy."""
from __future__ import annotations

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

import pytest

from streams import topics
from streams.backlog import GroupBacklog
from streams.config import Settings
from streams.setup import ensure_topics

pytestmark = pytest.mark.integration


def test_lanes_with_uncommitted_input_are_busy_until_the_group_commits_past_them(ns: Settings) -> None:
    ensure_topics(ns)
    raw, enriched = topics.name(ns, topics.RAW), topics.name(ns, topics.ENRICHED)
    producer = KafkaProducer(bootstrap_servers=ns.kafka_servers)
    for _ in range(3):
        producer.send(raw, b"{}", partition=1)
    producer.send(enriched, b"{}", partition=2)
    producer.flush()
    producer.close()
    backlog = GroupBacklog(ns)
    member = KafkaConsumer(bootstrap_servers=ns.kafka_servers, group_id=ns.app_id, enable_auto_commit=False)
    try:
        member.commit({TopicPartition(raw, 0): OffsetAndMetadata(0, "", -1)})   # the group exists, as a worker's
        assert backlog.probe() == {1, 2}
        member.commit({TopicPartition(raw, 1): OffsetAndMetadata(3, "", -1)})
        assert backlog.probe() == {2}
        member.commit({TopicPartition(enriched, 2): OffsetAndMetadata(1, "", -1)})
        assert backlog.probe() == frozenset()
    finally:
        member.close()
        backlog.close()
