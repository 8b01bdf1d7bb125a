"""InSequence: a partition's messages reach Faust's delivery loop only in offset sequence from its last seek; one
ahead of the sequence is dropped and its partition sought back; offsets gone from the log are skipped once the log
says so. Against a stand-in for the consumer methods it wraps, and a check that Faust's consumer has them."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from faust.types import TP

from streams.fetch import InSequence, admit

RAW = TP("news.raw", 0)
CHANGELOG = TP("app-spike-state-changelog", 0)


class Message:
    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.offset = tp, offset


class Consumer:
    def __init__(self, batches: list[list[tuple[TP, int]]], committed: dict[TP, int | None],
                 log_start: int = 0) -> None:
        self.batches, self.committed, self.log_start = batches, committed, log_start
        self.sought: list[dict[TP, int]] = []

    async def getmany(self, timeout: float) -> AsyncIterator[Any]:
        for tp, offset in self.batches.pop(0) if self.batches else []:
            yield tp, Message(tp, offset)

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.sought.append(dict(partitions))

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self.log_start for tp in partitions}


def delivered(consumer: Consumer, rounds: int) -> list[tuple[str, int]]:
    async def run() -> list[tuple[str, int]]:
        out = []
        for _ in range(rounds):
            async for tp, message in consumer.getmany(timeout=1.0):
                out.append((tp.topic, message.offset))
        return out
    return asyncio.run(run())


def guarded(consumer: Consumer) -> InSequence:
    seq = InSequence(["news.raw"])
    seq.install(consumer)
    seq.install(consumer)                               # idempotent
    asyncio.run(consumer.seek_to_committed())          # what Faust's perform_seek calls at an assignment
    return seq


def test_admit() -> None:
    assert admit(None, 7) and admit(7, 7) and admit(7, 3)
    assert not admit(7, 8)


def test_a_batch_fetched_before_the_seek_is_dropped_and_the_partition_sought_back() -> None:
    # committed 24; a batch from the old fetch position (500...) lands after the seek, then the re-fetch from 24
    consumer = Consumer([[(RAW, 500), (RAW, 501)], [(RAW, 24), (RAW, 25)]], {RAW: 24})
    seq = guarded(consumer)
    assert delivered(consumer, 2) == [("news.raw", 24), ("news.raw", 25)]
    assert seq.dropped == 2
    assert consumer.sought == []          # the assignment's own seek to 24 is under way: no second one


def test_a_partition_never_committed_starts_at_zero() -> None:
    consumer = Consumer([[(RAW, 300)], [(RAW, 0), (RAW, 1)]], {RAW: None})
    seq = guarded(consumer)
    assert delivered(consumer, 2) == [("news.raw", 0), ("news.raw", 1)]
    assert consumer.sought == [{RAW: 0}] and seq.expected[RAW] == 2


def test_offsets_gone_from_the_log_are_skipped_once_the_log_says_so() -> None:
    consumer = Consumer([[(RAW, 900)], [(RAW, 900), (RAW, 901)]], {RAW: None}, log_start=900)
    guarded(consumer)
    assert delivered(consumer, 2) == [("news.raw", 900), ("news.raw", 901)]
    assert consumer.sought == [{RAW: 900}]


def test_re_deliveries_and_unwatched_topics_pass() -> None:
    consumer = Consumer([[(RAW, 24), (RAW, 25), (RAW, 24), (CHANGELOG, 7000)]], {RAW: 24, CHANGELOG: None})
    guarded(consumer)
    assert delivered(consumer, 1) == [("news.raw", 24), ("news.raw", 25), ("news.raw", 24),
                                      ("app-spike-state-changelog", 7000)]


def test_faust_s_kafka_consumer_has_what_is_wrapped() -> None:
    from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
    for name in ("getmany", "seek_to_committed", "seek_wait", "earliest_offsets"):
        assert callable(getattr(FaustConsumer, name, None)), name
    import inspect
    from faust.transport.consumer import Consumer as BaseConsumer
    assert "self.getmany" in inspect.getsource(BaseConsumer._drain_messages)       # looked up on the instance
    assert "self.seek_to_committed()" in inspect.getsource(BaseConsumer.perform_seek)
