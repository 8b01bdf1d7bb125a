"""The noida engine that `make run` uses by default: consumes a fresh noida-db stack, produces evidence that the
product's wire paths work on it (topics + keyed produce/consume, index template + bulk + search), and that
`stack down` stops it."""
from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from sinks.elasticsearch import alias, ensure_indices, es_client
from surgewatch.stack import LocalStack
from surgewatch.stack.base import port_open
from tests.integration.conftest import local_settings

pytestmark = pytest.mark.integration


def test_noida_engine_serves_kafka_and_elasticsearch() -> None:
    settings = local_settings("noida").model_copy(update={"index_prefix": f"smoke-{uuid.uuid4().hex[:6]}"})
    stack = LocalStack(settings)
    st = stack.up()
    try:
        assert st.engine == "noida" and st.healthy
        topic = f"smoke-{uuid.uuid4().hex[:6]}"
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all")
        for i in range(10):
            producer.send(topic, key=str(i % 3).encode(), value=f"m{i}".encode())
        producer.flush()
        producer.close()
        consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_servers, auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=5000)
        got = sorted(m.value.decode() for m in consumer)
        consumer.close()
        assert got == sorted(f"m{i}" for i in range(10))
        ensure_indices(settings)
        es = es_client(settings)
        es.index(index=alias(settings, "news"), id="a1", refresh=True,
                 document={"id": "a1", "title": "Rally in Grozny", "published_at": "2023-11-08T10:00:00Z"})
        hits = es.search(index=alias(settings, "news"), query={"match": {"title": "grozny"}})["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["a1"]
    finally:
        stack.down()
    assert not port_open("127.0.0.1", settings.stack_kafka_port)
