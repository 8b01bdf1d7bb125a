"""Backtests without servers: consumes NAB-format CSV series or an NDJSON news archive, produces NAB score CSVs
or the alerts the live system would have emitted (NDJSON)."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Dict, List, Optional

from processors.spikes.detector import DetectorConfig, SeriesDetector

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
