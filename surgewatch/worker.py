"""Worker entry: consumes Settings, runs a Faust worker with the configured stages and serves Prometheus /metrics."""
from __future__ import annotations

import asyncio
import logging
from typing import Mapping, Optional, Set

import faust

from streams import topics
from surgewatch.app import build_app
from surgewatch.runner import WORKER_MARKER
from streams.config import Settings
from streams.metrics import Metrics, default_metrics

log = logging.getLogger(__name__)


class AssignmentGauges:
    """Keeps per-assignment gauges true after a rebalance: lag series only for topics this worker owns now, and
    the spike detector's gauges at 0 while another worker owns the counts topic (sums across workers stay right)."""

    def __init__(self, metrics: Metrics, counts_topic: str) -> None:
        self.metrics = metrics
        self.counts_topic = counts_topic
        self.exported: Set[str] = set()

    def publish(self, owned: Set[str], lag: Mapping[str, int]) -> None:
        """owned: topics with a partition in the current assignment; lag: messages behind, per owned topic
        whose log end is known (an owned topic without one keeps its last value)."""
        for topic in self.exported - owned:
            self.metrics.consumer_lag.remove(topic)
        for topic, value in lag.items():
            if topic in owned:
                self.metrics.consumer_lag.labels(topic=topic).set(value)
        self.exported = (self.exported & owned) | (set(lag) & owned)
        if self.counts_topic not in owned:
            self.metrics.active_keys.set(0)
            self.metrics.reorder_buffered.set(0)


def partition_lag(high: Optional[int], committed: Optional[int], position: Optional[int]) -> Optional[int]:
    """Messages behind the log end: from the group's committed offset, as Kafka's own tools count it, so that items
    fetched but not yet handled (a sink backing off) count as lag; from the fetch position before a first commit."""
    start = committed if committed is not None else position
    if high is None or start is None:
        return None
    return max(0, high - start)


def run_worker(settings: Settings) -> None:
    """Block running the worker until SIGINT/SIGTERM."""
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    (settings.worker_data_dir / WORKER_MARKER).touch()   # a reset may delete this folder (surgewatch/runner.py)
    metrics = default_metrics()
    ctx = build_app(settings, metrics)
    app = ctx.app
    gauges = AssignmentGauges(metrics, topics.name(settings, topics.COUNTS))

    @app.timer(interval=15.0)
    async def report_lag() -> None:
        """Consumer lag per topic, for assigned partitions (see partition_lag)."""
        consumer = app.consumer
        lag: dict[str, int] = {}
        try:
            assigned = consumer.assignment()
            for tp in assigned:
                behind = partition_lag(consumer.highwater(tp), consumer._committed_offset.get(tp),
                                       await consumer.position(tp))
                if behind is not None:
                    lag[tp.topic] = lag.get(tp.topic, 0) + behind
        except Exception as exc:  # noqa: BLE001 - lag is best effort, never fatal
            log.debug("lag not available: %s", exc)
            return
        gauges.publish({tp.topic for tp in assigned}, lag)

    metrics.serve(settings.metrics_port, settings.metrics_host)
    log.info("worker %s: stages=%s kafka=%s es=%s metrics=http://%s:%s/metrics", settings.app_id,
             ",".join(sorted(settings.stage_set)), settings.kafka_servers, settings.elasticsearch_url_shown,
             settings.metrics_host, settings.metrics_port)
    for warmup in ctx.warmups:      # before the group join: a starting worker takes no partition it cannot handle yet
        warmup()
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), loop=asyncio.new_event_loop(),
                          redirect_stdouts=False, override_logging=False)
    worker.execute_from_commandline()
