"""Spike processor tests: consumes synthetic tagged streams, asserts alert behaviour (no I/O)."""
from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from spikes_streams import T0, by_time, item, stream, surge  # noqa: E402

from processors.spikes.keys import count_events  # noqa: E402
from processors.spikes.processor import META_KEY, DetectorConfig, SpikeProcessor  # noqa: E402
from streams.records import Alert, EnrichedItem, parse_time  # noqa: E402

SURGE_KEY = "region:ru-ce|topic:protest"


def run(items: Sequence[EnrichedItem], proc: SpikeProcessor, dup: bool = False) -> List[Alert]:
    alerts: List[Alert] = []
    for it in items:
        for ev in count_events(it):
            alerts.extend(proc.process(ev))
            if dup:
                alerts.extend(proc.process(ev))
    return alerts


def summary(alerts: Sequence[Alert]) -> List[tuple]:
    return [(a.alert_id, a.key, a.state, a.severity, a.window_start, a.window_end, a.observed, a.expected, a.score,
             [r.id for r in a.top_articles], a.co_tags, a.kibana_url, a.created_at) for a in alerts]


@pytest.fixture(scope="module")
def history() -> List[EnrichedItem]:
    return by_time(stream(days=9, per_hour=20, seed=11))


def test_daily_rhythm_does_not_alert(history: List[EnrichedItem]) -> None:
    proc = SpikeProcessor({})
    alerts = run(history, proc)
    alerts += proc.tick(parse_time(history[-1].published_at) + timedelta(days=1))
    assert alerts == []
    assert proc.late_events == 0


def test_tenfold_volume_growth_does_not_make_keys_alert() -> None:
    items = by_time(stream(days=9, per_hour=12, seed=5, growth=(6, 10.0)))
    proc = SpikeProcessor({})
    alerts = run(items, proc)
    assert len(items) > 8_000
    assert [a.key for a in alerts] == []


def test_clear_surge_fires_early_once_then_resolves(history: List[EnrichedItem]) -> None:
    start = T0 + timedelta(days=9, hours=14)
    quiet_after = by_time(stream(days=10, per_hour=20, seed=11))[len(history):]   # day 9 continues the rhythm
    burst = surge(start + timedelta(minutes=2), n=25, minutes=40)
    items = by_time(history + [i for i in quiet_after if parse_time(i.published_at) < start + timedelta(hours=10)] + burst)
    proc = SpikeProcessor({})
    alerts = run(items, proc)
    alerts += proc.tick(start + timedelta(hours=12))
    mine = [a for a in alerts if a.key == SURGE_KEY]
    firing = [a for a in mine if a.state == "firing"]
    assert len(firing) == 1, summary(mine)
    fire = firing[0]
    bucket_end = start.replace(minute=0) + timedelta(hours=1)
    assert parse_time(fire.created_at) < bucket_end                   # early: before the bucket closes
    assert parse_time(fire.created_at) < start + timedelta(minutes=20)
    assert fire.observed > fire.expected * 3
    assert fire.dimensions == {"region": "ru-ce", "topic": "protest"}
    assert 1 <= len(fire.top_articles) <= 5
    assert len({a.id for a in fire.top_articles}) == len(fire.top_articles)
    assert all(a.id.startswith("it-1000") for a in fire.top_articles)
    assert "id:(" in fire.kibana_url and fire.top_articles[0].id in fire.kibana_url
    assert parse_time(fire.window_start) <= start < parse_time(fire.window_end)
    assert {a.alert_id for a in mine} == {fire.alert_id}              # one surge = one episode
    assert mine[-1].state == "resolved"
    assert [a.state for a in mine].count("resolved") == 1
    assert proc.open_episodes() == []


def test_escalation_then_resolution(history: List[EnrichedItem]) -> None:
    start = T0 + timedelta(days=9, hours=10)
    burst = (surge(start, n=6, minutes=50, first_id=20_000_000)
             + surge(start + timedelta(hours=1), n=30, minutes=50, first_id=21_000_000)
             + surge(start + timedelta(hours=2), n=80, minutes=50, first_id=22_000_000))
    proc = SpikeProcessor({})
    alerts = run(by_time(history + burst), proc)
    alerts += proc.tick(start + timedelta(hours=12))
    mine = [a for a in alerts if a.key == SURGE_KEY]
    states = [a.state for a in mine]
    assert states[0] == "firing" and "escalated" in states and states[-1] == "resolved", summary(mine)
    order = ["low", "medium", "high", "critical"]
    sev = [order.index(a.severity) for a in mine if a.state != "resolved"]
    assert sev == sorted(sev) and sev[-1] > sev[0]
    assert len({a.alert_id for a in mine}) == 1
    resolved = mine[-1]
    assert parse_time(resolved.window_end) >= start + timedelta(hours=3)


def test_duplicate_events_change_nothing(history: List[EnrichedItem]) -> None:
    start = T0 + timedelta(days=9, hours=14)
    items = by_time(history + surge(start, n=25, minutes=40))
    once = run(items, SpikeProcessor({}))
    st: Dict[str, dict] = {}
    proc = SpikeProcessor(st)
    twice = run(items, proc, dup=True)
    assert summary(once) == summary(twice)
    assert proc.duplicate_events == proc.events // 2
    # a syndicated copy (same story id, another item id) does not count either
    copy = item(10_000_000, start, "topic:protest", "region:ru-ce")
    copy.id = "copy-of-it"
    assert run([copy], proc) == []


def test_late_events_are_ignored_and_counted(history: List[EnrichedItem]) -> None:
    st: Dict[str, dict] = {}
    proc = SpikeProcessor(st, allowed_lateness_seconds=6 * 3600)
    run(history, proc)
    before = json.dumps(st, sort_keys=True)
    last = parse_time(history[-1].published_at)
    late = item(99, last - timedelta(hours=9), "topic:protest", "region:ru-ce")
    assert run([late], proc) == []
    assert proc.late_events == len(count_events(late))
    after = json.loads(json.dumps(st, sort_keys=True))
    after[META_KEY]["late"] = json.loads(before)[META_KEY]["late"]
    # the items counter (a lane's sequence number) counts every item handled, late ones too
    assert after[META_KEY]["items"] > json.loads(before)[META_KEY]["items"]
    after[META_KEY]["items"] = json.loads(before)[META_KEY]["items"]
    assert json.dumps(after, sort_keys=True) == before                # counts untouched
    # within lateness: counted
    ok = item(100, last - timedelta(hours=3), "topic:protest", "region:ru-ce")
    run([ok], proc)
    assert proc.late_events == len(count_events(late))


def test_state_round_trip_mid_stream_gives_identical_alerts(history: List[EnrichedItem]) -> None:
    start = T0 + timedelta(days=9, hours=14)
    items = by_time(history + surge(start, n=25, minutes=40)
                    + surge(start + timedelta(hours=1), n=60, minutes=50, first_id=30_000_000))
    end = start + timedelta(hours=12)
    ref_proc = SpikeProcessor({})
    reference = run(items, ref_proc) + ref_proc.tick(end)
    assert any(a.state == "firing" for a in reference)
    cut = next(i for i, it in enumerate(items) if parse_time(it.published_at) >= start + timedelta(minutes=15))
    st: Dict[str, dict] = {}
    first = SpikeProcessor(st)
    got = run(items[:cut], first)
    restored = json.loads(json.dumps(st))
    second = SpikeProcessor(restored)
    got += run(items[cut:], second) + second.tick(end)
    assert summary(got) == summary(reference)


def test_quiet_without_history() -> None:
    items = by_time(surge(T0, n=40, minutes=30))
    assert run(items, SpikeProcessor({})) == []


def test_states_hold_only_json_values(history: List[EnrichedItem]) -> None:
    st: Dict[str, dict] = {}
    run(history[:3000], SpikeProcessor(st, config=DetectorConfig()))
    assert META_KEY in st
    for k, v in st.items():
        assert isinstance(v, dict)
        assert json.loads(json.dumps(v)) == v


def test_an_item_redelivered_with_another_story_id_counts_once(history: List[EnrichedItem]) -> None:
    # after a restart the enrich stage's near-duplicate clusterer starts empty, so an item handled again can come
    # back with a different story id; it must not count as a second story
    start = T0 + timedelta(days=9, hours=14)
    items = by_time(history + surge(start, n=25, minutes=40))
    once = run(items, SpikeProcessor({}))
    proc = SpikeProcessor({})
    again = run(items, proc)
    for it in items[-25:]:
        it.story_id = "re-" + it.id
    again += run(items[-25:], proc)
    assert summary(once) == summary(again)
    assert proc.duplicate_events == sum(len(count_events(it)) for it in items[-25:])


def test_near_duplicate_components_do_not_depend_on_order() -> None:
    from itertools import permutations

    from processors.spikes.processor import _link, stories
    # c bridges a and b (shares a key with each); d is unrelated; e is a copy of d
    items = {"a": ["k1", "k2"], "b": ["k3"], "c": ["k2", "k3"], "d": ["k4"], "e": ["k4", "k5"]}
    from processors.spikes.state import Bucket
    for order in permutations(items):
        bucket = Bucket()
        deltas = [_link(bucket, items[name]) for name in order]
        assert stories(bucket) == 2 == sum(deltas)
        assert Bucket.from_json(json.loads(json.dumps(bucket.to_json()))) == bucket


def test_syndicated_copies_count_once_whatever_their_story_ids(history: List[EnrichedItem]) -> None:
    # copies of each surge story (sharing near-duplicate keys with it and with each other), with story ids of their
    # own (another worker's or a restarted clusterer's), arriving before it: the alerts are those of the originals
    start = T0 + timedelta(days=9, hours=14)
    originals = surge(start, n=25, minutes=40)
    for it in originals:
        it.dup_keys = [f"band0-{it.id}", f"band1-{it.id}", f"band2-{it.id}"]
    copies = []
    for k, it in enumerate(originals):
        for c in range(3):
            copies.append(EnrichedItem(**{**it.asdict(), "id": f"{it.id}-copy{c}", "story_id": f"other-{k}-{c}",
                                          "dup_keys": [f"band{c % 2}-{it.id}", f"band2-{it.id}", f"copy-{it.id}-{c}"]}))
    def order(items: List[EnrichedItem]) -> List[EnrichedItem]:   # copies just before their original
        return sorted(items, key=lambda it: (it.published_at, it.id.split("-copy")[0], "-copy" not in it.id))
    alone = run(order(history + originals), SpikeProcessor({}))
    assert any(a.state == "firing" for a in alone)
    with_copies = run(order(history + originals + copies), SpikeProcessor({}))
    strip = [(a.alert_id, a.key, a.state, a.severity, a.window_start, a.observed, a.expected) for a in alone]
    assert strip == [(a.alert_id, a.key, a.state, a.severity, a.window_start, a.observed, a.expected)
                     for a in with_copies]


def _as_v1(value: dict) -> dict:
    """A state value as version 1 wrote it (one-letter keys), from this version's JSON."""
    def bucket(b: dict) -> dict:
        return {"s": b.get("stories", []), "i": b.get("items", []), "o": b.get("outlets", []),
                "a": b.get("articles", []), "t": b.get("tags", {}), "d": b.get("dup_roots", {}),
                "u": b.get("dup_parent", []), "n": b.get("components", 0)}
    if "watermark" in value:
        return {"v": 1, "wb": value["watermark"], "F": value["final"], "A": value["volume"], "W": value["weight"],
                "hist": value["hist"], "open": value["open"], "late": value["late"]}
    out = {"f": value["first_bucket"], "c": value["count"], "cb": value.get("count_bucket"),
           "p": value.get("dispersion"), "ob": {j: bucket(b) for j, b in value["buckets"].items()}}
    ep = value.get("episode")
    if ep:
        out["ep"] = {"id": ep["id"], "sb": ep["start"], "eb": ep["end"], "last": ep["last"], "q": ep["quiet"],
                     "sev": ep["severity"], "z": ep["z"], "obs": ep["observed"], "exp": ep["expected"]}
        for new, old in (("checked", "chk"), ("articles", "arts"), ("co_tags", "co")):
            if ep[new] is not None:
                out["ep"][old] = ep[new]
    if value.get("cooldown_until") is not None:
        out["cd"] = value["cooldown_until"]
    return out


def test_state_of_version_1_is_read_and_continues_the_same(history: List[EnrichedItem]) -> None:
    from processors.spikes.state import STATE_VERSION, KeyState, Meta, StateVersionError
    start = T0 + timedelta(days=9, hours=14)
    items = by_time(history + surge(start, n=25, minutes=40))
    cut = next(i for i, it in enumerate(items) if parse_time(it.published_at) >= start + timedelta(minutes=25))
    st: Dict[str, dict] = {}
    first = run(items[:cut], SpikeProcessor(st))
    assert any(a.state == "firing" for a in first) and STATE_VERSION == 2
    new = json.loads(json.dumps(st))
    old = json.loads(json.dumps({k: (_as_v1(v) if k != "__incidents__" else v) for k, v in new.items()}))
    assert "ep" in old[SURGE_KEY] and old[META_KEY]["v"] == 1
    from dataclasses import replace   # version 1 had no key labels
    assert KeyState.from_json(old[SURGE_KEY]) == replace(KeyState.from_json(new[SURGE_KEY]), label=None, depth=None)
    end = start + timedelta(hours=12)
    p_new, p_old = SpikeProcessor(new), SpikeProcessor(old)
    assert summary(run(items[cut:], p_new) + p_new.tick(end)) == summary(run(items[cut:], p_old) + p_old.tick(end))
    with pytest.raises(StateVersionError, match="newer"):
        Meta.from_json({**st[META_KEY], "version": STATE_VERSION + 1})


def test_a_surge_does_not_teach_its_key_to_expect_the_next_one() -> None:
    """Small surges of one key a day apart each fire: the buckets of a key's own episode count as expected in its
    baseline and dispersion (they would otherwise raise both until the next surge of the same size stays quiet)."""
    history = stream(days=12, per_hour=6, seed=21)
    starts = [T0 + timedelta(days=8 + d, hours=10) for d in range(4)]
    surges = [surge(s, n=8, minutes=120, topic="topic:culture", region="region:de", first_id=20_000_000 + 1000 * d)
              for d, s in enumerate(starts)]
    alerts = run(by_time(history + [it for s in surges for it in s]), SpikeProcessor({}))
    fired = {parse_time(a.window_start).date() for a in alerts
             if a.key == "region:de|topic:culture" and a.state == "firing"}
    # 3 of the 4 fire (1 of 4 when the baseline learns from the surges)
    assert len(fired) >= 3 and fired <= {s.date() for s in starts}, sorted(fired)
