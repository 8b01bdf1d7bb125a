"""Spike agents: count_keys consumes news.enriched and produces one ItemCounts per item on news.counts (keyed by item
id; the detector also reads older one-CountEvent-per-key messages); detect_spikes consumes news.counts, keeps
detector state in a Faust table and produces Alerts on `alerts` + alerts index and Incident revisions on `incidents` +
incidents index."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust

from sinks.elasticsearch import BulkWriter, alias, async_client
from streams import topics
from streams.acks import power_of_two as _power_of_two
from streams.backlog import GroupBacklog
from streams.codec import decode, encode, load_json
from streams.deadletter import send_dead_letter
from streams.records import Alert, CountEvent, EnrichedItem, Incident, InvalidItem, ItemCounts, parse_time
from streams.stage import StageContext

from processors.spikes.documents import alert_doc_id, alert_document, incident_doc_id, incident_document
from processors.spikes.reorder import EventTimeReorderer, OffsetOrderedAcks
from processors.spikes.writeback import WriteBack

log = logging.getLogger(__name__)
STAGE = "spikes"
COUNT_STAGE = "count"
COMPACT_EVERY_SECONDS = 600.0
BACKLOG_PROBE_SECONDS = 2.0   # how often the detector's worker asks which lanes still have input upstream
TICK_KEY = b"__tick__"      # wake-up messages on news.counts (no count; releases held events of idle partitions)
FLUSH_EVERY = 200           # detector state goes to the table (its changelog) after this many handled messages,
FLUSH_SECONDS = 0.5         # or this long after the first one still buffered; their acks wait for it


def register(ctx: StageContext) -> Any:
    """Both spike agents: count_keys (news.enriched → news.counts) and detect_spikes (news.counts → alerts)."""
    register_counter(ctx)
    return register_detector(ctx)


def register_counter(ctx: StageContext) -> Any:
    from processors.spikes.keys import item_counts
    metrics = ctx.metrics
    ctx.acks.watch(ctx.enriched, "count_keys")

    @ctx.app.agent(ctx.enriched, name="count_keys")
    async def count_keys(stream: Any) -> None:
        # manual acks after the whole fan-out is sent: Faust acks an event in a `finally` even when the worker is
        # stopped halfway through it, which would lose part of the fan-out
        s = stream.noack()
        ctx.acks.install(ctx.app.consumer)
        async for event in s.events():
            await handle(event)
            await ctx.acks.ack(s, event)

    async def handle(event: Any) -> None:
        metrics.items_in.labels(stage=COUNT_STAGE).inc()
        try:
            counted = item_counts(decode(EnrichedItem, event.value))
        except InvalidItem as exc:
            await send_dead_letter(ctx.deadletter, metrics, COUNT_STAGE, exc.reason, str(exc), event.value, event)
            return
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the stage
            await send_dead_letter(ctx.deadletter, metrics, COUNT_STAGE, "bad_record", repr(exc), event.value, event)
            return
        counted.lane = getattr(getattr(event, "message", None), "partition", None)
        await ctx.counts.send(key=counted.item_id.encode("utf-8"), value=encode(counted))
        metrics.items_out.labels(stage=COUNT_STAGE).inc()

    return count_keys


class Detection:
    """The detector side of the spikes stage, apart from its Faust wiring: per counts partition an event-time
    reorderer and offset-ordered acks, one SpikeProcessor over the state table, and the alert sinks.

    Count events reach the detector in arrival order, which can be hours of event time apart across the
    news.enriched partitions (a replay, a worker catching up); they are released in event-time order once every
    active partition has passed them (reorder.py). Acks go out in offset order only (Faust would otherwise commit
    past a held event), so a restart re-delivers everything still held."""

    def __init__(self, ctx: StageContext, table: Any) -> None:
        self.ctx, self.settings, self.metrics, self.table = ctx, ctx.settings, ctx.metrics, table
        self.state = WriteBack(table)
        self.generation = 0      # +1 at every revocation: an event handled across one leaves its changes unwritten
        self.unflushed: list[tuple[OffsetOrderedAcks, int]] = []   # handled, state buffered, not yet ackable
        self.first_unflushed = 0.0
        self.alerts_alias = alias(ctx.settings, "alerts")
        self.incidents_alias = alias(ctx.settings, "incidents")
        self.incidents_topic = ctx.incidents if ctx.incidents is not None else ctx.app.topic(
            topics.name(ctx.settings, topics.INCIDENTS), key_serializer="raw", value_serializer="raw", partitions=1)
        self.buffers: dict[int, EventTimeReorderer] = {}
        self.ackers: dict[int, OffsetOrderedAcks] = {}
        self._processor: Any = None
        self._writer: BulkWriter | None = None
        self.last_compact = time.monotonic()
        self.busy: frozenset[int] = frozenset()   # lanes with input waiting upstream (never idle; see reorder.py)
        self.released_past_idle = 0
        self.waited_for_busy = 0
        self.probe_failures = 0

    def processor(self) -> Any:
        from processors.spikes.processor import SpikeProcessor
        if self._processor is None:
            s = self.settings
            self._processor = SpikeProcessor(self.state, bucket_seconds=s.bucket_seconds,
                                             allowed_lateness_seconds=s.allowed_lateness_seconds,
                                             kibana_url=s.kibana_url, news_index=f"{s.index_prefix}-news")
        return self._processor

    def writer(self) -> BulkWriter:
        if self._writer is None:
            self._writer = BulkWriter(async_client(self.settings), self.metrics, max_retries=None,
                                      label=self.alerts_alias)
        return self._writer

    def buffer_for(self, partition: int) -> EventTimeReorderer:
        buf = self.buffers.get(partition)
        if buf is None:
            buf = self.buffers[partition] = EventTimeReorderer(idle_seconds=self.settings.reorder_idle_seconds)
            buf.expect(range(self.settings.topic_partitions))
        return buf

    def probe_failed(self, exc: Exception) -> None:
        self.probe_failures += 1
        if _power_of_two(self.probe_failures):
            log.warning("upstream backlog probe failed (%d times so far): %s", self.probe_failures, exc)

    def revoke(self, partition: int) -> None:
        """Held events of a revoked partition stay un-acked: its next owner (maybe this worker) gets them again; so
        do handled ones whose state is still buffered (the buffer is dropped: their changes come again with them)."""
        self.buffers.pop(partition, None)
        self.ackers.pop(partition, None)
        self.generation += 1
        self.state.discard()      # one counts partition (streams.config): every buffered change was of this one
        self.unflushed.clear()

    async def on_event(self, event: Any, caught_up: bool) -> list[Any]:
        """Take one news.counts event; handle whatever it releases; return the events now safe to ack."""
        part, offset = event.message.partition, event.message.offset
        generation = self.generation
        buf = self.buffer_for(part)
        acks = self.ackers.setdefault(part, OffsetOrderedAcks())
        first_delivery = acks.add(offset, event)   # False: delivered again while its first delivery is tracked
        if first_delivery:
            ces = None if event.key == TICK_KEY else await self.decode_count(event)
            if not ces:
                acks.done(offset)
            else:
                # ties in event time go by item id, as the backtest orders them (alerts, and so incidents, follow)
                ce = ces[0]
                buf.push(ce.lane if ce.lane is not None else -1, parse_time(ce.published_at).timestamp(), (event, ces),
                         tiebreak=ce.item_id)
        # a held event is handled while another event of the same counts partition is current, so table writes go
        # to the right changelog partition; idle partitions stop holding the others back only without backlog
        ready = buf.pop_ready(caught_up, self.busy)
        self.note_idle(buf, caught_up, len(ready))
        for held, held_ces in ready:
            await self.detect(held, held_ces)
            if self.generation != generation:
                # revoked while this event was handled (its sinks awaited): the buffered changes were dropped, so
                # neither it nor the rest of `ready` may be acked or flushed; they all come again
                return []
            if not self.unflushed:
                self.first_unflushed = time.monotonic()
            self.unflushed.append((acks, held.message.offset))
        self.metrics.reorder_buffered.set(sum(len(b) for b in self.buffers.values()))
        if len(self.unflushed) >= FLUSH_EVERY or (
                self.unflushed and time.monotonic() - self.first_unflushed >= FLUSH_SECONDS):
            self.flush()
        return [e for a in self.ackers.values() for e in a.pop_ackable()]

    def flush(self) -> None:
        """Buffered state to the table (while a news.counts event is current: Faust routes the changelog writes by
        it), then the handled events become ackable."""
        self.state.flush()
        for acks, offset in self.unflushed:
            acks.done(offset)
        self.unflushed.clear()

    def note_idle(self, buf: EventTimeReorderer, caught_up: bool, n: int) -> None:
        """Log (1st, 2nd, 4th... time) a release that did not wait for idle lanes (their later items come late), and
        a silent lane waited for because its input is still upstream (a worker killed, not yet replaced)."""
        if n:
            idle = buf.idle_lanes(caught_up, self.busy)
            if idle:
                self.released_past_idle += 1
                if _power_of_two(self.released_past_idle):
                    log.info("released %d count events past idle lanes %s (%d such releases)",
                             n, sorted(idle, key=str), self.released_past_idle)
        elif len(buf) and self.busy:
            waited = set(buf.idle_lanes(caught_up)) - set(buf.idle_lanes(caught_up, self.busy))
            if waited:
                self.waited_for_busy += 1
                if _power_of_two(self.waited_for_busy):
                    log.info("holding %d count events for silent lanes %s: their input is still upstream "
                             "(%d such waits)", len(buf), sorted(waited, key=str), self.waited_for_busy)

    async def decode_count(self, event: Any) -> list[CountEvent] | None:
        """An ItemCounts message as its CountEvents, or one older CountEvent message; None when dead-lettered."""
        from processors.spikes.keys import expand
        try:
            data = load_json(event.value)
            ces = expand(decode(ItemCounts, data)) if isinstance(data, dict) and "keys" in data else [
                decode(CountEvent, data)]
            if not ces:
                raise InvalidItem("bad_record", "ItemCounts without keys (every item counts at least in 'all')")
            parse_time(ces[0].published_at)
            return ces
        except Exception as exc:  # noqa: BLE001 - InvalidItem or anything else: dead-letter, carry on
            self.metrics.items_in.labels(stage=STAGE).inc()
            reason = exc.reason if isinstance(exc, InvalidItem) else "bad_record"
            await send_dead_letter(self.ctx.deadletter, self.metrics, STAGE, reason, str(exc), event.value, event)
            return None

    def _run_detector(self, ces: list[CountEvent]) -> tuple[list[Alert], list[Incident]]:
        proc = self.processor()
        late_before = proc.late_events
        alerts: list[Alert] = []
        for ce in ces:
            alerts.extend(proc.process(ce))
            alerts.extend(proc.tick(parse_time(ce.published_at)))
        if proc.late_events > late_before:
            self.metrics.late_events.inc(proc.late_events - late_before)
            if _power_of_two(proc.late_events):
                log.info("%d count events older than the allowed lateness skipped so far, re-deliveries of counted "
                         "ones included (latest: %s at %s)",
                         proc.late_events, ces[-1].key, ces[-1].published_at)
        if time.monotonic() - self.last_compact > COMPACT_EVERY_SECONDS:
            # table writes must happen while handling an event (Faust routes them to its changelog partition)
            self.last_compact = time.monotonic()
            proc.compact()
            self.metrics.active_keys.set(len(self.table))
        return alerts, proc.take_incidents()

    async def detect(self, event: Any, ces: list[CountEvent]) -> None:
        t0 = time.perf_counter()
        self.metrics.items_in.labels(stage=STAGE).inc()
        try:
            alerts, incidents = self._run_detector(ces)
        except Exception as exc:  # noqa: BLE001
            await send_dead_letter(self.ctx.deadletter, self.metrics, STAGE, "detector_error", repr(exc),
                                   event.value, event)
            return
        if alerts:
            await self.emit(alerts, event)
        if incidents:
            await self.emit_incidents(incidents, event)
        self.metrics.items_out.labels(stage=STAGE).inc()
        self.metrics.processing_seconds.labels(stage=STAGE).observe(time.perf_counter() - t0)
        self.metrics.last_item_timestamp.labels(stage=STAGE).set(time.time())

    async def emit(self, alerts: list[Alert], event: Any) -> None:
        """Alerts to the alerts topic and the alerts index; a document Elasticsearch rejects is dead-lettered."""
        for alert in alerts:
            await self.ctx.alerts.send(key=alert.key.encode("utf-8"), value=encode(alert))
            self.metrics.alerts.labels(state=alert.state, severity=alert.severity).inc()
        by_id = {alert_doc_id(a): a for a in alerts}
        result = await self.writer().write(self.alerts_alias, [(i, alert_document(a)) for i, a in by_id.items()])
        for doc_id, err in result.failed.items():
            await send_dead_letter(self.ctx.deadletter, self.metrics, STAGE, "es_rejected", err,
                                   encode(by_id[doc_id]), event)


    async def emit_incidents(self, incidents: list[Incident], event: Any) -> None:
        """Incident revisions to the incidents topic (keyed by incident) and the incidents index (latest revision)."""
        for inc in incidents:
            await self.incidents_topic.send(key=inc.incident_id.encode("utf-8"), value=encode(inc))
        latest = {incident_doc_id(i): i for i in incidents}
        result = await self.writer().write(self.incidents_alias,
                                           [(i, incident_document(r)) for i, r in latest.items()])
        for doc_id, err in result.failed.items():
            await send_dead_letter(self.ctx.deadletter, self.metrics, STAGE, "es_rejected", err,
                                   encode(latest[doc_id]), event)


def register_detector(ctx: StageContext) -> Any:
    settings, app = ctx.settings, ctx.app
    table = app.Table("spike-state", default=None, partitions=settings.counts_partitions,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))
    detection = Detection(ctx, table)
    counts_topics = set(getattr(ctx.counts, "topics", ()) or ())

    @app.on_partitions_revoked.connect
    async def drop_held(sender: Any, revoked: Any, **kwargs: Any) -> None:
        for tp in revoked:
            if tp.topic in counts_topics:
                detection.revoke(tp.partition)

    ctx.acks.watch(ctx.counts, "detect_spikes")

    @app.agent(ctx.counts, name="detect_spikes")
    async def detect_spikes(stream: Any) -> None:
        s = stream.noack()   # acks only after state and alerts are written (see count_keys), in offset order
        ctx.acks.install(app.consumer)
        async for event in s.events():
            for ready in await detection.on_event(event, _caught_up(app, event)):
                await ctx.acks.ack(s, ready)

    backlog = GroupBacklog(settings)

    @app.timer(interval=BACKLOG_PROBE_SECONDS)
    async def probe_backlog() -> None:
        # only the worker holding detector partitions needs it; a failed probe keeps the last answer
        if detection.buffers:
            try:
                detection.busy = await asyncio.to_thread(backlog.probe)
            except Exception as exc:  # noqa: BLE001 - the broker may be away; idleness then goes by time alone
                detection.probe_failed(exc)

    @app.timer(interval=max(1.0, settings.reorder_idle_seconds / 4))
    async def reorder_tick() -> None:
        # wakes the detector when its inputs go quiet, so held events are released once partitions are idle
        for p in range(settings.counts_partitions):
            await ctx.counts.send(key=TICK_KEY, value=b"{}", partition=p)

    return detect_spikes


def _caught_up(app: Any, event: Any) -> bool:
    """This reader has no backlog on the event's partition (or its fetch position is not known yet)."""
    try:
        highwater = app.consumer.highwater(event.message.tp)
    except Exception:  # noqa: BLE001 - no fetch position known yet
        return True
    return highwater is None or event.message.offset + 1 >= highwater
