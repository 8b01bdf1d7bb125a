"""Kafka security settings against a real broker with a SCRAM-SHA-512 listener (jvm engine): kafka-python (setup,
ingest producer, consumers), aiokafka (the forwarder's options) and Faust (a worker's index stage) all authenticate
from the same SURGEWATCH_KAFKA_* settings; a wrong password is refused; the password is in no log."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer
from pydantic import SecretStr

from streams import kafka_clients, topics
from streams.config import Settings
from streams.records import EnrichedItem
from streams.setup import admin, ensure_topics
from streams.sources.producer import RawProducer
from surgewatch.runner import indexed_count, start_worker, stop_process
from surgewatch.stack import LocalStack
from surgewatch.stack.base import kafka_ready

from .conftest import free_port

pytestmark = pytest.mark.integration

USER, PASSWORD = "surgewatch-app", "scram-Secret-42"


@pytest.fixture(scope="module")
def scram_port(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A second Kafka node of the jvm engine with a SASL_PLAINTEXT (SCRAM-SHA-512) listener and one user."""
    if stack.stack_engine != "jvm" or not stack.uses_local_stack:
        pytest.skip("needs the jvm engine's Kafka (SURGEWATCH_STACK_ENGINE=jvm)")
    from surgewatch.stack.jvm import JvmEngine
    from surgewatch.stack.jvm.kafka import KafkaNode
    base = JvmEngine(stack).kafka()
    node = KafkaNode(tmp_path_factory.mktemp("scram-kafka"), base.libs, free_port(), 384, base.java,
                     sasl_port=free_port(), scram_users={USER: PASSWORD})
    node.start()
    try:
        deadline = time.monotonic() + 120
        while not kafka_ready(node.bootstrap):
            assert time.monotonic() < deadline, node.log_file.read_text()[-2000:]
            time.sleep(1)
        assert node.sasl_port is not None
        yield node.sasl_port
    finally:
        node.stop()


def secured(ns: Settings, port: int, password: str = PASSWORD) -> Settings:
    return ns.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}", "kafka_security_protocol": "SASL_PLAINTEXT",
                                 "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": USER,
                                 "kafka_sasl_password": SecretStr(password), "es_url": ns.elasticsearch_url})


def test_a_wrong_password_is_refused(ns: Settings, scram_port: int) -> None:
    with pytest.raises(RuntimeError, match="cannot reach Kafka"):
        admin(secured(ns, scram_port, password="not-the-password")).close()


def test_kafka_python_and_aiokafka_authenticate_with_scram(ns: Settings, scram_port: int) -> None:
    s = secured(ns, scram_port)
    assert topics.name(s, topics.RAW) in ensure_topics(s)
    producer = RawProducer(s)
    try:
        producer.send_raw(b'{"title": "Rally in Grozny", "text": "x", "published_at": "2023-11-08T10:00:00Z"}')
        producer.flush()
    finally:
        producer.close()
    consumer = KafkaConsumer(topics.name(s, topics.RAW), bootstrap_servers=s.kafka_servers, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000, **kafka_clients.kafka_python(s))
    try:
        assert [b"Grozny" in m.value for m in consumer] == [True]
    finally:
        consumer.close()

    async def read_with_aiokafka() -> bytes:
        from aiokafka import AIOKafkaConsumer
        c = AIOKafkaConsumer(topics.name(s, topics.RAW), bootstrap_servers=s.kafka_servers,
                             auto_offset_reset="earliest", **kafka_clients.aiokafka(s))
        await c.start()
        try:
            return (await asyncio.wait_for(c.getone(), 30)).value
        finally:
            await c.stop()
    assert b"Grozny" in asyncio.run(read_with_aiokafka())


def test_a_faust_worker_consumes_and_commits_over_scram(ns: Settings, scram_port: int, tmp_path: Path) -> None:
    from surgewatch.runner import prepare
    prepare(ns, reset=False)                   # the local stack up (Elasticsearch ready), this namespace's indices
    s = secured(ns, scram_port).model_copy(update={"stages": "index"})
    ensure_topics(s)
    assert LocalStack(s).up().healthy          # an external secured cluster passes the stack check
    item = EnrichedItem(id="scram-1", title="Rally in Grozny", text="x", published_at="2023-11-08T10:00:00Z",
                        language="en")
    producer = KafkaProducer(bootstrap_servers=s.kafka_servers, acks="all", **kafka_clients.kafka_python(s))
    producer.send(topics.name(s, topics.ENRICHED), key=b"scram-1", value=item.dumps())
    producer.flush()
    producer.close()
    worker = start_worker(s, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 180
        while indexed_count(s) < 1:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(1)
    finally:
        stop_process(worker)
    log = (tmp_path / "worker.log").read_text()
    assert "Authentication failed" not in log and PASSWORD not in log
