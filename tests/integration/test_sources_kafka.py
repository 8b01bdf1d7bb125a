"""Connectors against a real broker: replay 20 items + 1 invalid line into a fresh news.raw, consume them back with
kafka-python and check keys, payloads and event-time order; HTTP ingest end to end."""
from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import List

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic

from streams import topics
from streams.config import Settings
from streams.metrics import Metrics
from streams.records import NewsItem
from streams.sources.producer import RawProducer
from streams.sources.replay import replay

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka_settings(request: pytest.FixtureRequest) -> Settings:
    """A broker from SURGEWATCH_KAFKA_BOOTSTRAP, else the suite's local stack (tests/integration/conftest.py);
    a unique topic prefix per test, the raw topic created with the admin client."""
    bootstrap = os.environ.get("SURGEWATCH_KAFKA_BOOTSTRAP", "")
    if bootstrap:
        base = Settings(_env_file=None, kafka_bootstrap=bootstrap)
    else:
        base = request.getfixturevalue("stack")
    settings = base.model_copy(update={"topic_prefix": f"src{uuid.uuid4().hex[:8]}."})
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers, client_id="surgewatch-test-admin")
    try:
        admin.create_topics([NewTopic(topics.name(settings, topics.RAW), num_partitions=2, replication_factor=1,
                                      topic_configs={"retention.ms": "3600000", "retention.bytes": "10485760"})])
    finally:
        admin.close()
    return settings


def consume_all(settings: Settings, expected: int, timeout_ms: int = 15000) -> List:
    consumer = KafkaConsumer(topics.name(settings, topics.RAW), bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=timeout_ms)
    records = []
    try:
        for msg in consumer:
            records.append(msg)
            if len(records) >= expected:
                break
    finally:
        consumer.close()
    return records


def write_archive(path: Path) -> List[dict]:
    items = [{"title": f"Item {n}", "text": f"Story number {n} about Dagestan.",
              "published_at": f"2023-11-08T{(19 - n) // 2:02d}:{(n * 7) % 60:02d}:00Z",  # reverse time order
              "url": f"https://news.example/{n}", "source": "synthetic:Test Wire", "language": "en"}
             for n in range(20)]
    lines = [json.dumps(i).encode() for i in items]
    lines.insert(7, b'{"title": "broken", "text": "no date"}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return items


def test_replay_round_trip(kafka_settings: Settings, tmp_path: Path) -> None:
    items = write_archive(tmp_path / "archive.jsonl")
    metrics = Metrics()
    producer = RawProducer(kafka_settings, metrics=metrics)
    try:
        stats = replay(tmp_path / "archive.jsonl", producer, speedup=0, progress=False)
        producer.flush()
    finally:
        producer.close()
    assert (stats.sent, stats.invalid) == (20, 1)
    assert producer.failed == 0
    assert metrics.registry.get_sample_value("surgewatch_items_out_total", {"stage": "ingest"}) == 21

    records = consume_all(kafka_settings, 21)
    assert len(records) == 21
    raw = [r for r in records if r.key is None]
    assert [r.value for r in raw] == [b'{"title": "broken", "text": "no date"}']

    decoded = [(r.partition, r.offset, r.key, NewsItem.loads(r.value)) for r in records if r.key is not None]
    by_url = {i["url"]: i for i in items}
    for _p, _o, key, item in decoded:
        src = by_url[item.url]
        assert key == item.id.encode()                              # type: ignore[union-attr]
        assert (item.title, item.text, item.source, item.language) == (src["title"], src["text"], src["source"],
                                                                        "en")
        assert item.published_at == src["published_at"]
    assert len({item.id for *_x, item in decoded}) == 20
    # within each partition the replay wrote in event-time order
    for part in {p for p, *_x in decoded}:
        times = [item.published_at for p, _o, _k, item in sorted(decoded, key=lambda t: t[1]) if p == part]
        assert times == sorted(times)


def test_http_ingest_round_trip(kafka_settings: Settings) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from streams.sources.http import make_app

    producer = RawProducer(kafka_settings)
    good = {"title": "Aid convoy leaves Grozny", "text": "Trucks left for Gaza.",
            "published_at": "2023-11-09T09:00:00Z", "url": "https://news.example/convoy"}
    body = (json.dumps(good) + "\nnot json\n").encode()

    async def post() -> tuple[int, dict]:
        client = TestClient(TestServer(make_app(producer, flush=producer.flush)))
        await client.start_server()
        try:
            health = await client.get("/healthz")
            assert health.status == 200
            resp = await client.post("/items", data=body)
            return resp.status, await resp.json()
        finally:
            await client.close()

    try:
        status, payload = asyncio.run(post())
    finally:
        producer.close()
    assert status == 400 and payload["accepted"] == 1 and payload["invalid"] == 1
    records = consume_all(kafka_settings, 2)
    values = sorted(r.value for r in records)
    assert b"not json" in values
    (item,) = [NewsItem.loads(r.value) for r in records if r.key is not None]
    assert item.title == good["title"] and item.url == good["url"]
