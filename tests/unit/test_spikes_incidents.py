"""Incident grouping tests: consumes synthetic tagged streams, asserts that one surge is one incident (no I/O)."""
from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from spikes_streams import T0, by_time, stream, surge  # noqa: E402

from processors.spikes.incidents import (INCIDENTS_KEY, IncidentBook, Member, StateVersionError,  # noqa: E402
                                         explained_share, headline)
from processors.spikes.keys import count_events  # noqa: E402
from processors.spikes.processor import SpikeProcessor  # noqa: E402
from streams.codec import decode, encode  # noqa: E402
from streams.records import Alert, EnrichedItem, Incident  # noqa: E402

START = T0 + timedelta(days=9, hours=14)


def run(items: Sequence[EnrichedItem], proc: SpikeProcessor, end: object = None) -> Tuple[List[Alert], List[Incident]]:
    alerts: List[Alert] = []
    for it in items:
        for ev in count_events(it):
            alerts.extend(proc.process(ev))
    if end is not None:
        alerts.extend(proc.tick(end))
    return alerts, proc.take_incidents()


@pytest.fixture(scope="module")
def history() -> List[EnrichedItem]:
    return by_time(stream(days=9, per_hour=20, seed=11))


def two_surges() -> List[EnrichedItem]:
    return (surge(START, n=30, minutes=40)
            + surge(START + timedelta(minutes=5), n=30, minutes=40, topic="topic:culture", region="region:de",
                    first_id=40_000_000))


def test_one_surge_is_one_incident_notified_once(history: List[EnrichedItem]) -> None:
    alerts, incidents = run(by_time(history + surge(START, n=30, minutes=40)), SpikeProcessor({}),
                            START + timedelta(hours=12))
    firing = [a for a in alerts if a.state == "firing"]
    keys = {a.key for a in firing}
    # the region, its ancestors and its combination with the topic all fire ...
    assert {"region:ru-ce", "region:ru-ce|topic:protest", "region:north-caucasus-fd"} <= keys, keys
    # ... and are one incident, notified when it opens, when its severity climbs a tier and when it resolves
    assert len({a.incident_id for a in alerts}) == 1 and all(a.incident_id for a in alerts)
    notes = [i for i in incidents if i.change != "updated"]
    assert notes[0].change == "opened" and notes[-1].change == "resolved"
    escalations = [(i.previous_severity, i.severity) for i in notes[1:-1]]
    order = ["low", "medium", "high", "critical"]
    assert all(i.change == "escalated" and order.index(b) > order.index(a) for i, (a, b) in zip(notes[1:-1], escalations))
    assert len(notes) - 2 <= 3 < len([a for a in alerts if a.state != "resolved"])
    last = incidents[-1]
    assert last.state == "resolved" and {k.key for k in last.keys} == keys
    assert last.headline_key == "region:ru-ce|topic:protest"            # the most specific strong key
    assert last.top_articles and all(a.id.startswith("it-1000") for a in last.top_articles)
    assert [i.revision for i in incidents] == list(range(1, len(incidents) + 1))
    assert decode(Incident, encode(last)).headline_key == last.headline_key


def test_unrelated_surges_at_the_same_time_stay_apart(history: List[EnrichedItem]) -> None:
    alerts, incidents = run(by_time(history + two_surges()), SpikeProcessor({}), START + timedelta(hours=12))
    by_incident: Dict[str, set] = {}
    for a in alerts:
        by_incident.setdefault(a.incident_id or "", set()).add(a.key)
    assert len(by_incident) == 2, by_incident
    for keys in by_incident.values():
        assert not (any("ru-ce" in k for k in keys) and any("region:de" in k for k in keys)), keys
    assert sum(1 for i in incidents if i.change == "opened") == 2


def test_restart_mid_surge_gives_the_same_incidents(history: List[EnrichedItem]) -> None:
    items = by_time(history + two_surges())
    end = START + timedelta(hours=12)
    ref_alerts, ref_inc = run(items, SpikeProcessor({}), end)
    cut = next(i for i, it in enumerate(items) if it.published_at >= (START + timedelta(minutes=25)).isoformat()[:19])
    st: Dict[str, dict] = {}
    a1, i1 = run(items[:cut], SpikeProcessor(st))
    assert any(a.state == "firing" for a in a1)                         # the cut is inside the surge
    restored = json.loads(json.dumps(st))
    a2, i2 = run(items[cut:], SpikeProcessor(restored), end)
    assert [(a.alert_id, a.state, a.incident_id) for a in a1 + a2] == \
        [(a.alert_id, a.state, a.incident_id) for a in ref_alerts]
    assert [encode(i) for i in i1 + i2] == [encode(i) for i in ref_inc]


def test_redelivered_events_change_no_incident(history: List[EnrichedItem]) -> None:
    items = by_time(history + two_surges())
    _, once = run(items, SpikeProcessor({}))
    proc = SpikeProcessor({})
    twice: List[Incident] = []
    for it in items:
        for ev in count_events(it):
            proc.process(ev)
            proc.process(ev)
    twice = proc.take_incidents()
    assert [encode(i) for i in once] == [encode(i) for i in twice]


def test_explained_share_counts_the_excess_only() -> None:
    mine = {f"a{i}" for i in range(20)}
    # 10 of 20 articles shared, half the window is excess (observed 10 vs expected 5): all of it explained
    assert explained_share(mine, {f"a{i}" for i in range(10)}, 10.0, 5.0) == pytest.approx(1.0)
    assert explained_share(mine, {"zz"}, 10.0, 5.0) == 0.0
    assert explained_share(mine, {f"a{i}" for i in range(3)}, 10.0, 0.0) == pytest.approx(0.15)


def test_headline_is_the_most_specific_strong_key() -> None:
    def m(key: str, score: float, expected: float, depth: int) -> Member:
        return Member(key=key, alert_id=key, state="firing", severity="low", observed=9, expected=expected,
                      score=score, window_start="x", window_end="y", first_bucket=0, depth=depth)
    members = [m("region:ru", 9.0, 5.0, 1), m("region:ural-fd", 8.5, 0.5, 2), m("region:ru-sve", 8.0, 0.6, 3),
               m("region:ru-sve|topic:fire", 3.0, 0.01, 4)]
    assert headline(members, 0.6).key == "region:ru-sve"                 # the combination is too weak


def test_incident_state_is_versioned(history: List[EnrichedItem]) -> None:
    st: Dict[str, dict] = {}
    run(by_time(history + surge(START, n=30, minutes=40)), SpikeProcessor(st))
    book = IncidentBook.from_json(st[INCIDENTS_KEY])
    assert book.version == 1 and len(book.open) == 1
    assert IncidentBook.from_json(book.to_json()) == book
    assert IncidentBook.from_json(None).open == []                       # state from before incidents existed
    with pytest.raises(StateVersionError, match="newer"):
        IncidentBook.from_json({**st[INCIDENTS_KEY], "version": 99})
