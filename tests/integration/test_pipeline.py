"""End-to-end over the real wire protocols: raw → enrich → enriched → index (ES, searchable) → counts → alerts,
bad inputs → dead-letter topic with reasons, /metrics served by the worker; a mid-stream restart loses and
duplicates nothing, and its alerts match an uninterrupted backtest of the same stream."""
from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from sinks.elasticsearch import alias, es_client
from streams import topics
from streams.config import Settings
from streams.records import DeadLetter
from surgewatch.runner import (bundled_stream, count_lines, indexed_count, prepare, start_worker, stop_process,
                            wait_for_pipeline)
from streams.subscribe import tail_alerts

pytestmark = pytest.mark.integration

BAD_LINES = [
    b"this is not json",
    b'{"title": "no date", "text": "missing published_at"}',
    b'{"title": "bad date", "text": "x", "published_at": "next tuesday"}',
    b'["an", "array"]',
]


def produce(settings: Settings, lines: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all")
    for line in lines:
        producer.send(topics.name(settings, topics.RAW), line)
    producer.flush()
    producer.close()


def read_topic(settings: Settings, base: str) -> list[bytes]:
    consumer = KafkaConsumer(topics.name(settings, base), bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000,
                             group_id=None)
    try:
        return [m.value for m in consumer]
    finally:
        consumer.close()


def sample_lines() -> list[bytes]:
    return [line for line in bundled_stream().read_bytes().splitlines() if line.strip()]


def test_setup_is_idempotent(ns: Settings) -> None:
    prepare(ns, reset=False)
    prepare(ns, reset=False)
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=ns.kafka_servers)
    names = set(admin.list_topics())
    admin.close()
    for spec in topics.topic_specs(ns):
        assert topics.name(ns, spec.base) in names
    es = es_client(ns)
    assert es.indices.exists_alias(name=alias(ns, "news"))
    mapping = next(iter(es.indices.get_mapping(index=alias(ns, "news")).values()))["mappings"]
    assert mapping["properties"]["location"]["type"] == "geo_point"


def test_end_to_end_with_dead_letters_and_metrics(ns: Settings, tmp_path: Path) -> None:
    prepare(ns, reset=False)
    lines = sample_lines()
    valid_ids, invalid = split_valid(lines + BAD_LINES)
    worker = start_worker(ns, tmp_path / "worker.log")
    try:
        t0 = time.monotonic()
        produce(ns, lines + BAD_LINES)
        out = wait_for_pipeline(ns, len(valid_ids) + invalid, 900, t0, worker, quiet_seconds=8)
        assert "error" not in out, (tmp_path / "worker.log").read_text()[-3000:]
        # every input is accounted for: indexed (one document per distinct id) or dead-lettered with a reason
        assert out["indexed"] == len(valid_ids)
        dls = [DeadLetter.loads(v) for v in read_topic(ns, topics.DEADLETTER)]
        assert len(dls) == invalid
        reasons = {d.reason for d in dls}
        assert {"invalid_json", "missing_field", "bad_published_at", "not_an_object"} <= reasons
        bad = next(d for d in dls if d.payload == "this is not json")
        assert bad.stage == "enrich" and bad.topic == topics.name(ns, topics.RAW) and bad.offset is not None
        # searchable, with tags
        es = es_client(ns)
        hits = es.search(index=alias(ns, "news"), query={"term": {"region_ids": "region:ru-ce"}}, size=5)
        assert hits["hits"]["total"]["value"] > 0
        assert any(t["id"] == "region:ru-ce" or "region:ru-ce" in t.get("ancestors", [])
                   for t in hits["hits"]["hits"][0]["_source"]["regions"])
        # the surge is on the alerts topic and in the alerts index
        alerts = list(tail_alerts(ns, from_beginning=True, follow=False, idle_ms=3000))
        assert any(a.state == "firing" for a in alerts)
        surge_keys = {a.key for a in alerts if a.state == "firing"}
        assert any("ru-ce" in k or "north-caucasus" in k or "muslims" in k for k in surge_keys), surge_keys
        assert indexed_count(ns, "alerts") >= 1
        # the worker serves Prometheus metrics with the real counts
        body = urllib.request.urlopen(f"http://127.0.0.1:{ns.metrics_port}/metrics", timeout=5).read().decode()
        assert f'surgewatch_items_in_total{{stage="enrich"}} {float(len(lines) + len(BAD_LINES))}' in body
        not_json = sum(1 for d in dls if d.reason == "invalid_json")
        assert not_json >= 2   # one of BAD_LINES and the bundled stream's broken lines
        assert f'surgewatch_dead_letters_total{{reason="invalid_json",stage="enrich"}} {float(not_json)}' in body
        assert "surgewatch_alerts_total" in body
    finally:
        stop_process(worker)


def split_valid(lines: list[bytes]) -> tuple[set[str], int]:
    """Distinct ids of the valid lines, and how many lines are invalid (each must be dead-lettered)."""
    from processors.enrich.pipeline import parse_news_item
    ids, invalid = set(), 0
    for line in lines:
        try:
            ids.add(parse_news_item(line).id)
        except ValueError:
            invalid += 1
    return ids, invalid


def gaps(settings: Settings, valid_ids: set[str]) -> dict[str, object]:
    """Where the missing items are: per topic partition, its end offset and the group's committed offset, and the raw
    position of every valid id that is not in the news index."""
    from elasticsearch.helpers import scan
    from kafka import TopicPartition
    es = es_client(settings)
    es.indices.refresh(index=alias(settings, "news"))
    seen = {h["_id"] for h in scan(es, index=alias(settings, "news"), query={"query": {"match_all": {}}}, _source=False)}
    missing = valid_ids - seen
    out: dict[str, object] = {"missing": len(missing)}
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, group_id=settings.app_id,
                             enable_auto_commit=False)
    try:
        for base in (topics.RAW, topics.ENRICHED):
            name = topics.name(settings, base)
            tps = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
            end = consumer.end_offsets(tps)
            out[base] = [(tp.partition, end[tp], consumer.committed(tp)) for tp in tps]
    finally:
        consumer.close()
    where = []
    for msg in KafkaConsumer(topics.name(settings, topics.RAW), bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000):
        try:
            item_id = json.loads(msg.value).get("id")
        except (ValueError, AttributeError):
            continue
        if item_id in missing:
            where.append((item_id, msg.partition, msg.offset))
    out["raw_positions"] = sorted(where)[:20]
    return out


def test_restart_mid_stream_neither_loses_nor_duplicates(ns: Settings, tmp_path: Path) -> None:
    prepare(ns, reset=False)
    lines = sample_lines()
    valid_ids, invalid = split_valid(lines)
    worker = start_worker(ns, tmp_path / "worker1.log")
    t0 = time.monotonic()
    produce(ns, lines)
    try:
        deadline = time.monotonic() + 600
        while indexed_count(ns) < len(valid_ids) // 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert indexed_count(ns) < len(valid_ids), "too late to test a mid-stream restart"
    finally:
        stop_process(worker)   # SIGTERM: a clean stop mid-stream
    worker = start_worker(ns, tmp_path / "worker2.log")
    try:
        out = wait_for_pipeline(ns, len(valid_ids) + invalid, 420, t0, worker, quiet_seconds=8)
        assert "error" not in out
        assert out["indexed"] == len(valid_ids), ("items lost or stuck across the restart", gaps(ns, valid_ids),
                                                  (tmp_path / "worker2.log").read_text()[-4000:])
        # dead letters are at-least-once like everything else: a batch in flight at the stop is handled again, so
        # an invalid item may be dead-lettered twice; its source topic/partition/offset identify the copies
        dls = [DeadLetter.loads(v) for v in read_topic(ns, topics.DEADLETTER)]
        assert len({(d.topic, d.partition, d.offset) for d in dls}) == invalid <= out["dead_lettered"]
        assert out["indexed"] == len(valid_ids), "items lost across the restart"
        es = es_client(ns)
        es.indices.refresh(index=alias(ns, "news"))
        agg = es.search(index=alias(ns, "news"), size=0, aggs={"ids": {"cardinality": {"field": "id"}}})
        assert agg["hits"]["total"]["value"] == len(valid_ids) == agg["aggregations"]["ids"]["value"]
        alerts = list(tail_alerts(ns, from_beginning=True, follow=False, idle_ms=3000))
        assert any(a.state == "firing" for a in alerts)
        firing = [a.alert_id for a in alerts if a.state == "firing"]
        assert len(firing) == len(set(firing)), "an episode fired twice after the restart"
    finally:
        stop_process(worker)
    # the alerts are those of an uninterrupted in-order run of the same detector (`backtest archive`): none lost, none
    # added. Stories are counted from near-duplicate keys, which depend on each item alone, so neither the enrich
    # stage's arrival order nor its clusterer restarting empty changes a count
    from surgewatch.offline import backtest_archive
    backtest_archive(bundled_stream(), tmp_path / "reference.jsonl")
    ref = [json.loads(x) for x in (tmp_path / "reference.jsonl").read_text().splitlines()]
    # with its incident: the grouping is the same across the restart as in the uninterrupted run
    ref_firing = {(a["key"], a["window_start"], a["incident_id"]) for a in ref if a["state"] == "firing"}
    live_firing = {(a.key, a.window_start, a.incident_id) for a in alerts if a.state == "firing"}
    founding = {f for f in ref_firing if f[0] in ("community:muslims", "region:north-caucasus", "region:ru-da")
                and f[1].startswith("2023-11-08")}
    assert len(founding) == 3 and len({f[2] for f in founding}) == 1     # the founding surge: one incident
    assert not ref_firing - live_firing, ("lost across the restart:", sorted(ref_firing - live_firing))
    extra = live_firing - ref_firing
    assert not extra, ("only live:", sorted(extra))


def test_demo_reset_drops_the_consumer_groups_offsets(ns: Settings) -> None:
    # a reset namespace must be consumed from its start: committed offsets of deleted topics may outlive them
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata
    from streams.setup import delete_consumer_group
    prepare(ns, reset=False)
    produce(ns, [b'{"x": 1}'])
    tp = TopicPartition(topics.name(ns, topics.RAW), 0)
    consumer = KafkaConsumer(bootstrap_servers=ns.kafka_servers, group_id=ns.app_id, enable_auto_commit=False)
    try:
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(1, "", -1)})
        assert consumer.committed(tp) == 1
    finally:
        consumer.close()
    assert delete_consumer_group(ns, ns.app_id) is True
    assert delete_consumer_group(ns, ns.app_id) is False
    consumer = KafkaConsumer(bootstrap_servers=ns.kafka_servers, group_id=ns.app_id, enable_auto_commit=False)
    try:
        assert consumer.committed(tp) is None
    finally:
        consumer.close()
