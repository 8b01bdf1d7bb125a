"""Synthetic tagged news streams for the spike tests: consumes a recipe, produces EnrichedItems."""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Sequence, Tuple

from streams.records import EnrichedItem, Tag, iso

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)   # a Monday
TOPICS = {"topic:economy": 0.35, "topic:sport": 0.3, "topic:culture": 0.2, "topic:protest": 0.15}
REGIONS = {"region:fr": 0.5, "region:de": 0.3, "region:ru-ce": 0.2}
_ANCESTORS = {"region:ru-ce": ["region:north-caucasus-fd", "region:ru"], "region:fr": [], "region:de": []}


def item(n: int, ts: datetime, topic: str, region: str, source: Optional[str] = None) -> EnrichedItem:
    return EnrichedItem(id=f"it-{n}", title=f"Story {n} about {topic} in {region}", text="", published_at=iso(ts),
                        language="en", source=source or f"outlet-{n % 5}", url=f"https://news{n % 5}.example/{n}",
                        regions=[Tag(id=region, name=region, confidence=0.9, ancestors=_ANCESTORS[region])],
                        topics=[Tag(id=topic, name=topic, confidence=0.8)], story_id=f"st-{n}")


def _pick(rng: random.Random, shares: Dict[str, float]) -> str:
    x = rng.random()
    acc = 0.0
    for k, p in shares.items():
        acc += p
        if x < acc:
            return k
    return list(shares)[-1]


def stream(days: int, per_hour: float, seed: int = 7, rhythm: float = 0.8,
           growth: Optional[Tuple[int, float]] = None, start_n: int = 0) -> List[EnrichedItem]:
    """Items over `days` with a daily rhythm (amplitude `rhythm`), weekend dip, Poisson counts, fixed shares.
    growth=(day, factor): from that day on, every hour has `factor` times the volume."""
    rng = random.Random(seed)
    out: List[EnrichedItem] = []
    n = start_n
    for h in range(days * 24):
        t = T0 + timedelta(hours=h)
        lam = per_hour * (1 + rhythm * math.sin(2 * math.pi * (t.hour - 9) / 24)) * (0.6 if t.weekday() >= 5 else 1.0)
        if growth and h >= growth[0] * 24:
            lam *= growth[1]
        k = _poisson(rng, lam)
        for _ in range(k):
            out.append(item(n, t + timedelta(seconds=rng.randrange(3600)), _pick(rng, TOPICS), _pick(rng, REGIONS)))
            n += 1
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < l:
            return k
        k += 1


def surge(start: datetime, n: int, minutes: float, topic: str = "topic:protest", region: str = "region:ru-ce",
          first_id: int = 10_000_000) -> List[EnrichedItem]:
    """n distinct stories for one topic×region spread over `minutes` from `start`."""
    return [item(first_id + i, start + timedelta(seconds=int(i * minutes * 60 / max(n, 1))), topic, region)
            for i in range(n)]


def by_time(items: Sequence[EnrichedItem]) -> List[EnrichedItem]:
    return sorted(items, key=lambda it: (it.published_at, it.id))
