"""Spike agents: count_keys consumes news.enriched and produces CountEvents on news.counts (keyed by count key);
detect_spikes consumes news.counts, keeps detector state in a Faust table and produces Alerts on `alerts` + alerts index."""
from __future__ import annotations

import logging
import time
from typing import Any

from streams.app import StageContext
from streams.deadletter import send_dead_letter
from streams.records import CountEvent, parse_time

from processors.index.agent import decode_enriched
from processors.index.documents import alert_doc_id, alert_document
from processors.index.setup import alias
from processors.index.writer import BulkWriter, async_client

log = logging.getLogger(__name__)
STAGE = "spikes"
COMPACT_EVERY_SECONDS = 600.0


def register(ctx: StageContext) -> Any:
    """Both spike agents: count_keys (news.enriched → news.counts) and detect_spikes (news.counts → alerts)."""
    register_counter(ctx)
    return register_detector(ctx)


def register_counter(ctx: StageContext) -> Any:
    from processors.spikes.keys import count_events
    metrics = ctx.metrics

    @ctx.app.agent(ctx.enriched, name="count_keys")
    async def count_keys(stream: Any) -> None:
        # manual acks after the whole fan-out is sent: Faust acks an event in a `finally` even when the worker is
        # stopped halfway through it, which would lose part of the fan-out
        s = stream.noack()
        async for event in s.events():
            await handle(event)
            await s.ack(event)

    async def handle(event: Any) -> None:
        try:
            item = decode_enriched(event.value)
            counted = count_events(item)
        except Exception as exc:  # noqa: BLE001
            await send_dead_letter(ctx.deadletter, metrics, "count", "bad_record", str(exc), event.value, event)
            return
        for ce in counted:
            await ctx.counts.send(key=ce.key.encode("utf-8"), value=ce.dumps())

    return count_keys


def register_detector(ctx: StageContext) -> Any:
    from processors.spikes.processor import SpikeProcessor

    settings, metrics, app = ctx.settings, ctx.metrics, ctx.app
    import faust
    table = app.Table("spike-state", default=None, partitions=settings.counts_partitions,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))
    alerts_alias = alias(settings, "alerts")
    holder: dict[str, Any] = {}

    def processor() -> Any:
        if "p" not in holder:
            holder["p"] = SpikeProcessor(table, bucket_seconds=settings.bucket_seconds,
                                         allowed_lateness_seconds=settings.allowed_lateness_seconds,
                                         kibana_url=settings.kibana_url, news_index=f"{settings.index_prefix}-news")
        return holder["p"]

    @app.agent(ctx.counts, name="detect_spikes")
    async def detect_spikes(stream: Any) -> None:
        s = stream.noack()   # ack after state and alerts are written (see count_keys)
        async for event in s.events():
            await detect(event)
            await s.ack(event)

    last_compact = [time.monotonic()]

    async def detect(event: Any) -> None:
        t0 = time.perf_counter()
        metrics.items_in.labels(stage=STAGE).inc()
        try:
            ce = CountEvent.loads(event.value)
            if not isinstance(ce, CountEvent):
                raise ValueError("not a CountEvent")
            proc = processor()
            alerts = list(proc.process(ce))
            alerts.extend(proc.tick(parse_time(ce.published_at)))
            if time.monotonic() - last_compact[0] > COMPACT_EVERY_SECONDS:
                # table writes must happen while handling an event (Faust routes them to its changelog partition)
                last_compact[0] = time.monotonic()
                proc.compact()
                metrics.active_keys.set(len(table))
        except Exception as exc:  # noqa: BLE001
            await send_dead_letter(ctx.deadletter, metrics, STAGE, "detector_error", repr(exc), event.value, event)
            return
        if alerts:
            writer = holder.get("w")
            if writer is None:
                writer = holder["w"] = BulkWriter(async_client(settings), metrics, max_retries=1_000_000)
            for alert in alerts:
                await ctx.alerts.send(key=alert.key.encode("utf-8"), value=alert.dumps())
                metrics.alerts.labels(state=alert.state, severity=alert.severity).inc()
            await writer.write(alerts_alias, [(alert_doc_id(a), alert_document(a)) for a in alerts])
        metrics.items_out.labels(stage=STAGE).inc()
        metrics.processing_seconds.labels(stage=STAGE).observe(time.perf_counter() - t0)
        metrics.last_item_timestamp.labels(stage=STAGE).set(time.time())

    return detect_spikes
