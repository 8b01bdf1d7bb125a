"""Detector scale-out over the real wire protocols: a tagged stream with two surges produced to news.enriched and
counted and detected by spikes-only workers -- 1 news.counts partition on 1 worker, 3 partitions on 1 worker, 3 on
3 workers -- gives on the alerts topic the backtest's alerts, each with the backtest's incident, in the same order."""
from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, List

import pytest
from kafka import KafkaProducer

from processors.spikes.backtest import alert_dict, replay
from processors.spikes.processor import SpikeProcessor
from streams import topics
from streams.codec import encode
from streams.config import Settings
from streams.subscribe import tail_alerts
from surgewatch.runner import (COUNTS_LAG_SLACK, group_lag, prepare, start_worker, stop_process,
                               topic_message_count)
from tests.integration.conftest import free_port
from tests.unit.spikes_streams import T0, by_time, stream, surge

pytestmark = pytest.mark.integration

START = T0 + timedelta(days=6, hours=14)


def surges() -> List[Any]:
    history = stream(days=6, per_hour=12, seed=5)
    return by_time(history + surge(START, n=30, minutes=40)
                   + surge(START + timedelta(minutes=5), n=30, minutes=40, topic="topic:culture", region="region:de",
                           first_id=40_000_000))


def _identity(alert: dict) -> tuple:
    return (alert["alert_id"], alert["key"], alert["state"], alert["observed"], alert["expected"], alert["score"],
            alert["severity"], alert["incident_id"], tuple(a["id"] for a in alert["top_articles"]))


def _wait(settings: Settings, workers: list, timeout: float = 240.0, quiet: float = 12.0) -> None:
    """Until every worker's detector has taken in (almost) all of news.counts and no alert came for `quiet` s."""
    t0 = last_change = time.monotonic()
    seen = None
    while time.monotonic() - t0 < timeout:
        assert all(w.poll() is None for w in workers), "a worker exited"
        now = topic_message_count(settings, topics.ALERTS)   # (news.counts grows with wake-up ticks)
        if now != seen:
            seen, last_change = now, time.monotonic()
        lanes = group_lag(settings, topics.LANES) if settings.counts_partitions > 1 else 0
        if time.monotonic() - last_change > quiet and group_lag(settings, topics.COUNTS) <= COUNTS_LAG_SLACK * 3 \
                and lanes <= COUNTS_LAG_SLACK:
            return
        time.sleep(1)
    raise AssertionError(f"the detector did not drain news.counts in {timeout} s (alerts: {seen}; lag "
                         f"{group_lag(settings, topics.COUNTS)})")


@pytest.mark.parametrize("partitions,workers", [(1, 1), (3, 1), (3, 3)])
def test_alerts_with_detector_lanes_equal_the_backtest(ns: Settings, tmp_path: Path, partitions: int,
                                                        workers: int) -> None:
    items = surges()
    ref = [alert_dict(a) for a in replay(items, SpikeProcessor({}), final_tick=False)]
    assert sum(a["state"] == "firing" for a in ref) >= 4 and len({a["incident_id"] for a in ref}) == 2
    settings = ns.model_copy(update={"counts_partitions": partitions, "stages": "spikes",
                                     "reorder_idle_seconds": 4.0})
    prepare(settings, reset=False)
    procs = []
    try:
        for n in range(workers):
            tag = uuid.uuid4().hex[:6]
            procs.append(start_worker(settings.model_copy(update={
                "web_port": free_port(), "metrics_port": free_port(),
                "worker_data_dir": tmp_path / f"worker-{tag}"}), tmp_path / f"worker-{n}.log"))
        producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all")
        for it in items:
            producer.send(topics.name(settings, topics.ENRICHED), encode(it), key=it.id.encode())
        producer.flush()
        producer.close()
        try:
            _wait(settings, procs)
        except AssertionError as exc:
            logs = "\n".join((tmp_path / f"worker-{n}.log").read_text()[-3000:] for n in range(workers))
            raise AssertionError(f"{exc}\n{logs}") from None
        live = [json.loads(a.dumps()) for a in tail_alerts(settings, from_beginning=True, follow=False,
                                                            idle_ms=3000)]
    finally:
        for p in procs:
            stop_process(p)
    logs = "\n".join((tmp_path / f"worker-{n}.log").read_text()[-2000:] for n in range(workers))
    # the backtest has nothing past the stream's end to resolve on; live, the same holds
    assert [_identity(a) for a in live] == [_identity(a) for a in ref], logs
