"""Pipeline stage benchmark: consumes the bundled sample stream, produces items/s for each in-process stage
(validate, tag, near-duplicates, shape ES document, count keys, detect) and the peak RSS, compared against floors."""
from __future__ import annotations

import resource
import sys
import time
from typing import Any, Callable

from processors.enrich.pipeline import build_enriched, parse_news_item
from processors.index.documents import news_document
from surgewatch.runner import bundled_stream

# floors: items/s per core this stage must beat on the reference machine (2 cores); printed as ratio = measured/floor
FLOORS = {"validate": 5_000, "tag": 50, "dedup": 1_000, "document": 2_000, "count_keys": 2_000, "detect": 10_000}


def timed(label: str, n: int, fn: Callable[[], Any], results: dict[str, float]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    results[label] = n / dt if dt > 0 else float("inf")
    return out


def main() -> int:
    from processors.enrich.dedup import StoryClusterer
    from processors.enrich.tagging import Tagger
    from processors.spikes.keys import count_events
    from processors.spikes.processor import SpikeProcessor

    lines = [line for line in bundled_stream().read_bytes().splitlines() if line.strip()]
    rates: dict[str, float] = {}

    def validate() -> list[Any]:
        items = []
        for line in lines:
            try:
                items.append(parse_news_item(line))
            except ValueError:
                pass
        return items

    items = timed("validate", len(lines), validate, rates)
    t0 = time.perf_counter()
    tagger = Tagger.load()
    load_s = time.perf_counter() - t0
    results = timed("tag", len(items), lambda: [r for i in range(0, len(items), 32)
                                                 for r in tagger.tag_batch(items[i:i + 32])], rates)
    clusterer = StoryClusterer()
    stories = timed("dedup", len(items), lambda: [clusterer.assign(it.id, it.title, it.text) for it in items], rates)
    enriched = [build_enriched(it, res, story, dup_keys=keys) for it, res, (story, keys) in zip(items, results, stories)]
    timed("document", len(enriched), lambda: [news_document(e) for e in enriched], rates)
    events = timed("count_keys", len(enriched), lambda: [ce for e in enriched for ce in count_events(e)], rates)
    events.sort(key=lambda ce: ce.published_at)
    proc = SpikeProcessor({})
    alerts = timed("detect", len(events), lambda: [a for ce in events for a in proc.process(ce)], rates)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"items={len(items)} count_events={len(events)} alerts={len(alerts)} tagger_load_s={load_s:.1f} "
          f"peak_rss_mb={rss_mb:.0f}")
    print(f"{'stage':<12}{'items/s':>12}{'floor':>10}{'ratio':>8}")
    worst = float("inf")
    for stage, rate in rates.items():
        ratio = rate / FLOORS[stage]
        worst = min(worst, ratio)
        print(f"{stage:<12}{rate:>12.0f}{FLOORS[stage]:>10}{ratio:>8.2f}")
    return 0 if worst >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
