"""Event-time reordering for the spike detector: consumes (lane, event time, item) triples from several input
partitions ("lanes") that each advance at their own pace, produces the items in event-time order once every
active lane has passed them. Pure code (the wall clock is injected).

Why: the detector decides on event-time buckets. When news.enriched is consumed partition by partition (a fast
replay, a backfill, a worker catching up), one partition can run hours of event time ahead of another; fed in
arrival order, the detector would see the lagging partitions' items as late (or drop them) and fire or resolve
on half-filled buckets. The watermark is the minimum over lanes of the newest event time each lane has
delivered (the usual low-watermark of stream processors). A lane that has delivered nothing for `idle_seconds`
of wall time stops holding it back (an idle partition must not stall the detector), but only while the reader is
caught up with its own input: a reader working through a backlog cannot tell a silent lane from one whose items
are further down the backlog. Nor is a lane idle while its upstream partition holds input not yet processed (a
worker killed, not yet replaced): the caller passes those lanes as `busy`."""
from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Callable, Dict, Hashable, Iterable, List, Tuple


@dataclass
class _Lane:
    newest: float = -math.inf       # newest event time delivered by this lane
    last_seen: float = 0.0          # wall-clock time of its last delivery (or of the lane's creation)


@dataclass
class EventTimeReorderer:
    """Buffer items until the low watermark over active lanes passes their event time, then release in order."""

    idle_seconds: float = 20.0
    clock: Callable[[], float] = time.monotonic
    lanes: Dict[Hashable, _Lane] = field(default_factory=dict)
    _heap: List[Tuple[float, str, int, Any]] = field(default_factory=list)
    _seq: Any = field(default_factory=itertools.count)

    def expect(self, lanes: Iterable[Hashable]) -> None:
        """Declare lanes that exist even before they deliver (the input topic's partitions): each holds the
        watermark back until it delivers or stays idle for `idle_seconds`."""
        now = self.clock()
        for lane in lanes:
            self.lanes.setdefault(lane, _Lane(last_seen=now))

    def push(self, lane: Hashable, event_time: float, item: Any, tiebreak: str = "") -> None:
        """Hold `item`; items of equal event time come out by `tiebreak` (e.g. the item id, as a backtest orders
        them), then in arrival order."""
        st = self.lanes.get(lane)
        if st is None:
            st = self.lanes[lane] = _Lane()
        st.newest = max(st.newest, event_time)
        st.last_seen = self.clock()
        heapq.heappush(self._heap, (event_time, tiebreak, next(self._seq), item))

    def watermark(self, caught_up: bool = True, busy: AbstractSet[Hashable] = frozenset()) -> float:
        """Lowest newest-event-time over the lanes that are not idle (+inf when every lane is idle); with
        `caught_up=False` (the reader has a backlog) no lane counts as idle, and a lane in `busy` (input waiting
        upstream of it) never does."""
        now = self.clock()
        active = [st.newest for lane, st in self.lanes.items()
                  if not caught_up or lane in busy or now - st.last_seen <= self.idle_seconds]
        return min(active) if active else math.inf

    def idle_lanes(self, caught_up: bool = True, busy: AbstractSet[Hashable] = frozenset()) -> List[Hashable]:
        """The lanes not holding the watermark back now for being idle."""
        if not caught_up:
            return []
        now = self.clock()
        return [lane for lane, st in self.lanes.items()
                if lane not in busy and now - st.last_seen > self.idle_seconds]

    def pop_ready(self, caught_up: bool = True, busy: AbstractSet[Hashable] = frozenset()) -> List[Any]:
        """Items whose event time is at or below the watermark, oldest first (ties by tiebreak, then arrival)."""
        wm = self.watermark(caught_up, busy)
        out: List[Any] = []
        while self._heap and self._heap[0][0] <= wm:
            out.append(heapq.heappop(self._heap)[3])
        return out

    def __len__(self) -> int:
        return len(self._heap)


class OffsetOrderedAcks:
    """Acknowledgements in offset order for one partition: consumes (offset, event) as received and `done(offset)`
    in any order, produces the events that may be acknowledged now (the done prefix, lowest offset first). Held
    events are finished out of offset order; acknowledging only the done prefix keeps the committed offset below
    every unfinished event, whatever the consumer's own gap handling does. An offset delivered again (the consumer
    seeks back after a restart or rebalance) is tracked once."""

    def __init__(self) -> None:
        self._heap: List[List[Any]] = []            # [offset, event, done, copies], a min-heap on offset
        self._by_offset: Dict[int, List[Any]] = {}

    def add(self, offset: int, event: Any) -> bool:
        """Track a received event; False when its offset is already tracked (a re-delivery: the copy is released
        for acknowledgement together with the first delivery, and needs no handling of its own)."""
        known = self._by_offset.get(offset)
        if known is not None:
            known[3].append(event)
            return False
        entry = [offset, event, False, []]
        heapq.heappush(self._heap, entry)
        self._by_offset[offset] = entry
        return True

    def done(self, offset: int) -> None:
        entry = self._by_offset.get(offset)
        if entry is not None:
            entry[2] = True

    def pop_ackable(self) -> List[Any]:
        out: List[Any] = []
        while self._heap and self._heap[0][2]:
            offset, event, _, copies = heapq.heappop(self._heap)
            del self._by_offset[offset]
            out.append(event)
            out.extend(copies)
        return out

    def __len__(self) -> int:
        return len(self._heap)
