"""Offline pipeline, enrich and spikes together (the composition root's offline paths): consumes NDJSON archives,
the bundled stream and ../shared's Reuters and HuffPost streams, produces the alerts and incidents the live pipeline
would raise (`backtest archive`) and the replay evaluation of `eval spikes` (incidents, alerts and notifications
per incident, every incident listed, injected-surge recall and delay)."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import typer

from processors.enrich.dedup import dup_keys
from processors.spikes.backtest import alert_dict, replay
from processors.spikes.detector import DetectorConfig
from processors.spikes.evaluate import SharedDataMissing, nab_eval, nab_summary
from processors.spikes.keys import count_keys
from processors.spikes.processor import SpikeProcessor
from surgewatch.replays import summarize
from streams.codec import as_dict
from streams.records import EnrichedItem, Incident, NewsItem, Tag, iso, parse_time

logger = logging.getLogger(__name__)
DEFAULT_SHARED = Path("../shared")     # relative to the working directory, as `make eval-spikes` runs it


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


def backtest_archive(items_path: Path, out_path: Path, bucket_seconds: int = 3600,
                     allowed_lateness_seconds: int = 6 * 3600, pretagged: bool = False,
                     config: DetectorConfig = DetectorConfig(), kibana_url: str = "http://localhost:5601",
                     news_index: str = "surgewatch-news", tagger: Any = None,
                     incidents_path: Optional[Path] = None) -> Dict[str, Any]:
    """Tag (unless pretagged) and replay an NDJSON archive; write every alert (and, to `incidents_path`, every
    incident revision) as one JSON object per line."""
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
    incidents: List[Incident] = []
    alerts = replay(enriched, proc, incidents=incidents)
    _write_ndjson(Path(out_path), [alert_dict(a) for a in alerts])
    if incidents_path is not None:
        _write_ndjson(Path(incidents_path), [as_dict(i) for i in incidents])
    return {"items": len(enriched), "invalid": bad, "alerts": len(alerts),
            "episodes": len({a.alert_id for a in alerts}), "incidents": len({i.incident_id for i in incidents}),
            "late_events": proc.late_events}


def _write_ndjson(path: Path, rows: List[Dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


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
        base_incidents: List[Incident] = []
        base_alerts = replay(enriched, proc, incidents=base_incidents)
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
            "incidents": summarize(base_alerts, base_incidents),
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


def register(app: typer.Typer, eval_app: typer.Typer, backtest_app: typer.Typer) -> None:
    """Add `backtest archive` and `eval spikes` to the surgewatch CLI."""

    @backtest_app.command("archive")
    def backtest_archive_cmd(
        items: Path = typer.Argument(..., exists=True, dir_okay=False, help="NDJSON archive of NewsItems"),
        out: Path = typer.Option(..., "--out", help="Alerts NDJSON to write"),
        bucket_seconds: int = typer.Option(3600, "--bucket-seconds", min=60, help="Count bucket size"),
        allowed_lateness_seconds: int = typer.Option(6 * 3600, "--allowed-lateness-seconds", min=0),
        pretagged: bool = typer.Option(False, "--pretagged", help="Input is EnrichedItem NDJSON (skip tagging)"),
        incidents_out: Optional[Path] = typer.Option(None, "--incidents-out",
                                                     help="Also write every incident revision here (NDJSON)"),
    ) -> None:
        """Tag and count an archive in event-time order; write every alert the live system would emit."""
        from streams.config import get_settings
        settings = get_settings()
        stats = backtest_archive(items, out, bucket_seconds=bucket_seconds,
                                 allowed_lateness_seconds=allowed_lateness_seconds, pretagged=pretagged,
                                 kibana_url=settings.kibana_url, news_index=f"{settings.index_prefix}-news",
                                 incidents_path=incidents_out)
        typer.echo(json.dumps(stats))

    @eval_app.command("spikes")
    def eval_spikes_cmd(
        shared_dir: Path = typer.Option(DEFAULT_SHARED, "--shared-dir", help="The shared data folder (../shared)"),
        results: Optional[Path] = typer.Option(None, "--results", help="Keep the NAB result CSVs here"),
        skip_huffpost: bool = typer.Option(False, "--skip-huffpost", help="No HuffPost replay"),
        skip_replays: bool = typer.Option(False, "--skip-replays",
                                          help="No incident replays of the bundled stream and Reuters dev"),
        tagging: str = typer.Option("auto", "--tagging", help="HuffPost tagging: auto | tagger | simple"),
        trials: int = typer.Option(6, "--trials", min=1, help="Injected surges in the HuffPost replay"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="Write all numbers here"),
    ) -> None:
        """NAB realTweets (fixed 0.5 and swept, leave-one-out), the incident replays of the bundled stream and
        Reuters dev (incidents, alerts and notifications per incident, every incident, injected surges) and the
        HuffPost archive replay."""
        try:
            nab = nab_eval(shared_dir, results)
        except SharedDataMissing as exc:
            typer.echo(f"skipped: shared data not found ({exc}); pass --shared-dir")
            return
        out = {"nab": nab_summary(nab), "leave_one_out": nab["leave_one_out"]}
        if not skip_replays:
            from surgewatch.replays import replay_eval
            out["replays"] = replay_eval(shared_dir, trials=trials)
        if not skip_huffpost:
            try:
                out["huffpost"] = huffpost_eval(shared_dir, tagging=tagging, trials=trials)
            except SharedDataMissing as exc:
                typer.echo(f"huffpost replay skipped: {exc}")
        typer.echo(json.dumps(out["nab"]))
        if json_out is not None:
            json_out.write_text(json.dumps(out, indent=2))
