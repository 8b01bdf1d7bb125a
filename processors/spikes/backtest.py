"""Backtests without servers: consumes NAB-format CSV series or an NDJSON news archive, produces NAB score CSVs
or the alerts the live system would have emitted (NDJSON)."""
from __future__ import annotations

import csv
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence

from processors.spikes.detector import DetectorConfig, SeriesDetector
from processors.spikes.keys import count_events
from processors.spikes.processor import SpikeProcessor
from streams.records import Alert, parse_time

if TYPE_CHECKING:
    from streams.records import EnrichedItem, NewsItem

logger = logging.getLogger(__name__)


def score_series_file(src: Path, dst: Path, config: DetectorConfig = DetectorConfig()) -> int:
    """Stream one `timestamp,value` CSV through a fresh SeriesDetector; write `timestamp,value,anomaly_score`."""
    det = SeriesDetector(config)
    dst.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with src.open(newline="") as fin, dst.open("w", newline="") as fout:
        reader = csv.DictReader(fin)
        writer = csv.writer(fout)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for row in reader:
            score = det.update(row["timestamp"], float(row["value"]))
            writer.writerow([row["timestamp"], row["value"], f"{score:.6f}"])
            n += 1
    return n


def backtest_series(data_dir: Path, out_dir: Path, config: DetectorConfig = DetectorConfig()) -> Dict[str, int]:
    """Score every CSV under data_dir into out_dir at the same relative path; returns rows per file."""
    done: Dict[str, int] = {}
    for src in sorted(Path(data_dir).rglob("*.csv")):
        rel = src.relative_to(data_dir)
        done[str(rel)] = score_series_file(src, Path(out_dir) / rel, config)
        logger.info("scored %s (%d rows)", rel, done[str(rel)])
    return done


# ---------------------------------------------------------------------------------------------- archive replay

def enrich_items(items: Sequence["NewsItem"], tagger: Any = None, batch_size: int = 64) -> List["EnrichedItem"]:
    """Tag NewsItems, assign near-duplicate story ids and keys exactly as the enrich stage does, in event-time order."""
    from processors.enrich.dedup import StoryClusterer
    from processors.enrich.pipeline import build_enriched
    if tagger is None:
        from processors.enrich.tagging import Tagger   # heavy (spaCy): import only when needed
        tagger = Tagger.load()
    ordered = sorted(items, key=lambda it: (parse_time(it.published_at), it.id or ""))
    clusterer = StoryClusterer()
    out: List[EnrichedItem] = []
    for i in range(0, len(ordered), 512):
        chunk = list(ordered[i:i + 512])
        for item, res in zip(chunk, tagger.tag_batch(chunk, batch_size=batch_size)):
            story, keys = clusterer.assign(item.id or "", item.title, item.text)
            out.append(build_enriched(item, res, story, dup_keys=keys))
    return out


def replay(items: Iterable["EnrichedItem"], processor: SpikeProcessor, final_tick: bool = True) -> List[Alert]:
    """Feed enriched items in event-time order through a SpikeProcessor; return every alert it emits."""
    ordered = sorted(items, key=lambda it: (parse_time(it.published_at), it.id))
    alerts: List[Alert] = []
    last: Optional[datetime] = None
    for it in ordered:
        for ev in count_events(it):
            alerts.extend(processor.process(ev))
        last = parse_time(it.published_at)
    if final_tick and last is not None:
        horizon = processor.bs * (processor.lateness_buckets + processor.config.quiet_buckets + 2)
        alerts.extend(processor.tick(last + timedelta(seconds=horizon)))
    return alerts


def backtest_archive(items_path: Path, out_path: Path, bucket_seconds: int = 3600,
                     allowed_lateness_seconds: int = 6 * 3600, pretagged: bool = False,
                     config: DetectorConfig = DetectorConfig(), kibana_url: str = "http://localhost:5601",
                     news_index: str = "surgewatch-news", tagger: Any = None) -> Dict[str, Any]:
    """Tag (unless pretagged) and replay an NDJSON archive; write every alert as one JSON object per line."""
    from processors.enrich.pipeline import parse_news_item
    from streams.records import EnrichedItem, InvalidItem, NewsItem
    enriched: List[EnrichedItem] = []
    bad = 0
    raw_items: List[NewsItem] = []
    with Path(items_path).open("rb") as fh:
        lines = [line for line in fh if line.strip()]
    for n, line in enumerate(lines, 1):
        try:
            if pretagged:
                enriched.append(EnrichedItem.from_data(json.loads(line)))
            else:
                # the same validation as the enrich stage: what it would dead-letter is skipped here
                raw_items.append(parse_news_item(line))
        except (InvalidItem, TypeError, ValueError, KeyError) as exc:
            bad += 1
            logger.warning("%s:%d: skipped invalid item: %s", items_path, n, exc)
    if raw_items:
        enriched.extend(enrich_items(raw_items, tagger))
    proc = SpikeProcessor({}, config, bucket_seconds=bucket_seconds, allowed_lateness_seconds=allowed_lateness_seconds,
                          kibana_url=kibana_url, news_index=news_index)
    alerts = replay(enriched, proc)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with Path(out_path).open("w", encoding="utf-8") as f:
        for a in alerts:
            f.write(json.dumps(alert_dict(a), ensure_ascii=False) + "\n")
    return {"items": len(enriched), "invalid": bad, "alerts": len(alerts),
            "episodes": len({a.alert_id for a in alerts}), "late_events": proc.late_events}


def alert_dict(alert: Alert) -> Dict[str, Any]:
    """Plain JSON-ready dict of an Alert (no faust metadata)."""
    d = dict(alert.asdict())
    d["top_articles"] = [dict(a.asdict()) if hasattr(a, "asdict") else dict(a) for a in alert.top_articles]
    return d
