"""Event-time reordering across input partitions: consumes lanes that advance at different paces, asserts that
items come out in event-time order and that the detector then emits what an in-order run emits (no I/O)."""
from __future__ import annotations

import math
import sys
import zlib
from datetime import timedelta
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).parent))
from spikes_streams import T0, by_time, stream, surge  # noqa: E402

from processors.spikes.keys import count_events  # noqa: E402
from processors.spikes.processor import SpikeProcessor  # noqa: E402
from processors.spikes.reorder import EventTimeReorderer, OffsetOrderedAcks  # noqa: E402
from streams.records import parse_time  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_items_wait_for_the_slowest_lane_then_come_out_in_event_time_order() -> None:
    clock = FakeClock()
    r = EventTimeReorderer(idle_seconds=10, clock=clock)
    r.expect([0, 1])
    r.push(0, 5.0, "a5")
    r.push(0, 9.0, "a9")
    assert r.pop_ready() == []              # lane 1 has delivered nothing yet
    r.push(1, 3.0, "b3")
    assert r.pop_ready() == ["b3"]           # watermark = min(9, 3)
    r.push(1, 7.0, "b7")
    assert r.pop_ready() == ["a5", "b7"]
    assert len(r) == 1 and r.watermark() == 7.0


def test_an_idle_lane_stops_holding_the_watermark_back() -> None:
    clock = FakeClock()
    r = EventTimeReorderer(idle_seconds=10, clock=clock)
    r.expect([0, 1, 2])
    r.push(0, 50.0, "x")
    clock.t += 9
    assert r.pop_ready() == []
    clock.t += 2                             # lanes 1 and 2: nothing for 11 s
    assert r.pop_ready() == ["x"]
    clock.t += 11                            # every lane idle: everything is released
    r2 = EventTimeReorderer(idle_seconds=10, clock=clock)
    r2.expect([0])
    r2.push(0, 1.0, "p")
    r2.push(0, 0.5, "q")                     # out of order within one lane
    clock.t += 11
    assert r2.watermark() == math.inf
    assert r2.pop_ready() == ["q", "p"]


def test_no_lane_counts_as_idle_while_the_reader_works_through_a_backlog() -> None:
    clock = FakeClock()
    r = EventTimeReorderer(idle_seconds=10, clock=clock)
    r.expect([0, 1])
    r.push(0, 50.0, "x")
    clock.t += 30                            # lane 1 silent for 30 s, but its items may be further down the backlog
    assert r.pop_ready(caught_up=False) == []
    r.push(1, 40.0, "y")
    assert r.pop_ready(caught_up=False) == ["y"]
    clock.t += 30
    assert r.pop_ready(caught_up=True) == ["x"]


def test_a_lane_with_input_waiting_upstream_is_never_idle() -> None:
    # a worker killed mid-stream: its lane falls silent while its news.raw partition fills up; releasing the other
    # lanes past it would make its items late (or too late) once a new owner catches up
    clock = FakeClock()
    r = EventTimeReorderer(idle_seconds=10, clock=clock)
    r.expect([0, 1])
    r.push(0, 50.0, "x")
    r.push(1, 20.0, "y")
    assert r.pop_ready() == ["y"]
    clock.t += 60
    assert r.pop_ready(caught_up=True, busy={1}) == []
    assert r.idle_lanes(caught_up=True, busy={1}) == [0]
    r.push(1, 45.0, "z")
    assert r.pop_ready(caught_up=True, busy={1}) == ["z"]
    clock.t += 60
    assert r.idle_lanes(caught_up=True, busy=set()) == [0, 1]
    assert r.pop_ready(caught_up=True, busy=set()) == ["x"]


def test_a_late_item_behind_the_watermark_is_released_at_once() -> None:
    clock = FakeClock()
    r = EventTimeReorderer(idle_seconds=10, clock=clock)
    r.push("a", 10.0, "a10")
    r.push("b", 12.0, "b12")
    assert r.pop_ready() == ["a10"]
    r.push("b", 4.0, "late")
    assert r.pop_ready() == ["late"]


def _lanes_out_of_step(events: List[Tuple[int, float, object]], chunk: int) -> List[Tuple[int, float, object]]:
    """Arrival order of a consumer that drains each partition in chunks (partition 0's chunk, then 1's, ...)."""
    per_lane: dict = {}
    for ev in events:
        per_lane.setdefault(ev[0], []).append(ev)
    out: List[Tuple[int, float, object]] = []
    pos = {lane: 0 for lane in per_lane}
    while any(pos[lane] < len(per_lane[lane]) for lane in per_lane):
        for lane in sorted(per_lane):
            out.extend(per_lane[lane][pos[lane]:pos[lane] + chunk])
            pos[lane] += chunk
    return out


def test_detector_behind_the_reorderer_matches_an_in_order_run() -> None:
    start = T0 + timedelta(days=9, hours=14)
    items = by_time(stream(days=10, per_hour=20, seed=11) + surge(start, n=25, minutes=40))
    # an in-order run (what `backtest archive` does)
    expected = []
    ref = SpikeProcessor({})
    for it in items:
        for ce in count_events(it):
            expected.extend(ref.process(ce))
            expected.extend(ref.tick(parse_time(ce.published_at)))
    assert any(a.key == "region:ru-ce|topic:protest" and a.state == "firing" for a in expected)

    # 4 partitions by item id, drained 150 items at a time per partition: hours of event time out of step
    lanes = 4
    arrivals = [(zlib.crc32(it.id.encode()) % lanes, parse_time(it.published_at).timestamp(), it) for it in items]
    arrived = _lanes_out_of_step(arrivals, chunk=150)
    skew = max(a[1] for a in arrived[:150]) - min(a[1] for a in arrived[150:300])
    assert skew > 6 * 3600                   # beyond the allowed lateness: fed in arrival order, items are dropped

    clock = FakeClock()
    reorder = EventTimeReorderer(idle_seconds=15, clock=clock)
    reorder.expect(range(lanes))
    proc = SpikeProcessor({})
    got = []

    def drain() -> None:
        for it in reorder.pop_ready():
            for ce in count_events(it):
                got.extend(proc.process(ce))
                got.extend(proc.tick(parse_time(ce.published_at)))

    for lane, ts, it in arrived:
        clock.t += 0.01
        reorder.push(lane, ts, it)
        drain()
    clock.t += 16                            # the stream went quiet: every lane idle
    drain()
    assert len(reorder) == 0 and proc.late_events == 0
    assert [(a.alert_id, a.state, a.observed, a.expected, a.window_end) for a in got] == \
        [(a.alert_id, a.state, a.observed, a.expected, a.window_end) for a in expected]


def test_without_reordering_the_same_arrivals_lose_items() -> None:
    # the control for the test above: it shows what the reorderer prevents
    items = by_time(stream(days=4, per_hour=20, seed=3))
    arrivals = [(zlib.crc32(it.id.encode()) % 4, 0.0, it) for it in items]
    proc = SpikeProcessor({})
    for _, _, it in _lanes_out_of_step(arrivals, chunk=150):
        for ce in count_events(it):
            proc.process(ce)
    assert proc.late_events > 0


def test_acks_go_out_in_offset_order_only() -> None:
    acks = OffsetOrderedAcks()
    for off in (10, 11, 12, 13):
        acks.add(off, f"e{off}")
    acks.done(12)
    acks.done(13)
    assert acks.pop_ackable() == []          # 10 and 11 are still held: nothing may be committed past them
    acks.done(10)
    assert acks.pop_ackable() == ["e10"]
    acks.done(11)
    assert acks.pop_ackable() == ["e11", "e12", "e13"]
    assert len(acks) == 0
    acks.done(99)                            # unknown offsets are ignored
    assert acks.pop_ackable() == []


def test_a_redelivered_offset_is_tracked_once_and_kept_in_offset_order() -> None:
    acks = OffsetOrderedAcks()
    assert acks.add(20, "a20") and acks.add(21, "a21")
    assert acks.add(20, "again20") is False  # the consumer sought back: the first delivery stays the one tracked
    assert acks.add(19, "a19")               # an older offset delivered after newer ones still goes first
    acks.done(20)
    acks.done(21)
    assert acks.pop_ackable() == []
    acks.done(19)
    assert acks.pop_ackable() == ["a19", "a20", "again20", "a21"]   # the copy is acknowledged with the first


def test_equal_event_times_come_out_by_tiebreak_then_arrival() -> None:
    # the backtest orders items of one timestamp by id, and an item's count events as sent: so does the reorderer
    r = EventTimeReorderer(idle_seconds=10, clock=FakeClock())
    r.expect([0, 1])
    r.push(1, 5.0, "item-b/key1", tiebreak="item-b")
    r.push(1, 5.0, "item-b/key2", tiebreak="item-b")
    r.push(0, 5.0, "item-a/key1", tiebreak="item-a")
    r.push(0, 5.0, "item-a/key2", tiebreak="item-a")
    assert r.pop_ready() == ["item-a/key1", "item-a/key2", "item-b/key1", "item-b/key2"]
