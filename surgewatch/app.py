"""Faust application factory, the stage registry: consumes Settings, produces the app, its topic objects and the
StageContext each requested stage registers its agents on."""
from __future__ import annotations

import logging
from typing import Any

import faust

from streams import kafka_clients, topics
from streams.fetch import InSequence
from streams.flow import keep_queues_on_resume
from streams.config import Settings
from streams.metrics import Metrics
from streams.stage import StageContext

log = logging.getLogger(__name__)

REWIND_CHECK_SECONDS = 5.0    # how often partition heads are checked for messages the fetcher passed over


STAGES = ("enrich", "index", "spikes", "count", "detect")   # spikes = count (news.enriched -> news.counts) + detect


def build_app(settings: Settings, metrics: Metrics | None = None, stages: frozenset[str] | None = None) -> StageContext:
    """Create the Faust app (at-least-once, auto-commit off, event-time stages) and register the requested stages."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{s.strip()}" for s in settings.kafka_servers.split(",")],
        broker_credentials=kafka_clients.faust_credentials(settings),
        store="memory://",                       # tables are rebuilt from their changelog topics on start
        processing_guarantee="at_least_once",    # exactly_once + group_by deadlocks on some brokers; sinks are idempotent
        topic_replication_factor=settings.topic_replication,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        datadir=str(settings.worker_data_dir),
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        stream_wait_empty=False,                 # do not wait on shutdown for in-flight events: unacked ones are
                                                 # re-delivered after restart and the sinks are idempotent
        broker_commit_every=100,
        producer_linger=0.005,                   # batch produce requests (count fan-out, changelog writes): a 5 ms
        producer_max_batch_size=256 * 1024,      # linger cuts broker requests many times over at a bounded delay
        broker_commit_interval=1.0,
        table_cleanup_interval=300.0,
        logging_config=None,
    )

    def t(base: str, partitions: int) -> Any:
        return app.topic(topics.name(settings, base), key_serializer="raw", value_serializer="raw",
                         partitions=partitions,
                         retention=settings.topic_retention_ms / 1000.0)

    p = settings.topic_partitions
    ctx = StageContext(settings=settings, metrics=metrics or Metrics(), app=app,
                       raw=t(topics.RAW, p), enriched=t(topics.ENRICHED, p),
                       counts=t(topics.COUNTS, settings.counts_partitions), deadletter=t(topics.DEADLETTER, p),
                       alerts=t(topics.ALERTS, 1), incidents=t(topics.INCIDENTS, 1),
                       lanes=t(topics.LANES, 1) if settings.counts_partitions > 1 else None)
    wanted = stages if stages is not None else settings.stage_set
    unknown = wanted - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}: set SURGEWATCH_STAGES to a subset of {','.join(STAGES)}")
    if "enrich" in wanted:
        from processors.enrich.agent import register as register_enrich
        register_enrich(ctx)
    if "index" in wanted:
        from processors.index.agent import register as register_index
        register_index(ctx)
    if wanted & {"spikes", "count"}:
        from processors.spikes.agent import register_counter
        register_counter(ctx)
    if wanted & {"spikes", "detect"}:
        from processors.spikes.agent import register_detector
        register_detector(ctx)
    guard_consumer(ctx)
    watch_skipped_heads(ctx)
    return ctx


def guard_consumer(ctx: StageContext) -> None:
    """Before the first assignment, the consumer delivers each watched partition in offset sequence (streams/fetch.py)
    and a resume of running flow keeps the agents' queues (streams/flow.py)."""
    in_sequence = InSequence(ctx.acks.watchers)

    @ctx.app.on_partitions_revoked.connect
    async def install(sender: Any, revoked: Any, **_: Any) -> None:
        # every rebalance begins with a revoke, before its recovery seeks and resumes; the loop runs by then
        keep_queues_on_resume(sender.flow_control)
        in_sequence.topics = set(ctx.acks.watchers)
        in_sequence.install(sender.consumer)


def watch_skipped_heads(ctx: StageContext) -> None:
    """Every few seconds, partitions whose head Faust's fetcher passed over are sought back to it (streams/acks.py)."""
    @ctx.app.timer(interval=REWIND_CHECK_SECONDS)
    async def rewind_skipped_heads() -> None:
        try:
            ctx.metrics.rewinds.inc(len(await ctx.acks.rewind_skipped(ctx.app)))
        except Exception as exc:  # noqa: BLE001 - a rebalance may take the partition meanwhile; the next check retries
            log.info("skipped-head check failed: %s", exc)
