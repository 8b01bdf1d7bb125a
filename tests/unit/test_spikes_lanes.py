"""Detector lanes tests: consumes synthetic tagged streams split over N lanes, asserts that the merged alerts and
incidents equal one processor's, whatever the lanes' interleaving, re-sends and restarts (no I/O)."""
from __future__ import annotations

import json
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from spikes_streams import T0, by_time, stream, surge  # noqa: E402

from processors.spikes.backtest import alert_dict, lane_events, replay, replay_lanes  # noqa: E402
from processors.spikes.keys import VOLUME_KEY, counts_partition, item_counts, split_counts  # noqa: E402
from processors.spikes.merge import LaneMerge  # noqa: E402
from processors.spikes.processor import SpikeProcessor  # noqa: E402
from streams.codec import decode, encode  # noqa: E402
from streams.records import EnrichedItem, LaneOutcome  # noqa: E402

START = T0 + timedelta(days=9, hours=14)
END = START + timedelta(hours=12)


@pytest.fixture(scope="module")
def items() -> List[EnrichedItem]:
    history = stream(days=9, per_hour=20, seed=11)
    return by_time(history + surge(START, n=30, minutes=40)
                   + surge(START + timedelta(minutes=5), n=30, minutes=40, topic="topic:culture", region="region:de",
                           first_id=40_000_000))


def reference(items: List[EnrichedItem]) -> Tuple[List[dict], List[bytes]]:
    proc = SpikeProcessor({})
    incidents: list = []
    alerts = replay(items, proc, final_tick=False, incidents=incidents) + proc.tick(END)
    return [alert_dict(a) for a in alerts], [encode(i) for i in incidents + proc.take_incidents()]


def test_keys_are_shared_among_lanes_and_the_volume_goes_to_every_lane(items: List[EnrichedItem]) -> None:
    counts = item_counts(items[0])
    parts = split_counts(counts, 3)
    assert [p for p, _ in parts] == [0, 1, 2]
    assert all(c.keys[0].key == VOLUME_KEY for _, c in parts)
    owned = [kc.key for _, c in parts for kc in c.keys if kc.key != VOLUME_KEY]
    assert sorted(owned) == sorted(kc.key for kc in counts.keys if kc.key != VOLUME_KEY)
    assert all(counts_partition(kc.key, 3) == p for p, c in parts for kc in c.keys if kc.key != VOLUME_KEY)
    assert split_counts(counts, 1) == [(0, counts)]


@pytest.mark.parametrize("lanes", [2, 3])
def test_lanes_give_the_alerts_and_incidents_of_one_processor(items: List[EnrichedItem], lanes: int) -> None:
    ref_alerts, ref_incidents = reference(items)
    assert sum(a["state"] == "firing" for a in ref_alerts) >= 4 and len({a["incident_id"] for a in ref_alerts}) == 2
    incidents: list = []
    alerts = replay_lanes(items, lanes, lambda p: SpikeProcessor({}, lane=(p, lanes)), incidents=incidents)
    ref_alerts, ref_incidents = [], []
    ref_alerts = [alert_dict(a) for a in replay(items, SpikeProcessor({}), incidents=ref_incidents)]
    assert [alert_dict(a) for a in alerts] == ref_alerts
    assert [encode(i) for i in incidents] == [encode(i) for i in ref_incidents]


def lane_logs(items: List[EnrichedItem], lanes: int) -> List[List[bytes]]:
    """Each lane's outcomes and markers on the wire, as a lane run on its own would send them."""
    procs = [SpikeProcessor({}, lane=(p, lanes)) for p in range(lanes)]
    logs: List[List[bytes]] = [[] for _ in range(lanes)]
    for it in items:
        for p, events in enumerate(lane_events(it, lanes)):
            procs[p].process_item(events)
            logs[p] += [encode(o) for o in procs[p].take_outcomes()]
            if random.Random(it.id).random() < 0.2:   # markers now and then, as a lane's flushes send them
                logs[p].append(encode(procs[p].marker(it.published_at, it.id)))
    for p, proc in enumerate(procs):
        proc.tick(END)
        logs[p] += [encode(o) for o in proc.take_outcomes()] + [encode(proc.marker(END.isoformat(), "~"))]
    return logs


def merged(logs: List[List[bytes]], seed: int, resend: float) -> Tuple[List[dict], List[bytes]]:
    """Feed the lanes' messages to one LaneMerge in a random interleaving, re-sending some of them."""
    rng = random.Random(seed)
    merge = LaneMerge(len(logs), {}, SpikeProcessor({}).tracker({}))
    pos = [0] * len(logs)
    alerts, incidents = [], []
    while any(p < len(log) for p, log in zip(pos, logs)):
        lane = rng.choice([i for i, log in enumerate(logs) if pos[i] < len(log)])
        msg = logs[lane][pos[lane]]
        pos[lane] += 1
        for again in ([msg, msg] if rng.random() < resend else [msg]):
            for released, records in merge.add(decode(LaneOutcome, again)):
                alerts += [alert_dict(a) for a in released]
                incidents += [encode(i) for i in records]
    return alerts, incidents


def test_the_merge_does_not_depend_on_how_the_lanes_interleave(items: List[EnrichedItem]) -> None:
    ref_alerts, ref_incidents = reference(items)
    logs = lane_logs(items, 3)
    for seed in (1, 2, 3):
        alerts, incidents = merged(logs, seed, resend=0.2)
        assert alerts == ref_alerts
        assert incidents == ref_incidents


def test_the_merge_waits_for_every_lane(items: List[EnrichedItem]) -> None:
    logs = lane_logs(items, 3)
    merge = LaneMerge(3, {}, SpikeProcessor({}).tracker({}))
    out = [r for msg in logs[0] + logs[1] for r in merge.add(decode(LaneOutcome, msg))]
    assert out == []                       # lane 2 has said nothing yet: nothing can be grouped
    out = [r for msg in logs[2] for r in merge.add(decode(LaneOutcome, msg))]
    assert sum(len(a) for a, _ in out) == len(reference(items)[0])


def test_a_lane_restarted_from_older_state_changes_nothing(items: List[EnrichedItem]) -> None:
    ref_alerts, ref_incidents = reference(items)
    lanes = 3
    cut = len(items) - 10                            # near the end of the surges
    state: Dict[int, dict] = {p: {} for p in range(lanes)}
    merge = LaneMerge(lanes, {}, SpikeProcessor({}).tracker({}))
    alerts, incidents = [], []

    def send(proc: SpikeProcessor, at: str, item_id: str) -> None:
        for o in proc.take_outcomes() + [proc.marker(at, item_id)]:
            for released, records in merge.add(decode(LaneOutcome, encode(o))):
                alerts.extend(alert_dict(a) for a in released)
                incidents.extend(encode(i) for i in records)

    def run(p: int, part: List[EnrichedItem], st: dict) -> None:
        proc = SpikeProcessor(st, lane=(p, lanes))
        for it in part:
            proc.process_item(lane_events(it, lanes)[p])
            send(proc, it.published_at, it.id)

    for p in (0, 2):
        run(p, items[:cut], state[p])
    run(1, items[: cut - 40], state[1])
    saved = json.loads(json.dumps(state[1]))
    run(1, items[cut - 40: cut], state[1])           # lane 1 goes on, then loses that state ...
    state[1] = saved
    run(1, items[cut - 40:], state[1])               # ... and starts again before it, sending it all again
    for p in (0, 2):
        run(p, items[cut:], state[p])
    for p in range(lanes):
        proc = SpikeProcessor(state[p], lane=(p, lanes))
        proc.tick(END)
        send(proc, END.isoformat(), "~")
    assert merge.duplicates > 0
    assert alerts == ref_alerts
    assert incidents == ref_incidents
