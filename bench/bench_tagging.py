"""Tagging throughput: consumes Reuters-21578 dev texts (../shared) or a built-in synthetic set, produces items/s
for the tagger vs spaCy's tokenizer alone, language detection cost, and the ratio against its 0.30 floor."""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import List

log = logging.getLogger(__name__)

FLOOR_RATIO = 0.30
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _items(n: int) -> List["object"]:
    from processors.enrich.evaluate import reuters_items
    from streams.records import NewsItem

    if (SHARED / "corpora" / "reuters21578" / "dev.jsonl").exists():
        return [it for it, _ in reuters_items(SHARED, n)]
    base = ("MOSCOW, Nov 8 - Thousands of Muslims in Chechnya and Dagestan rallied in solidarity with Palestinians "
            "in the Gaza Strip as Israel pressed its offensive; officials in Grozny pledged humanitarian aid. ")
    return [NewsItem(title=f"Rally {i}", text=base * 3, published_at="2023-11-08T00:00:00Z", language="en")
            for i in range(n)]


def main() -> int:
    from processors.enrich.evaluate import measure_throughput
    from processors.enrich.tagging import Tagger

    n = int(os.environ.get("BENCH_TAGGING_ITEMS", "1000"))
    t0 = time.perf_counter()
    tagger = Tagger.load()
    print(f"tagger load: {time.perf_counter() - t0:.1f} s")
    items = _items(n)
    measure_throughput(tagger, items[:100])          # warm caches (lexemes, lemma cache)
    res = measure_throughput(tagger, items)
    print(f"items: {res['items']} (language given)")
    print(f"spaCy tokenizer alone: {res['tokenizer_items_per_s']:.0f} items/s")
    print(f"tagger (1 process):    {res['tagger_items_per_s']:.0f} items/s; statistical NER ran on {res['ner_share']:.1%}")
    texts = [it.title + "\n" + it.text for it in items[:300]]
    t0 = time.perf_counter()
    for t in texts:
        tagger.detector.detect(t)
    det = len(texts) / (time.perf_counter() - t0)
    print(f"language detection (lingua): {det:.0f} items/s")
    ok = res["ratio"] >= FLOOR_RATIO
    print(f"ratio tagger/tokenizer: {res['ratio']:.3f} (floor {FLOOR_RATIO}) {'OK' if ok else 'BELOW FLOOR'}")
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
