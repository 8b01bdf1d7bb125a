"""Backtests without servers: consumes NAB-format CSV series, or enriched items in event-time order, produces NAB
score CSVs, or the alerts the live detector would have emitted (the composition root's `backtest archive` tags an
archive first)."""
from __future__ import annotations

import csv
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional

from processors.spikes.detector import DetectorConfig, SeriesDetector
from processors.spikes.keys import VOLUME_KEY, count_events, counts_partition
from processors.spikes.merge import LaneMerge
from processors.spikes.processor import SpikeProcessor
from streams.records import Alert, Incident, parse_time

if TYPE_CHECKING:
    from streams.records import EnrichedItem

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

def replay(items: Iterable["EnrichedItem"], processor: SpikeProcessor, final_tick: bool = True,
           incidents: Optional[List[Incident]] = None) -> List[Alert]:
    """Feed enriched items in event-time order through a SpikeProcessor; return every alert it emits (and append
    the incident revisions to `incidents` when given)."""
    ordered = sorted(items, key=lambda it: (parse_time(it.published_at), it.id))
    alerts: List[Alert] = []
    last: Optional[datetime] = None
    for it in ordered:
        alerts.extend(processor.process_item(count_events(it)))
        last = parse_time(it.published_at)
    if final_tick and last is not None:
        horizon = processor.bs * (processor.lateness_buckets + processor.config.quiet_buckets + 2)
        alerts.extend(processor.tick(last + timedelta(seconds=horizon)))
    records = processor.take_incidents()
    if incidents is not None:
        incidents.extend(records)
    return alerts


def lane_events(item: "EnrichedItem", lanes: int) -> List[List[Any]]:
    """The item's count events of each detector lane: the volume key everywhere, every other key on its lane."""
    out: List[List[Any]] = [[] for _ in range(lanes)]
    for ev in count_events(item):
        for p in (range(lanes) if ev.key == VOLUME_KEY else [counts_partition(ev.key, lanes)]):
            out[p].append(ev)
    return out


def replay_lanes(items: Iterable["EnrichedItem"], lanes: int, make: Callable[[int], SpikeProcessor],
                 final_tick: bool = True, incidents: Optional[List[Incident]] = None) -> List[Alert]:
    """Replay as the stream does with `lanes` news.counts partitions: one SpikeProcessor per lane (`make(lane)`,
    built with lane=(lane, lanes)), their outcomes merged and grouped into incidents by a LaneMerge."""
    procs = [make(p) for p in range(lanes)]
    merge = LaneMerge(lanes, {}, procs[0].tracker({}))
    ordered = sorted(items, key=lambda it: (parse_time(it.published_at), it.id))
    alerts: List[Alert] = []

    def drain(proc: SpikeProcessor, at: str, item_id: str) -> None:
        for outcome in proc.take_outcomes() + [proc.marker(at, item_id)]:
            for released, records in merge.add(outcome):
                alerts.extend(released)
                if incidents is not None:
                    incidents.extend(records)

    last: Optional[datetime] = None
    for it in ordered:
        for proc, events in zip(procs, lane_events(it, lanes)):
            proc.process_item(events)
            drain(proc, it.published_at, it.id)
        last = parse_time(it.published_at)
    if final_tick and last is not None:
        p0 = procs[0]
        end = last + timedelta(seconds=p0.bs * (p0.lateness_buckets + p0.config.quiet_buckets + 2))
        for proc in procs:
            proc.tick(end)
            drain(proc, end.isoformat().replace("+00:00", "Z"), "")
    return alerts


def alert_dict(alert: Alert) -> Dict[str, Any]:
    """Plain JSON-ready dict of an Alert (no faust metadata)."""
    d = dict(alert.asdict())
    d["top_articles"] = [dict(a.asdict()) if hasattr(a, "asdict") else dict(a) for a in alert.top_articles]
    return d
