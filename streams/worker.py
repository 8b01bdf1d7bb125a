"""Worker entry: consumes Settings, runs a Faust worker with the configured stages and serves Prometheus /metrics."""
from __future__ import annotations

import asyncio
import logging

import faust

from streams.app import build_app
from streams.config import Settings
from streams.metrics import default_metrics

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Block running the worker until SIGINT/SIGTERM."""
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    metrics = default_metrics()
    ctx = build_app(settings, metrics)
    app = ctx.app

    @app.timer(interval=15.0)
    async def report_lag() -> None:
        """Consumer lag per topic: log end offset minus the consumer position, for assigned partitions."""
        consumer = app.consumer
        lag: dict[str, int] = {}
        try:
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                pos = await consumer.position(tp)
                if high is not None and pos is not None:
                    lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - pos)
        except Exception as exc:  # noqa: BLE001 - lag is best effort, never fatal
            log.debug("lag not available: %s", exc)
            return
        for topic, value in lag.items():
            metrics.consumer_lag.labels(topic=topic).set(value)

    metrics.serve(settings.metrics_port, settings.metrics_host)
    log.info("worker %s: stages=%s kafka=%s es=%s metrics=http://%s:%s/metrics", settings.app_id,
             ",".join(sorted(settings.stage_set)), settings.kafka_servers, settings.elasticsearch_url,
             settings.metrics_host, settings.metrics_port)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), loop=asyncio.new_event_loop(),
                          redirect_stdouts=False, override_logging=False)
    worker.execute_from_commandline()
