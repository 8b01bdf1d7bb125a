"""Write-back detector state: consumes processor reads/writes, asserts one table write per changed key per flush and
the same alerts as the processor over a plain dict (no I/O)."""
from __future__ import annotations

from typing import Any, Dict
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from spikes_streams import T0, by_time, stream, surge  # noqa: E402

from processors.spikes.keys import count_events  # noqa: E402
from processors.spikes.processor import SpikeProcessor  # noqa: E402
from processors.spikes.writeback import WriteBack  # noqa: E402


class CountingTable(dict):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_reads_see_buffered_writes_and_flush_writes_each_key_once() -> None:
    table = CountingTable()
    table["old"] = {"v": 0}
    table.writes = 0
    wb = WriteBack(table)
    for i in range(50):
        wb["all"] = {"v": i}
        wb["k"] = {"v": -i}
    assert wb["all"] == {"v": 49} and wb.get("old") == {"v": 0} and wb.get("missing") is None
    assert table.writes == 0 and "all" not in table
    assert sorted(wb) == ["all", "k", "old"] and len(wb) == 3
    assert wb.flush() == 2 and table.writes == 2 and table["all"] == {"v": 49}
    assert wb.flush() == 0 and table.writes == 2
    wb["k"] = {"v": 7}
    wb.discard()
    assert wb["k"] == {"v": -49}        # the table's value again
    del wb["old"]
    assert "old" not in table
    with pytest.raises(KeyError):
        del wb["old"]


def test_processor_over_write_back_emits_the_same_alerts_as_over_a_dict() -> None:
    history = by_time(stream(days=9, per_hour=20, seed=11))
    burst = surge(T0 + timedelta(days=9, hours=14, minutes=2), n=25, minutes=40)
    events = [e for it in by_time(history + burst) for e in count_events(it)]
    plain: Dict[str, Any] = {}
    table = CountingTable()
    wb = WriteBack(table)
    p1, p2 = SpikeProcessor(plain), SpikeProcessor(wb)
    out1, out2 = [], []
    for n, e in enumerate(events):
        out1 += [(x.alert_id, x.state, x.observed, x.incident_id) for x in p1.process(e)]
        out2 += [(x.alert_id, x.state, x.observed, x.incident_id) for x in p2.process(e)]
        if n % 37 == 0:
            wb.flush()
    wb.flush()
    assert out1 and out1 == out2
    assert table == plain
    assert table.writes < len(events) / 2      # hot keys ("all", the meta state) once per flush, not once per event


def test_events_handled_across_a_revocation_are_neither_flushed_nor_acked() -> None:
    import asyncio
    from types import SimpleNamespace

    import processors.spikes.agent as spikes_agent
    from processors.spikes.agent import Detection
    from processors.spikes.keys import item_counts
    from streams.codec import encode
    from streams.config import Settings
    from streams.metrics import Metrics

    settings = Settings(_env_file=None, topic_partitions=2)
    ctx = SimpleNamespace(settings=settings, metrics=Metrics(), incidents=object())
    table = CountingTable()
    det = Detection(ctx, table)
    handle = det.detect

    async def detect_then_revoke(lane: Any, event: Any, ces: Any) -> None:
        await handle(lane, event, ces)
        if event.message.offset == 0:
            det.revoke(0)                   # a rebalance while the first event's sinks were awaited

    det.detect = detect_then_revoke
    items = by_time(stream(days=1, per_hour=4, seed=3))[:3]

    def event(n: int, lane: int) -> Any:
        counts = item_counts(items[n])
        counts.lane = lane
        return SimpleNamespace(key=counts.item_id.encode(), value=encode(counts),
                               message=SimpleNamespace(partition=0, offset=n))

    async def run() -> list:
        # lane 0 delivers two items; lane 1's newer item releases both at once: the revocation comes between them
        return [await det.on_event(event(0, 0), True), await det.on_event(event(1, 0), True),
                await det.on_event(event(2, 1), True)]

    spikes_agent.FLUSH_EVERY, before = 1, spikes_agent.FLUSH_EVERY
    try:
        acked = asyncio.run(run())
    finally:
        spikes_agent.FLUSH_EVERY = before
    assert acked == [[], [], []]                 # nothing acked: every event comes again after the rebalance
    assert table.writes == 0 and 0 not in det.lanes          # nor half of them flushed (the lane is dropped)


def test_an_alert_raised_before_a_revocation_is_not_raised_again_by_its_redelivered_events() -> None:
    """The revocation drops the buffered state and the consumer re-delivers from the committed offset: the events
    that raised an alert find it counted (its state was written before the alert went out) and raise nothing."""
    import asyncio
    from types import SimpleNamespace

    from processors.spikes.agent import Detection
    from processors.spikes.keys import item_counts
    from streams.codec import encode
    from streams.config import Settings
    from streams.metrics import Metrics

    history = by_time(stream(days=9, per_hour=20, seed=11))
    burst = surge(T0 + timedelta(days=9, hours=14, minutes=2), n=25, minutes=40)
    items = by_time(history + burst)
    det = Detection(SimpleNamespace(settings=Settings(_env_file=None, topic_partitions=1), metrics=Metrics(),
                                    incidents=object()), CountingTable())
    fired: list = []

    async def emit(alerts: Any, event: Any) -> None:
        fired.extend(a.alert_id for a in alerts if a.state == "firing")

    async def emit_incidents(incidents: Any, event: Any) -> None:
        return None

    det.outputs = SimpleNamespace(emit=emit, emit_incidents=emit_incidents)

    def event(n: int) -> Any:
        counts = item_counts(items[n])
        counts.lane = 0
        return SimpleNamespace(key=counts.item_id.encode(), value=encode(counts),
                               message=SimpleNamespace(partition=0, offset=n))

    async def run() -> int:
        committed, n, revoked = 0, 0, 0
        while n < len(items):
            before = len(fired)
            acked = await det.on_event(event(n), True)
            committed = max([committed] + [e.message.offset + 1 for e in acked])
            n += 1
            if len(fired) > before and revoked < 3:
                det.revoke(0)               # a rebalance right after the alert went out: its state not yet acked
                revoked += 1
                n = committed               # the partition's next owner starts at the committed offset
        return revoked

    assert asyncio.run(run()) >= 1
    assert fired and len(fired) == len(set(fired)), fired
    plain = SpikeProcessor({})
    expected = [a.alert_id for it in items for a in plain.process_item(count_events(it)) if a.state == "firing"]
    assert fired == expected                      # and none lost
