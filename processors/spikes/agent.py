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
from processors.spikes.reorder import EventTimeReorderer, OffsetOrderedAcks

log = logging.getLogger(__name__)
STAGE = "spikes"
COMPACT_EVERY_SECONDS = 600.0
TICK_KEY = b"__tick__"      # wake-up messages on news.counts (no count; releases held events of idle partitions)


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
        lane = getattr(getattr(event, "message", None), "partition", None)
        for ce in counted:
            ce.lane = lane
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

    # Count events reach the detector in arrival order, which can be hours of event time apart across the
    # news.enriched partitions (a replay, a worker catching up); they are released in event-time order once every
    # active partition has passed them (reorder.py). Acks go out in offset order only (Faust would otherwise commit
    # past a held event), so a restart re-delivers everything still held.
    buffers: dict[int, EventTimeReorderer] = {}
    ackers: dict[int, OffsetOrderedAcks] = {}

    def buffer_for(partition: int) -> EventTimeReorderer:
        buf = buffers.get(partition)
        if buf is None:
            buf = buffers[partition] = EventTimeReorderer(idle_seconds=settings.reorder_idle_seconds)
            buf.expect(range(settings.topic_partitions))
        return buf

    counts_topics = set(getattr(ctx.counts, "topics", ()) or ())

    @app.on_partitions_revoked.connect
    async def drop_held(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # held events of a revoked partition are un-acked: its next owner (maybe this worker) gets them again
        for tp in revoked:
            if tp.topic in counts_topics:
                buffers.pop(tp.partition, None)
                ackers.pop(tp.partition, None)

    @app.agent(ctx.counts, name="detect_spikes")
    async def detect_spikes(stream: Any) -> None:
        s = stream.noack()   # acks only after state and alerts are written (see count_keys), in offset order
        async for event in s.events():
            # a held event is handled while another event of the same counts partition is current, so table
            # writes go to the right changelog partition
            part, offset = event.message.partition, event.message.offset
            buf = buffer_for(part)
            acks = ackers.setdefault(part, OffsetOrderedAcks())
            if not acks.add(offset, event):
                pass   # delivered again while its first delivery is still tracked (the consumer sought back)
            elif event.key == TICK_KEY:
                acks.done(offset)
            else:
                ce = await decode_count(event)
                if ce is None:
                    acks.done(offset)
                else:
                    buf.push(ce.lane if ce.lane is not None else -1, parse_time(ce.published_at).timestamp(),
                             (event, ce))
            # idle partitions stop holding the others back only once this reader has no backlog
            try:
                highwater = app.consumer.highwater(event.message.tp)
            except Exception:  # noqa: BLE001 - no fetch position known yet
                highwater = None
            caught_up = highwater is None or offset + 1 >= highwater
            for held, held_ce in buf.pop_ready(caught_up):
                await detect(held, held_ce)
                acks.done(held.message.offset)
            for ready in acks.pop_ackable():
                await s.ack(ready)
            metrics.reorder_buffered.set(sum(len(b) for b in buffers.values()))

    @app.timer(interval=max(1.0, settings.reorder_idle_seconds / 4))
    async def reorder_tick() -> None:
        # wakes the detector when its inputs go quiet, so held events are released once partitions are idle
        for p in range(settings.counts_partitions):
            await ctx.counts.send(key=TICK_KEY, value=b"{}", partition=p)

    async def decode_count(event: Any) -> Any:
        try:
            ce = CountEvent.loads(event.value)
            if not isinstance(ce, CountEvent):
                raise ValueError("not a CountEvent")
            parse_time(ce.published_at)
            return ce
        except Exception as exc:  # noqa: BLE001
            metrics.items_in.labels(stage=STAGE).inc()
            await send_dead_letter(ctx.deadletter, metrics, STAGE, "bad_record", repr(exc), event.value, event)
            return None

    last_compact = [time.monotonic()]

    async def detect(event: Any, ce: CountEvent) -> None:
        t0 = time.perf_counter()
        metrics.items_in.labels(stage=STAGE).inc()
        try:
            proc = processor()
            late_before = proc.late_events
            alerts = list(proc.process(ce))
            if proc.late_events > late_before:
                metrics.late_events.inc(proc.late_events - late_before)
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
