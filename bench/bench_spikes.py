"""Spike processor benchmark: consumes synthetic CountEvents over 100k keys, prints events/s and bytes per key."""
from __future__ import annotations

import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Dict, List

from processors.enrich.dedup import DUP_BANDS
from processors.spikes.detector import SeriesDetector
from processors.spikes.keys import count_events
from processors.spikes.processor import SpikeProcessor
from streams.records import ArticleRef, CountEvent, EnrichedItem, Tag, iso

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _events(n_keys: int, n_events: int, hours: int, seed: int = 1) -> List[CountEvent]:
    """Zipf-ish key popularity over n_keys, events spread over `hours`, plus one "all" event per item."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_keys)]
    keys = rng.choices(range(n_keys), weights=weights, k=n_events)
    out: List[CountEvent] = []
    for i, k in enumerate(keys):
        ts = iso(T0 + timedelta(seconds=int(i * hours * 3600 / n_events)))
        art = ArticleRef(id=f"a{i}", title=f"title {i}", url=f"https://x.example/{i}", source="x", published_at=ts)
        # near-duplicate keys as the enrich stage makes them (DUP_BANDS 12-hex digests); every 5th item a copy
        story = i - 1 if i % 5 == 4 else i
        dup = [f"{(story * DUP_BANDS + b) * 2654435761 % 2 ** 48:012x}" for b in range(DUP_BANDS)]
        if i % 4 == 0:
            out.append(CountEvent(key="all", dimensions={}, item_id=f"a{i}", story_id=f"a{story}", published_at=ts,
                                  article=art, co_tags=[], outlet="x", dup_keys=dup))
        out.append(CountEvent(key=f"topic:k{k}", dimensions={"topic": f"k{k}"}, item_id=f"a{i}", story_id=f"a{story}",
                              published_at=ts, article=art, co_tags=["region:fr", "topic:other"], outlet="x",
                              dup_keys=dup))
    return out


def bench_processor(n_keys: int = 100_000, n_events: int = 400_000, hours: int = 72) -> Dict[str, float]:
    events = _events(n_keys, n_events, hours)
    states: Dict[str, dict] = {}
    proc = SpikeProcessor(states)
    t = time.perf_counter()
    alerts = 0
    for ev in events:
        alerts += len(proc.process(ev))
    dt = time.perf_counter() - t
    t2 = time.perf_counter()
    proc.compact()
    compact_s = time.perf_counter() - t2
    sizes = [len(json.dumps(v, separators=(",", ":"))) for k, v in states.items()]
    return {"keys": len(states) - 1, "events": len(events), "events_per_s": len(events) / dt, "alerts": alerts,
            "bytes_per_key_json": sum(sizes) / max(len(sizes), 1), "compact_seconds": compact_s}


def bench_count_events(n_items: int = 5000) -> float:
    item = EnrichedItem(id="x", title="t", text="", published_at=iso(T0), language="en", url="https://a.example/x",
                        regions=[Tag(id="region:ru-ce", name="c", confidence=0.9, ancestors=["region:nc", "region:ru"])],
                        communities=[Tag(id="community:muslims", name="m", confidence=0.8)],
                        topics=[Tag(id="topic:protest", name="p", confidence=0.7), Tag(id="topic:religion", name="r", confidence=0.6)])
    t = time.perf_counter()
    for _ in range(n_items):
        count_events(item)
    return n_items / (time.perf_counter() - t)


def bench_series(rows: int = 100_000) -> float:
    det = SeriesDetector()
    rng = random.Random(3)
    t = time.perf_counter()
    for i in range(rows):
        det.update(1425000000 + 300 * i, rng.randint(20, 80))
    return rows / (time.perf_counter() - t)


def main() -> int:
    p = bench_processor()
    print(f"spike processor: {p['events_per_s']:,.0f} events/s over {p['events']:,} events, {p['keys']:,} keys, "
          f"{p['alerts']} alerts")
    print(f"spike state: {p['bytes_per_key_json']:,.0f} bytes/key (JSON, after compaction); "
          f"compaction of all keys {p['compact_seconds']:.2f} s")
    print(f"count_events: {bench_count_events():,.0f} items/s (item with 1 region + 2 ancestors, 1 community, 2 topics)")
    print(f"series detector: {bench_series():,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
