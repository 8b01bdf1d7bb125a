"""In-sequence fetching: consumes the (partition, message) pairs Faust's consumer fetches, produces them to its
delivery loop only in offset sequence from each partition's last seek; a message ahead of its sequence is dropped and
its partition sought back to the offset it is missing.

Faust's delivery loop drops every message below the partition's read offset, and it runs beside the rebalance: a
batch fetched before a seek to the committed offsets can be delivered after it. Its messages move the read offset
past the seek, the re-fetched ones below it are dropped, and that range reaches the agents only at a later assignment
(or never, for the head a commit is held at): seen after rebalances as news.raw partitions whose head message was
never tagged, and as news.enriched items arriving up to 2,500 hours of event time behind their partition, too late
for the detector. A partition never committed starts at offset 0 (the group reads from the earliest). When the
missing offsets are gone from the log (retention), the sequence resumes where the log now starts."""
from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable, Iterable, Mapping

from streams.acks import power_of_two

log = logging.getLogger(__name__)

RESEEK_SECONDS = 2.0       # a partition still ahead of its sequence this long after a seek is sought again


def admit(expected: int | None, offset: int) -> bool:
    """May a message at `offset` be delivered when its partition's sequence is at `expected`? Not when it is ahead:
    the offsets between are missing. Re-deliveries below it pass (Faust's read offset sorts them)."""
    return expected is None or offset <= expected


class InSequence:
    """`InSequence(topics).install(consumer)` before the consumer's first assignment; idempotent per consumer."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = set(topics)
        self.expected: dict[Any, int] = {}          # partition: the offset its next message must have
        self.sought_at: dict[Any, float] = {}
        self.dropped = 0
        self.consumer: Any = None

    def install(self, consumer: Any) -> None:
        if consumer is None or self.consumer is consumer:
            return
        self.consumer = consumer
        consumer.getmany = self._guard_getmany(consumer.getmany)
        consumer.seek_to_committed = self._guard_seek_to_committed(consumer.seek_to_committed)
        consumer.seek_wait = self._guard_seek_wait(consumer.seek_wait)
        log.info("the consumer delivers %s in offset sequence", ", ".join(sorted(self.topics)))

    def sought(self, offsets: Mapping[Any, int | None]) -> None:
        """Partitions were sought: their sequence starts there (a partition never committed: at 0)."""
        for tp, offset in offsets.items():
            if tp.topic in self.topics:
                self.expected[tp] = offset if offset is not None and offset > 0 else 0

    def passes(self, tp: Any, offset: int) -> bool:
        """Deliver this message? Moves the partition's sequence on when it does."""
        if tp.topic not in self.topics:
            return True
        expected = self.expected.get(tp)
        if not admit(expected, offset):
            return False
        if expected is None or offset >= expected:
            self.expected[tp] = offset + 1
        return True

    def due_seek(self, tp: Any) -> bool:
        return time.monotonic() - self.sought_at.get(tp, float("-inf")) >= RESEEK_SECONDS

    async def drop(self, tp: Any, offset: int) -> None:
        """A message ahead of its sequence: dropped; its partition sought back unless a seek is under way."""
        self.dropped += 1
        expected = self.expected[tp]
        if power_of_two(self.dropped):
            log.info("%s@%s fetched ahead of its sequence (next is %s): dropped, the partition is sought back "
                     "(%d dropped so far)", tp, offset, expected, self.dropped)
        if not self.due_seek(tp):
            return
        start = (await self.consumer.earliest_offsets(tp)).get(tp, 0)
        if start > expected:
            log.warning("%s: offsets %s to %s are not in the log any more; going on from %s", tp, expected,
                        start - 1, start)
            expected = self.expected[tp] = start
        await self.consumer.seek_wait({tp: expected})

    def _guard_getmany(self, original: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def getmany(timeout: float) -> AsyncIterator[Any]:
            async for tp, message in original(timeout=timeout):
                if self.passes(tp, message.offset):
                    yield tp, message
                else:
                    await self.drop(tp, message.offset)
        return getmany

    def _guard_seek_to_committed(self, original: Callable[[], Any]) -> Callable[[], Any]:
        async def seek_to_committed() -> Mapping[Any, int | None]:
            offsets = await original()
            self.sought(offsets)
            now = time.monotonic()
            # the consumer seeks only partitions with a committed offset above 0: the others are sought on demand
            self.sought_at.update({tp: now for tp, offset in offsets.items() if offset})
            return offsets
        return seek_to_committed

    def _guard_seek_wait(self, original: Callable[[Mapping[Any, int]], Any]) -> Callable[[Mapping[Any, int]], Any]:
        async def seek_wait(partitions: Mapping[Any, int]) -> None:
            await original(partitions)
            self.sought(partitions)
            for tp in partitions:
                self.sought_at[tp] = time.monotonic()
        return seek_wait
