"""Incident grouper agent (detector with several lanes): consumes the LaneOutcomes and progress markers of every
detector lane on news.lanes, merges them in event-time order (merge.py) and produces the Alerts, stamped with their
incident, on `alerts` + alerts index and the Incident revisions on `incidents` + incidents index. Its state (the
open incidents, how far each lane has got) is a one-partition Faust table."""
from __future__ import annotations

import logging
from typing import Any

import faust

from streams.codec import decode
from streams.deadletter import send_dead_letter
from streams.records import LaneOutcome
from streams.stage import StageContext

from processors.spikes.merge import LaneMerge, position
from processors.spikes.outputs import AlertOutputs
from processors.spikes.reorder import OffsetOrderedAcks

log = logging.getLogger(__name__)
STAGE = "incidents"


class Grouping:
    """The grouper apart from its Faust wiring: outcomes are held (un-acked) until the merge releases them."""

    def __init__(self, ctx: StageContext, table: Any) -> None:
        from processors.spikes.processor import SpikeProcessor
        s = ctx.settings
        self.ctx, self.table = ctx, table
        tracker = SpikeProcessor({}, bucket_seconds=s.bucket_seconds, kibana_url=s.kibana_url,
                                 news_index=f"{s.index_prefix}-news").tracker(table)
        self.merge = LaneMerge(s.counts_partitions, table, tracker)
        self.outputs = AlertOutputs(ctx, STAGE)
        self.acks = OffsetOrderedAcks()
        self.pending: dict[Any, list[int]] = {}     # held outcome -> offsets of its deliveries

    def revoke(self) -> None:
        """Held outcomes come again to the partition's next owner."""
        self.merge.held.clear()
        self.pending.clear()
        self.acks = OffsetOrderedAcks()

    async def on_event(self, event: Any) -> list[Any]:
        """Take one news.lanes message; emit what it releases; return the events now safe to ack."""
        offset = event.message.offset
        if not self.acks.add(offset, event):
            return []
        try:
            outcome = decode(LaneOutcome, event.value)
            position(outcome)
        except Exception as exc:  # noqa: BLE001 - a bad record never stops the grouper
            await send_dead_letter(self.ctx.deadletter, self.ctx.metrics, STAGE, "bad_record", repr(exc),
                                   event.value, event)
            self.acks.done(offset)
            return self.acks.pop_ackable()
        if not outcome.marker:
            self.pending.setdefault((position(outcome), outcome.lane), []).append(offset)
        else:
            self.acks.done(offset)
        for alerts, incidents in self.merge.add(outcome):
            if alerts:
                await self.outputs.emit(alerts, event)
            if incidents:
                await self.outputs.emit_incidents(incidents, event)
        for key in [k for k in self.pending if k not in self.merge.held]:
            for off in self.pending.pop(key):
                self.acks.done(off)
        return self.acks.pop_ackable()


def register_grouper(ctx: StageContext) -> Any:
    app = ctx.app
    table = app.Table("incident-merge", default=None, partitions=1,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))
    grouping = Grouping(ctx, table)
    lanes_topics = set(getattr(ctx.lanes, "topics", ()) or ())

    @app.on_partitions_revoked.connect
    async def drop_held(sender: Any, revoked: Any, **kwargs: Any) -> None:
        if any(tp.topic in lanes_topics for tp in revoked):
            grouping.revoke()

    ctx.acks.watch(ctx.lanes, "group_incidents")

    @app.agent(ctx.lanes, name="group_incidents")
    async def group_incidents(stream: Any) -> None:
        s = stream.noack()   # an outcome is acked once the merge has released it and its alerts are written
        ctx.acks.install(app.consumer)
        async for event in s.events():
            for ready in await grouping.on_event(event):
                await ctx.acks.ack(s, ready)

    return group_incidents
