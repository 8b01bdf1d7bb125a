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
