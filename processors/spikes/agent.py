"""Spike agents: count_keys consumes news.enriched and produces one ItemCounts per item and detector lane on
news.counts (keyed by item id: the volume key and the keys the lane owns; the detector also reads older
one-CountEvent-per-key messages); detect_spikes consumes news.counts, keeps detector state in a Faust table and, with
one lane, produces Alerts on `alerts` + alerts index and Incident revisions on `incidents` + incidents index, or, with
several, LaneOutcomes on news.lanes for the incident grouper (grouper.py)."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust

from streams.acks import power_of_two as _power_of_two
from streams.backlog import GroupBacklog
from streams.codec import decode, encode, load_json
from streams.deadletter import send_dead_letter
from streams.records import Alert, CountEvent, EnrichedItem, Incident, InvalidItem, ItemCounts, parse_time
from streams.stage import StageContext

from processors.spikes.outputs import AlertOutputs
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
    from processors.spikes.keys import item_counts, split_counts
    metrics, lanes = ctx.metrics, ctx.settings.counts_partitions
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
        key = counted.item_id.encode("utf-8")
        if lanes == 1:
            await ctx.counts.send(key=key, value=encode(counted))
        else:   # each detector lane gets the volume and the keys it owns
            for part, share in split_counts(counted, lanes):
                await ctx.counts.send(key=key, value=encode(share), partition=part)
        metrics.items_out.labels(stage=COUNT_STAGE).inc()

    return count_keys


class Lane:
    """One counts partition of the detector: its event-time reorderer, offset-ordered acks, buffered state (under the
    lane's prefix in the shared table) and SpikeProcessor; with several lanes its outcomes go to the incident
    grouper instead of alerting. Built on assignment, dropped on revocation."""

    def __init__(self, part: int, table: Any, settings: Any) -> None:
        from processors.spikes.processor import SpikeProcessor
        from processors.spikes.writeback import Prefixed, lane_prefix
        lanes = settings.counts_partitions
        self.part, self.lanes = part, lanes
        self.buffer = EventTimeReorderer(idle_seconds=settings.reorder_idle_seconds)
        self.buffer.expect(range(settings.topic_partitions))
        self.acks = OffsetOrderedAcks()
        self.state = WriteBack(Prefixed(table, lane_prefix(part, lanes)) if lanes > 1 else table)
        self.processor = SpikeProcessor(self.state, bucket_seconds=settings.bucket_seconds,
                                        allowed_lateness_seconds=settings.allowed_lateness_seconds,
                                        kibana_url=settings.kibana_url, news_index=f"{settings.index_prefix}-news",
                                        lane=(part, lanes) if lanes > 1 else None)
        self.unflushed: list[int] = []     # offsets handled, state buffered, not yet ackable
        self.first_unflushed = 0.0
        self.last: tuple[str, str] | None = None   # (published_at, item id) of the newest item handled

    def flush(self) -> None:
        """Buffered state to the table (while an event of this partition is current: Faust routes the changelog
        writes by it), then the handled events become ackable."""
        self.state.flush()
        for offset in self.unflushed:
            self.acks.done(offset)
        self.unflushed.clear()


class Detection:
    """The detector side of the spikes stage, apart from its Faust wiring: one Lane per counts partition held.

    Count events reach the detector in arrival order, which can be hours of event time apart across the
    news.enriched partitions (a replay, a worker catching up); they are released in event-time order once every
    active partition has passed them (reorder.py). Acks go out in offset order only (Faust would otherwise commit
    past a held event), so a restart re-delivers everything still held. With one lane the detector groups its alerts
    into incidents and emits both; with several, each lane sends its items' outcomes (and progress markers) to
    news.lanes, where the incident grouper merges them (grouper.py)."""

    def __init__(self, ctx: StageContext, table: Any) -> None:
        self.ctx, self.settings, self.metrics, self.table = ctx, ctx.settings, ctx.metrics, table
        self.lanes: dict[int, Lane] = {}
        self.generation = 0      # +1 at every revocation: an event handled across one leaves its changes unwritten
        self.outputs = AlertOutputs(ctx, STAGE)
        self.last_compact = time.monotonic()
        self.busy: frozenset[int] = frozenset()   # lanes with input waiting upstream (never idle; see reorder.py)
        self.released_past_idle = 0
        self.waited_for_busy = 0
        self.probe_failures = 0

    @property
    def buffers(self) -> dict[int, EventTimeReorderer]:
        return {p: lane.buffer for p, lane in self.lanes.items()}

    def lane(self, partition: int) -> Lane:
        lane = self.lanes.get(partition)
        if lane is None:
            lane = self.lanes[partition] = Lane(partition, self.table, self.settings)
        return lane

    def probe_failed(self, exc: Exception) -> None:
        self.probe_failures += 1
        if _power_of_two(self.probe_failures):
            log.warning("upstream backlog probe failed (%d times so far): %s", self.probe_failures, exc)

    def revoke(self, partition: int) -> None:
        """Held events of a revoked partition stay un-acked: its next owner (maybe this worker) gets them again; so
        do handled ones whose state is still buffered (the buffer is dropped: their changes come again with them)."""
        self.lanes.pop(partition, None)
        self.generation += 1

    async def on_event(self, event: Any, caught_up: bool) -> list[Any]:
        """Take one news.counts event; handle whatever it releases; return the events now safe to ack."""
        part, offset = event.message.partition, event.message.offset
        generation = self.generation
        lane = self.lane(part)
        if lane.acks.add(offset, event):   # False: delivered again while its first delivery is tracked
            ces = None if event.key == TICK_KEY else await self.decode_count(event)
            if not ces:
                lane.acks.done(offset)
            else:
                # ties in event time go by item id, as the backtest orders them (alerts, and so incidents, follow)
                ce = ces[0]
                lane.buffer.push(ce.lane if ce.lane is not None else -1, parse_time(ce.published_at).timestamp(),
                                 (event, ces), tiebreak=ce.item_id)
        # a held event is handled while another event of the same counts partition is current, so table writes go
        # to the right changelog partition; idle partitions stop holding the others back only without backlog
        ready = lane.buffer.pop_ready(caught_up, self.busy)
        self.note_idle(lane.buffer, caught_up, len(ready))
        for held, held_ces in ready:
            await self.detect(lane, held, held_ces)
            if self.generation != generation:
                # revoked while this event was handled (its sinks awaited): the buffered changes were dropped, so
                # neither it nor the rest of `ready` may be acked or flushed; they all come again
                return []
            if not lane.unflushed:
                lane.first_unflushed = time.monotonic()
            lane.unflushed.append(held.message.offset)
        self.metrics.reorder_buffered.set(sum(len(ln.buffer) for ln in self.lanes.values()))
        if len(lane.unflushed) >= FLUSH_EVERY or (
                lane.unflushed and time.monotonic() - lane.first_unflushed >= FLUSH_SECONDS):
            lane.flush()
            await self.send_marker(lane)
        elif event.key == TICK_KEY:
            await self.send_marker(lane)
        return lane.acks.pop_ackable()

    async def send_marker(self, lane: Lane) -> None:
        """With several lanes: tell the incident grouper how far this lane has got."""
        if lane.lanes > 1 and lane.last is not None:
            marker = lane.processor.marker(*lane.last)
            await self.ctx.lanes.send(key=str(lane.part).encode(), value=encode(marker))

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

    def _run_detector(self, lane: Lane, ces: list[CountEvent]) -> tuple[list[Alert], list[Incident]]:
        proc = lane.processor
        late_before = proc.late_events
        alerts = proc.process_item(ces)
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

    async def detect(self, lane: Lane, event: Any, ces: list[CountEvent]) -> None:
        t0 = time.perf_counter()
        self.metrics.items_in.labels(stage=STAGE).inc()
        try:
            alerts, incidents = self._run_detector(lane, ces)
        except Exception as exc:  # noqa: BLE001
            await send_dead_letter(self.ctx.deadletter, self.metrics, STAGE, "detector_error", repr(exc),
                                   event.value, event)
            return
        lane.last = (ces[0].published_at, ces[0].item_id)
        for outcome in lane.processor.take_outcomes():
            await self.ctx.lanes.send(key=str(lane.part).encode(), value=encode(outcome))
        if (alerts and lane.lanes == 1) or incidents:
            # an alert goes out only once the state that raised it is in the table: a revocation drops buffered
            # state and re-delivers its events, which would raise the same alert again; these find it counted
            lane.flush()
        if alerts and lane.lanes == 1:
            await self.outputs.emit(alerts, event)
        if incidents:
            await self.outputs.emit_incidents(incidents, event)
        self.metrics.items_out.labels(stage=STAGE).inc()
        self.metrics.processing_seconds.labels(stage=STAGE).observe(time.perf_counter() - t0)
        self.metrics.last_item_timestamp.labels(stage=STAGE).set(time.time())


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
    if settings.counts_partitions > 1:
        from processors.spikes.grouper import register_grouper
        register_grouper(ctx)

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
