"""Spike evaluation: consumes ../shared/nab (realTweets + windows + scorer) and the HuffPost stream, produces NAB
scores (fixed 0.5 and swept, per profile, per series, leave-one-out) and archive-replay numbers (alert episodes
per 1,000 items, detection delay of injected surges)."""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import logging
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

from processors.enrich.dedup import dup_keys
from processors.spikes.backtest import alert_dict, backtest_series, enrich_items, replay
from processors.spikes.detector import DetectorConfig
from processors.spikes.keys import count_keys
from processors.spikes.processor import SpikeProcessor
from streams.records import EnrichedItem, NewsItem, Tag, iso, parse_time

logger = logging.getLogger(__name__)

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


class SharedDataMissing(RuntimeError):
    """The ../shared evaluation data is not there (evaluations skip cleanly)."""


# ------------------------------------------------------------------------------------------------------ NAB

def _nab_paths(shared_dir: Path) -> Tuple[Path, Path, Path]:
    nab = Path(shared_dir) / "nab"
    data, windows, scorer = nab / "realTweets", nab / "windows.json", nab / "nab_score.py"
    for p in (data, windows, scorer):
        if not p.exists():
            raise SharedDataMissing(f"missing {p}")
    return data, windows, scorer


def _load_scorer(scorer: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("nab_score_shared", scorer)
    if spec is None or spec.loader is None:
        raise SharedDataMissing(f"cannot import {scorer}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_scorer(scorer: Path, results: Path, windows: Path, threshold: Optional[float]) -> Tuple[str, Dict[str, Any]]:
    """Run ../shared/nab/nab_score.py as the Makefile would; return its printed report and its JSON numbers."""
    out_json = results / (f"nab_fixed_{threshold}.json" if threshold is not None else "nab_swept.json")
    cmd = [sys.executable, str(scorer), str(results), "--windows", str(windows), "--by-series", "--json", str(out_json)]
    if threshold is not None:
        cmd += ["--threshold", str(threshold)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return proc.stdout, json.loads(out_json.read_text())


def leave_one_out(scorer: Path, results: Path, windows: Path, threshold: float = 0.5) -> List[Dict[str, Any]]:
    """Per held-out series: its normalised score at the fixed threshold, at the threshold swept on the other
    series (threshold transfer), and the fixed-threshold score of the remaining series."""
    nab = _load_scorer(scorer)
    series = nab.load_corpus(str(results), str(windows))
    prof = nab.DEFAULT_PROFILES["standard"]
    rows: List[Dict[str, Any]] = []
    for i, s in enumerate(series):
        rest = series[:i] + series[i + 1:]
        swept_rest = nab.score_subset(rest, prof, None)
        rows.append({
            "held_out": s.key,
            "held_out_fixed": round(nab.score_subset([s], prof, threshold)["normalized"], 2),
            "held_out_at_rest_threshold": round(nab.score_subset([s], prof, swept_rest["threshold"])["normalized"], 2),
            "rest_threshold": round(float(swept_rest["threshold"]), 4),
            "rest_fixed": round(nab.score_subset(rest, prof, threshold)["normalized"], 2),
        })
    return rows


def _timestamps(results: Path, key: str) -> List[str]:
    """The timestamp column of the results CSV for a scorer key (NAB's `<detector>_` prefix tolerated)."""
    path = results / key
    if not path.exists():
        path = next(results.glob(str(Path(key).parent / ("*_" + Path(key).name))))
    with path.open(newline="") as f:
        return [row["timestamp"] for row in csv.DictReader(f)]


def window_report(scorer: Path, results: Path, windows: Path, threshold: float = 0.5) -> Dict[str, Any]:
    """Where the detections land, per labelled window, and what the score could be without false positives.

    For each window: the first row at or above `threshold` and its NAB reward (1.0 at the window's first row,
    about 0.86 at its centre, the labelled anomaly), or, if missed, the window's highest anomaly score and on how
    many ordinary days (no window, past probation) of the same series the daily peak score is at least as high:
    a detector that caught the window would first have to alert on all of those days. `no_fp_ceiling` is the
    standard score with every false-positive row removed and the detections kept where they are."""
    nab = _load_scorer(scorer)
    series = nab.load_corpus(str(results), str(windows))
    prof = nab.DEFAULT_PROFILES["standard"]
    rows: List[Dict[str, Any]] = []
    fps: Dict[str, int] = {}
    cleaned = []
    for s in series:
        ts = _timestamps(results, s.key)
        det = (s.scores >= threshold) & s.scorable
        outside = (s.win < 0) & s.scorable
        fps[s.key] = int((det & outside).sum())
        day_peaks: Dict[str, float] = {}
        in_window_days = {str(ts[i])[:10] for i in range(s.n) if s.win[i] >= 0}
        for i in range(s.n):
            if outside[i]:
                d = str(ts[i])[:10]
                if d not in in_window_days:
                    day_peaks[d] = max(day_peaks.get(d, 0.0), float(s.scores[i]))
        for lo, hi in s.spans:
            hits = [i for i in range(lo, hi + 1) if det[i]]
            row: Dict[str, Any] = {"series": s.key, "start": str(ts[lo]), "end": str(ts[hi])}
            if hits:
                row.update(first_detection=str(ts[hits[0]]), reward=round(float(s.tp_shape[hits[0]]), 3))
            else:
                peak = float(s.scores[lo:hi + 1].max())
                row.update(first_detection=None, peak_score=round(peak, 4),
                           ordinary_days_as_high=sum(1 for v in day_peaks.values() if v >= peak),
                           ordinary_days=len(day_peaks))
            rows.append(row)
        cleaned.append(s.scores * ~(outside & det))
    pool = nab.Pooled(series, cleaned)
    raw = pool.at_threshold(prof, threshold)
    null = nab.null_score(series, prof)
    perfect = prof["tpWeight"] * pool.n_windows
    ceiling = 100.0 * (raw - null) / (perfect - null)
    return {"windows": rows, "false_positives": fps, "no_fp_ceiling": round(ceiling, 2)}


def nab_eval(shared_dir: Path, out_dir: Optional[Path] = None, config: DetectorConfig = DetectorConfig(),
             echo: bool = True) -> Dict[str, Any]:
    """Backtest realTweets into out_dir (a temp dir by default) and score it with the shared NAB scorer."""
    data, windows, scorer = _nab_paths(shared_dir)
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="surgewatch-nab-")
        out_dir = Path(tmp.name)
    results = Path(out_dir)
    try:
        backtest_series(data, results / data.name, config)
        fixed_txt, fixed = run_scorer(scorer, results, windows, 0.5)
        swept_txt, swept = run_scorer(scorer, results, windows, None)
        loo = leave_one_out(scorer, results, windows)
        report = window_report(scorer, results, windows)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if echo:
        print("== NAB realTweets, fixed threshold 0.5 ==")
        print(fixed_txt)
        print("== NAB realTweets, threshold swept (scorer default) ==")
        print(swept_txt)
        print("== leave-one-out (standard profile) ==")
        print(f"{'held-out series':38} {'alone@0.5':>9} {'alone@rest-thr':>14} {'rest-thr':>8} {'rest@0.5':>8}")
        for r in loo:
            print(f"{r['held_out']:38} {r['held_out_fixed']:9.2f} {r['held_out_at_rest_threshold']:14.2f} "
                  f"{r['rest_threshold']:8.4f} {r['rest_fixed']:8.2f}")
        print("== labelled windows at 0.5 (reward: 1.0 at a window's first row, ~0.86 at its centre) ==")
        for w in report["windows"]:
            name = Path(w["series"]).stem
            if w["first_detection"]:
                print(f"{name:22} {w['start'][:16]} .. {w['end'][:16]}  detected {w['first_detection'][:16]}"
                      f"  reward {w['reward']:.3f}")
            else:
                print(f"{name:22} {w['start'][:16]} .. {w['end'][:16]}  MISSED: peak score {w['peak_score']:.3f},"
                      f" reached on {w['ordinary_days_as_high']} of {w['ordinary_days']} ordinary days")
        print("false positives per series:", {Path(k).stem: v for k, v in report["false_positives"].items()})
        print(f"standard score at 0.5 with every false positive removed: {report['no_fp_ceiling']:.2f}")
    return {"fixed": fixed, "swept": swept, "leave_one_out": loo, "windows": report}


def nab_summary(result: Dict[str, Any]) -> Dict[str, Dict[str, float]]:
    """{"fixed": {profile: score}, "swept": {...}} from nab_eval's result (tolerant of the JSON layout)."""
    def pick(blob: Any) -> Dict[str, float]:
        found: Dict[str, float] = {}

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    if k in PROFILES and isinstance(v, dict) and "normalized" in v and k not in found:
                        found[k] = round(float(v["normalized"]), 2)
                    else:
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(blob)
        return found
    return {"fixed": pick(result["fixed"]), "swept": pick(result["swept"])}


# ------------------------------------------------------------------------------------------------- HuffPost

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def huffpost_items(path: Path) -> List[NewsItem]:
    """HuffPost records as NewsItems; the day-only date gets a deterministic time of day from the id."""
    items: List[NewsItem] = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            sec = int(hashlib.sha1(r["id"].encode()).hexdigest()[:8], 16) % 86400
            ts = parse_time(r["date"]) + timedelta(seconds=sec)
            items.append(NewsItem.from_payload({"id": r["id"], "title": r["headline"], "text": r.get("short_description") or "",
                                                "published_at": iso(ts), "url": r.get("link"), "source": "huffpost",
                                                "language": "en"}))
    return items


def simple_enrich(items: List[NewsItem], categories: Dict[str, str]) -> List[EnrichedItem]:
    """Fallback tagging without spaCy: the HuffPost section becomes the only (topic) tag."""
    out = []
    for it in items:
        cat = categories.get(it.id or "", "")
        topics = [Tag(id=f"topic:{_slug(cat)}", name=cat, confidence=1.0)] if cat else []
        out.append(EnrichedItem(id=it.id or "", title=it.title, text=it.text, published_at=it.published_at, language="en",
                                url=it.url, source=it.source, topics=topics, story_id=it.id))
    return out


def _pick_surge_key(items: List[EnrichedItem]) -> Tuple[str, EnrichedItem]:
    """A mid-frequency single-tag key (has history, far from the busiest) and an item carrying it (template)."""
    counts: Dict[str, int] = {}
    template: Dict[str, EnrichedItem] = {}
    for it in items:
        for key, _dims, members in count_keys(it):
            if len(members) == 1:
                counts[key] = counts.get(key, 0) + 1
                template.setdefault(key, it)
    ranked = sorted((k for k, n in counts.items() if n >= 30), key=lambda k: (-counts[k], k))
    if not ranked:
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
    key = ranked[min(len(ranked) - 1, len(ranked) // 2)]
    return key, template[key]


def inject_surges(items: List[EnrichedItem], template: EnrichedItem, starts: List[datetime], per_hour: int = 5,
                  hours: int = 3) -> List[EnrichedItem]:
    """Synthetic items with the template's tags: `per_hour` distinct stories per hour for `hours` hours per start."""
    out = list(items)
    for n, start in enumerate(starts):
        total = per_hour * hours
        for i in range(total):
            ts = start + timedelta(seconds=int(i * hours * 3600 / total))
            sid = f"inj-{n}-{i}"
            # distinct stories: a text of its own, so the near-duplicate keys (as the enrich stage makes them) differ
            title = f"Injected surge {n} item {i}"
            text = " ".join(hashlib.sha1(f"{sid}/{w}".encode()).hexdigest()[:6] for w in range(30))
            out.append(EnrichedItem(id=sid, title=title, text=text, published_at=iso(ts),
                                    language="en", url=f"https://example.org/{sid}", source=f"outlet-{i % 4}",
                                    regions=template.regions, communities=template.communities, topics=template.topics,
                                    story_id=sid, dup_keys=dup_keys(title, text)))
    return out


def huffpost_eval(shared_dir: Path, tagging: str = "auto", bucket_seconds: Tuple[int, ...] = (3600, 86400), trials: int = 6,
                  config: DetectorConfig = DetectorConfig(), alerts_out: Optional[Path] = None,
                  echo: bool = True) -> Dict[str, Any]:
    """Replay the HuffPost stream through the archive backtest: episodes per 1,000 items, and detection delay of
    surges injected for one mid-frequency key (one per ~month, well apart)."""
    path = Path(shared_dir) / "corpora" / "huffpost_news_category" / "stream.jsonl"
    if not path.exists():
        raise SharedDataMissing(f"missing {path}")
    items = huffpost_items(path)
    categories = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                categories[r["id"]] = r.get("category", "")
    used = tagging
    enriched: List[EnrichedItem]
    if tagging in ("auto", "tagger"):
        try:
            enriched = enrich_items(items)
            used = "tagger"
        except Exception as exc:  # noqa: BLE001 - tagging is optional here; report which one ran
            if tagging == "tagger":
                raise
            logger.warning("Tagger unavailable (%s); falling back to section-as-topic tagging", exc)
            enriched = simple_enrich(items, categories)
            used = "simple"
    else:
        enriched = simple_enrich(items, categories)
        used = "simple"

    key, template = _pick_surge_key(enriched)
    times = sorted(parse_time(it.published_at) for it in enriched)
    span = times[-1] - times[0]
    starts = [(times[0] + span * (i + 1) / (trials + 1)).replace(minute=17, second=0, microsecond=0)
              for i in range(trials)]
    injected = inject_surges(enriched, template, starts)
    res: Dict[str, Any] = {"items": len(enriched), "tagging": used, "surge_key": key, "surge_trials": trials,
                           "surge_items_per_hour": 5, "surge_hours": 3, "by_bucket": {}}
    for bs in bucket_seconds:
        proc = SpikeProcessor({}, config, bucket_seconds=bs)
        base_alerts = replay(enriched, proc)
        episodes = len({a.alert_id for a in base_alerts})
        inj_alerts = replay(injected, SpikeProcessor({}, config, bucket_seconds=bs))
        delays: List[float] = []
        for start in starts:
            horizon = start + timedelta(hours=3) + timedelta(seconds=2 * bs)
            fired = [a for a in inj_alerts if a.key == key and a.state == "firing"
                     and start <= parse_time(a.created_at or a.window_end) <= horizon]
            if fired:
                delays.append((min(parse_time(a.created_at or a.window_end) for a in fired) - start).total_seconds() / 60.0)
        res["by_bucket"][str(bs)] = {
            "alert_records": len(base_alerts), "episodes": episodes,
            "episodes_per_1000_items": round(1000.0 * episodes / max(len(enriched), 1), 3),
            "late_events": proc.late_events, "episode_keys": sorted({a.key for a in base_alerts})[:15],
            "surges_detected": len(delays),
            "median_detection_delay_minutes": round(statistics.median(delays), 1) if delays else None,
            "detection_delays_minutes": [round(d, 1) for d in delays],
        }
        if alerts_out is not None and bs == bucket_seconds[0]:
            alerts_out.parent.mkdir(parents=True, exist_ok=True)
            with alerts_out.open("w", encoding="utf-8") as f:
                for al in base_alerts:
                    f.write(json.dumps(alert_dict(al), ensure_ascii=False) + "\n")
    if echo:
        print("== HuffPost replay through the archive backtest ==")
        print(json.dumps(res, indent=2))
    return res
