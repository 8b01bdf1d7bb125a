"""Handled-only offset commits: consumes the acks Faust's consumer receives, produces offset commits only up to messages
that every agent watching their topic handled.

Two Faust behaviours let an offset be committed past a message no agent handled:
- a stream acks, without handing it on, every event it sees while flow control is suspended or whose consumer
  generation is stale (a rebalance or a stop in progress);
- the commit's head-gap check (`min(acked) - committed > 1`) lets a gap of exactly one message at the head through.
A refused ack costs nothing but a re-delivery after the next assignment or restart: sinks are idempotent. Offsets that
were handled but whose acks a revoke dropped (Faust clears a partition's acks on revoke) are remembered here, so a
retained partition's head is not held for them.

A message Faust's fetcher passes over on its way to the streams (its read offset runs ahead of a seek when a batch
fetched before a rebalance lands after it) is never handed on, and its partition's commit is held at it for good:
`rewind_skipped` finds such heads, seen twice in one generation, and seeks their partitions back to them."""
from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from typing import Any, Callable, Iterable

log = logging.getLogger(__name__)


def head_is_acked(committed: int | None, acked: Iterable[int]) -> bool:
    """May the offsets acked on a partition be committed from `committed` (the next offset to read) on?
    False when the message at `committed` is not acked yet. With no committed offset known, Faust decides."""
    offsets = list(acked)
    return committed is None or not offsets or min(offsets) <= committed


def restorable(committed: int, acked: Iterable[int], done: set[int]) -> list[int]:
    """The offsets from `committed` up to the first acked one, when every one of them was handled (their acks were
    dropped by a revoke before they reached a commit); [] when any of them was not."""
    gap = range(committed, min(acked))
    return list(gap) if all(o in done for o in gap) else []


def skipped(committed: int | None, acked: Iterable[int], read: int | None, holding: set[int]) -> bool:
    """Was the message at `committed` (the next offset to commit) passed over? True when the consumer read a later
    offset while that one is neither acked nor held (handled, tracked by a stream, queued for one). Later acked
    offsets alone do not tell: right after a seek they are there while the head is still on its way."""
    if committed is None or read is None or read <= committed or committed in holding:
        return False
    return committed not in set(acked)


def holding(consumer: Any, app: Any) -> dict[Any, set[int]]:
    """Per partition, the offsets of the messages a stream tracks unacked or a channel queue holds."""
    out: dict[Any, set[int]] = defaultdict(set)
    for message in list(consumer._unacked_messages):
        out[message.tp].add(message.offset)
    for channels in list(app.topics._topic_name_index.values()):
        for channel in list(channels):
            for event in list(getattr(getattr(channel, "_queue", None), "_queue", ())):
                message = getattr(event, "message", None)
                if message is not None:
                    out[message.tp].add(message.offset)
    return out


def topic_names(channel: Any) -> tuple[str, ...]:
    """The topic names a Faust topic (or an agent's stream over one) reads."""
    channel = getattr(channel, "channel", channel)
    return tuple(getattr(channel, "topics", ()) or ())


class HandledAcks:
    """`acks.watch(topic, "agent")` at registration; in the agent, `acks.install(app.consumer)` once it runs, then
    `await acks.ack(stream, event)` after handling. Acks reaching the consumer any other way are refused."""

    def __init__(self) -> None:
        self.watchers: dict[str, set[str]] = defaultdict(set)
        self.handled: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self.done: dict[Any, set[int]] = defaultdict(set)   # per partition: offsets handled, not yet committed
        self.refused = 0
        self.held = 0
        self.consumer: Any = None
        self.suspects: dict[Any, tuple[int, int]] = {}   # partition: (generation, head offset) seen passed over
        self.rewound = 0

    def watch(self, topic: Any, agent: str) -> None:
        for name in topic_names(topic):
            self.watchers[name].add(agent)

    async def ack(self, stream: Any, event: Any) -> None:
        message = event.message
        self.handled[message] = self.handled.get(message, 0) + 1
        await stream.ack(event)

    def allows(self, message: Any) -> bool:
        """Every agent watching the message's topic handled it (or nobody watches that topic)."""
        needed = len(self.watchers.get(getattr(message, "topic", None), ()))
        return self.handled.get(message, 0) >= needed

    def install(self, consumer: Any) -> None:
        """Wrap the consumer's `ack` and `_new_offset`; idempotent per consumer."""
        if consumer is None or self.consumer is consumer:
            return
        self.consumer = consumer
        consumer.ack = self._guard_ack(consumer, consumer.ack)
        consumer._new_offset = self._guard_offset(consumer, consumer._new_offset)

    def _guard_ack(self, consumer: Any, original: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def ack(message: Any) -> bool:
            if self.allows(message):
                self.done[message.tp].add(message.offset)
                return original(message)
            self.refused += 1
            consumer._unacked_messages.discard(message)    # not waited for at a rebalance: it is re-delivered
            if power_of_two(self.refused):
                log.info("ack refused for unhandled %s@%s (%d refused so far)", message.tp, message.offset,
                         self.refused)
            return False
        return ack

    def _guard_offset(self, consumer: Any, original: Callable[[Any], int | None]) -> Callable[[Any], int | None]:
        def new_offset(tp: Any) -> int | None:
            committed, acked = consumer._committed_offset.get(tp), consumer._acked.get(tp, [])
            if committed is not None:
                self.done[tp] = {o for o in self.done.get(tp, ()) if o >= committed}
            if not consumer._gap.get(tp) and not head_is_acked(committed, acked):
                handled = restorable(committed, acked, self.done[tp])
                if handled:
                    acked.extend(handled)     # handled before a revoke cleared their acks: committable again
                    return original(tp)
                self.held += 1
                if power_of_two(self.held):
                    log.info("commit of %s held: offset %s not acked yet (%d held so far)", tp,
                             consumer._committed_offset.get(tp), self.held)
                return None
            return original(tp)
        return new_offset

    def passed_over(self, app: Any) -> dict[Any, int]:
        """Watched, assigned partitions whose head was passed over: {partition: head offset}. None while the
        consumer is not running freely (a rebalance in progress suspends the flow and clears the queues)."""
        consumer = self.consumer
        if consumer is None or not consumer.flow_active or not app.flow_control.is_active() or app.rebalancing:
            return {}
        held, out = holding(consumer, app), {}
        for tp in consumer.assignment():
            if tp.topic not in self.watchers:
                continue
            committed = consumer._committed_offset.get(tp)
            if skipped(committed, consumer._acked.get(tp, ()), consumer._read_offset.get(tp),
                       held.get(tp, set()) | self.done.get(tp, set())):
                out[tp] = committed
        return out

    async def rewind_skipped(self, app: Any) -> list[Any]:
        """Seek back to its head each partition whose head was passed over on two checks running in the same
        generation (one check could catch a message between the fetcher and the queues); returns those partitions."""
        found, generation = self.passed_over(app), app.consumer_generation_id
        confirmed = [tp for tp, head in found.items() if self.suspects.get(tp) == (generation, head)]
        self.suspects = {tp: (generation, head) for tp, head in found.items() if tp not in confirmed}
        for tp in confirmed:
            head, read = found[tp], self.consumer._read_offset.get(tp)
            await self.consumer.seek_wait({tp: head})
            self.rewound += 1
            log.warning("%s@%s was passed over unhandled (read up to %s): sought back to it (%d rewinds so far)",
                        tp, head, read, self.rewound)
        return confirmed


def power_of_two(n: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th... occurrence: rare events stay visible, a burst at a rebalance does not flood."""
    return n > 0 and n & (n - 1) == 0
