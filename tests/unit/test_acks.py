"""HandledAcks: acks of unhandled messages refused, acks of handled ones passed on once every watcher handled them, a
one-message gap at the head of a partition's acked offsets never committed."""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.acks import HandledAcks, head_is_acked, restorable, skipped

TOPIC = "news.enriched"
PART = TP(TOPIC, 0)


class Topic:
    topics = (TOPIC,)


class Consumer:
    """The consumer bookkeeping HandledAcks wraps, as Faust's base Consumer keeps it."""

    def __init__(self) -> None:
        self.acked_messages: list[Any] = []
        self._unacked_messages: set[Any] = set()
        self._gap: dict[TP, Any] = defaultdict(list)
        self._committed_offset: dict[TP, int | None] = {}
        self._acked: dict[TP, list[int]] = defaultdict(list)
        self._read_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self.flow_active = True
        self.sought: list[dict[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {PART}

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.sought.append(dict(partitions))
        self._read_offset.update(partitions)

    def ack(self, message: Any) -> bool:
        self.acked_messages.append(message)
        self._acked[message.tp].append(message.offset)
        return True

    def _new_offset(self, tp: TP) -> int | None:
        acked = sorted(self._acked[tp])
        return acked[-1] + 1 if acked else None


class Event:
    def __init__(self, message: Any) -> None:
        self.message = message


class Stream:
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer

    async def ack(self, event: Event) -> bool:
        return self.consumer.ack(event.message)


def message(offset: int, topic: str = TOPIC) -> ConsumerMessage:
    return ConsumerMessage(topic, 0, offset, 0.0, 0, [], None, b"{}", None, 2, 2, TP(topic, 0))


def guarded(*agents: str) -> tuple[HandledAcks, Consumer]:
    acks, consumer = HandledAcks(), Consumer()
    for agent in agents:
        acks.watch(Topic(), agent)
    acks.install(consumer)
    return acks, consumer


def test_an_ack_faust_makes_without_the_agent_is_refused_and_not_waited_for() -> None:
    acks, consumer = guarded("index_news")
    skipped = message(7)
    consumer._unacked_messages.add(skipped)
    assert consumer.ack(skipped) is False
    assert consumer.acked_messages == [] and skipped not in consumer._unacked_messages
    assert acks.refused == 1


def test_a_handled_event_is_acked() -> None:
    acks, consumer = guarded("index_news")
    m = message(3)
    asyncio.run(acks.ack(Stream(consumer), Event(m)))
    assert consumer.acked_messages == [m] and acks.refused == 0


def test_a_topic_two_agents_read_is_acked_only_once_both_handled_it() -> None:
    acks, consumer = guarded("index_news", "count_keys")
    m = message(3)
    assert consumer.ack(m) is False                  # the first stream's ack reached the consumer: refused
    acks.handled[m] = 1
    assert consumer.ack(m) is False                  # one of two handled it
    acks.handled[m] = 2
    assert consumer.ack(m) is True


def test_topics_nobody_watches_pass_through() -> None:
    _, consumer = guarded("index_news")
    m = message(1, topic="surgewatch-spike-state-changelog")
    assert consumer.ack(m) is True


def test_install_is_idempotent_per_consumer() -> None:
    acks, consumer = guarded("index_news")
    acks.install(consumer)
    skipped = message(2)
    consumer.ack(skipped)
    assert acks.refused == 1                         # one wrapper, not two


def test_the_commit_waits_for_the_head_of_the_partition() -> None:
    acks, consumer = guarded("index_news")
    consumer._committed_offset[PART] = 10
    consumer._acked[PART] = [11, 12]                 # 10 is not acked: Faust's own check lets this through
    assert consumer._new_offset(PART) is None and acks.held == 1
    consumer._acked[PART] = [10, 11, 12]
    assert consumer._new_offset(PART) == 13


def test_a_head_handled_before_a_revoke_dropped_its_ack_is_committed() -> None:
    acks, consumer = guarded("index_news")
    for offset in (10, 11):
        asyncio.run(acks.ack(Stream(consumer), Event(message(offset))))
    consumer._acked[PART] = []                       # the revoke cleared them; the partition stays here
    consumer._committed_offset[PART] = 10
    asyncio.run(acks.ack(Stream(consumer), Event(message(12))))
    assert consumer._new_offset(PART) == 13 and acks.held == 0


def test_a_head_never_handled_stays_held_while_later_ones_are_handled() -> None:
    acks, consumer = guarded("index_news")
    consumer._committed_offset[PART] = 10
    asyncio.run(acks.ack(Stream(consumer), Event(message(11))))
    assert consumer._new_offset(PART) is None and acks.held == 1


def test_handled_offsets_below_the_committed_one_are_forgotten() -> None:
    acks, consumer = guarded("index_news")
    for offset in (3, 4, 5):
        asyncio.run(acks.ack(Stream(consumer), Event(message(offset))))
    consumer._committed_offset[PART] = 5
    consumer._new_offset(PART)
    assert acks.done[PART] == {5}


def test_a_known_offset_gap_is_left_to_faust() -> None:
    _, consumer = guarded("index_news")
    consumer._committed_offset[PART] = 10
    consumer._acked[PART] = [12]
    consumer._gap[PART] = [(10, 12)]
    assert consumer._new_offset(PART) == 13


def test_head_is_acked() -> None:
    assert head_is_acked(None, [5])                  # nothing committed known yet: Faust decides
    assert head_is_acked(4, [])
    assert head_is_acked(4, [4, 5])
    assert head_is_acked(4, [3, 5])                  # an old ack below the committed offset
    assert not head_is_acked(4, [5, 6])


def test_restorable() -> None:
    assert restorable(4, [7], {4, 5, 6}) == [4, 5, 6]
    assert restorable(4, [7], {4, 6}) == []          # 5 was never handled


class Queue:
    def __init__(self, *events: Event) -> None:
        self._queue = list(events)


class Channel:
    def __init__(self, *events: Event) -> None:
        self._queue = Queue(*events)


class App:
    """What the skipped-head check reads of Faust's app: flow state, generation, the channels' queues."""

    def __init__(self, *queued: Event) -> None:
        self.rebalancing = False
        self.consumer_generation_id = 3
        self.flow_control = type("Flow", (), {"is_active": lambda _self: True})()
        self.topics = type("Conductor", (), {"_topic_name_index": {TOPIC: {Channel(*queued)}}})()


def test_skipped() -> None:
    assert skipped(10, [11, 12], 12, set())          # read past it, later ones acked, the head nowhere
    assert skipped(10, [], 12, set())                # read past it, nothing acked yet
    assert not skipped(10, [11, 12], 10, set())      # just sought back: the head is on its way
    assert not skipped(10, [11], None, {10})         # a stream holds it (or a queue, or it was handled)
    assert not skipped(10, [10, 11], 11, set())      # acked: the commit goes on
    assert not skipped(10, [], 10, set())            # just sought there: not read past yet
    assert not skipped(None, [11], 11, set())        # nothing committed known: nothing to go back to


def passed_over_setup(*queued: Event) -> tuple[HandledAcks, Consumer, App]:
    acks, consumer = guarded("index_news")
    consumer._committed_offset[PART] = 10
    consumer._read_offset[PART] = 14
    asyncio.run(acks.ack(Stream(consumer), Event(message(11))))
    return acks, consumer, App(*queued)


def test_a_passed_over_head_is_sought_back_once_seen_twice_in_a_generation() -> None:
    acks, consumer, app = passed_over_setup()
    assert asyncio.run(acks.rewind_skipped(app)) == [] and consumer.sought == []     # seen once: a suspect
    assert asyncio.run(acks.rewind_skipped(app)) == [PART]
    assert consumer.sought == [{PART: 10}] and acks.rewound == 1
    assert asyncio.run(acks.rewind_skipped(app)) == []                               # read offset is back at 10


def test_a_new_generation_between_checks_starts_over() -> None:
    acks, consumer, app = passed_over_setup()
    asyncio.run(acks.rewind_skipped(app))
    app.consumer_generation_id += 1
    assert asyncio.run(acks.rewind_skipped(app)) == [] and consumer.sought == []


def test_a_head_still_queued_or_tracked_or_in_a_rebalance_is_left_alone() -> None:
    acks, consumer, app = passed_over_setup(Event(message(10)))
    assert acks.passed_over(app) == {}
    acks, consumer, app = passed_over_setup()
    consumer._unacked_messages.add(message(10))
    assert acks.passed_over(app) == {}
    acks, consumer, app = passed_over_setup()
    assert acks.passed_over(app) == {PART: 10}
    app.rebalancing = True
    assert acks.passed_over(app) == {}


def test_the_guard_wraps_methods_faust_s_kafka_consumer_has() -> None:
    # the fake Consumer above stands in for faust.transport.drivers.aiokafka.Consumer: it must not differ in what the
    # guard wraps
    from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
    for name in ("ack", "_new_offset", "seek_wait", "assignment"):
        assert callable(getattr(FaustConsumer, name, None)), name
    for name in ("_unacked_messages", "_committed_offset", "_acked", "_read_offset", "_gap"):
        assert any(name in getattr(c, "__annotations__", {}) for c in FaustConsumer.__mro__), name
