"""EventBatches: batches by size and by time, never acks on its own, re-raises the stream's error, stops its pump."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from streams.batches import EventBatches

END = object()


class FakeStream:
    """The part of a Faust stream EventBatches uses: noack(), events(), ack(event)."""

    def __init__(self) -> None:
        self.feed: asyncio.Queue[Any] = asyncio.Queue()
        self.acked: list[Any] = []
        self.pulled: list[Any] = []
        self.noack_calls = 0

    def noack(self) -> FakeStream:
        self.noack_calls += 1
        return self

    async def events(self) -> AsyncIterator[Any]:
        while True:
            ev = await self.feed.get()
            if ev is END:
                return
            if isinstance(ev, Exception):
                raise ev
            self.pulled.append(ev)
            yield ev

    async def ack(self, event: Any) -> bool:
        self.acked.append(event)
        return True


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_full_batches_then_the_rest_after_within() -> None:
    async def go() -> list[list[int]]:
        s = FakeStream()
        for i in range(7):
            s.feed.put_nowait(i)
        async with EventBatches(s, 3, 0.05) as b:
            out = [await b.next(), await b.next(), await b.next()]
        assert s.noack_calls == 1
        return out
    assert run(go()) == [[0, 1, 2], [3, 4, 5], [6]]


def test_an_idle_stream_still_yields_its_partial_batch() -> None:
    async def go() -> tuple[list[int], float]:
        s = FakeStream()
        async with EventBatches(s, 100, 0.1) as b:
            s.feed.put_nowait("a")
            t0 = asyncio.get_running_loop().time()
            batch = await b.next()
            return batch, asyncio.get_running_loop().time() - t0
    batch, took = run(go())
    assert batch == ["a"] and 0.05 <= took < 2.0


def test_nothing_is_acked_but_by_the_caller_even_when_closed_mid_stream() -> None:
    async def go() -> FakeStream:
        s = FakeStream()
        for i in range(10):
            s.feed.put_nowait(i)
        async with EventBatches(s, 4, 0.01) as b:
            events = await b.next()
            await b.ack(events[:2])
        await asyncio.sleep(0.05)
        return s
    s = run(go())
    assert s.acked == [0, 1]          # pulled events (up to 2 batches ahead) stay unacked: re-delivered on restart
    assert len(s.pulled) > 2


def test_the_pump_stops_with_the_block() -> None:
    async def go() -> bool:
        s = FakeStream()
        async with EventBatches(s, 4, 0.01) as b:
            pump = b.pump
        await asyncio.sleep(0)
        return pump is not None and pump.done()
    assert run(go())


def test_end_of_stream_gives_the_rest_then_empty() -> None:
    async def go() -> list[list[int]]:
        s = FakeStream()
        for ev in (1, 2, END):
            s.feed.put_nowait(ev)
        async with EventBatches(s, 10, 5.0) as b:
            return [await b.next(), await b.next()]
    assert run(go()) == [[1, 2], []]


def test_a_stream_error_is_raised_to_the_agent() -> None:
    async def go() -> None:
        s = FakeStream()
        s.feed.put_nowait(ValueError("broken stream"))
        async with EventBatches(s, 10, 0.01) as b:
            await b.next()
    with pytest.raises(ValueError, match="broken stream"):
        run(go())


def test_outside_the_block_is_an_error() -> None:
    async def go() -> None:
        await EventBatches(FakeStream(), 1, 0.0).next()
    with pytest.raises(RuntimeError, match="async with"):
        run(go())


def test_handle_in_batches_acks_a_batch_only_after_it_is_handled() -> None:
    from streams.batches import handle_in_batches

    async def go() -> FakeStream:
        s = FakeStream()
        for ev in (1, 2, 3, 4, 5, END):
            s.feed.put_nowait(ev)
        seen: list[list[int]] = []

        async def handle(events: list[int]) -> None:
            if 5 in events:
                raise RuntimeError("tagger crashed")
            seen.append(list(events))
            assert not set(events) & set(s.acked)     # not acked before handling
        with pytest.raises(RuntimeError, match="tagger crashed"):
            await handle_in_batches(s, 2, 0.05, handle)
        assert seen == [[1, 2], [3, 4]]
        return s
    assert run(go()).acked == [1, 2, 3, 4]           # the failed batch stays unacked: re-delivered
