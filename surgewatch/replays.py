"""Replay evaluation of incidents: consumes the bundled stream and ../shared's Reuters-21578 dev set (tagged by the
enrich stage), produces per replay the alerts, incidents, alerts and notifications per incident, every incident
listed for a reader to judge, and the recall and delay of surges injected into the real stream."""
from __future__ import annotations

import json
import logging
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from processors.spikes.backtest import replay
from processors.spikes.detector import DetectorConfig
from processors.spikes.evaluate import SharedDataMissing
from processors.spikes.processor import SpikeProcessor
from streams.records import Alert, EnrichedItem, Incident, NewsItem, parse_time
from streams.subscribe import incident_notice

logger = logging.getLogger(__name__)

NOTIFYING = ("opened", "escalated")


def bundled_news_items() -> List[NewsItem]:
    """The bundled stream's valid items (what the enrich stage would not dead-letter)."""
    from processors.enrich.pipeline import parse_news_item
    from streams.sample import SAMPLE_STREAM
    out = []
    for line in SAMPLE_STREAM.read_bytes().splitlines():
        if line.strip():
            try:
                out.append(parse_news_item(line))
            except ValueError:
                continue
    return out


def reuters_news_items(shared_dir: Path) -> List[NewsItem]:
    """Reuters-21578 dev stories as NewsItems: title, dateline + body, the story's date (UTC), source reuters."""
    path = Path(shared_dir) / "corpora" / "reuters21578" / "dev.jsonl"
    if not path.exists():
        raise SharedDataMissing(f"missing {path}")
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            text = ((d.get("dateline") or "").strip() + " " + d["body"]).strip()
            out.append(NewsItem.from_payload({"id": f"reuters-{d['id']}", "title": d.get("title") or "",
                                              "text": text, "published_at": d["date"], "source": "reuters",
                                              "language": "en"}))
    return out


def shared_article_groups(alerts: Sequence[Alert]) -> int:
    """Firing alerts grouped when they share a top article (the measure the per-key stream was judged by)."""
    firing = [a for a in alerts if a.state == "firing"]
    parent = list(range(len(firing)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i
    first: Dict[str, int] = {}
    for i, a in enumerate(firing):
        for art in a.top_articles:
            aid = art["id"] if isinstance(art, dict) else art.id
            if aid in first:
                parent[root(i)] = root(first[aid])
            else:
                first[aid] = i
    return len({root(i) for i in range(len(firing))})


def _title(a: Any) -> str:
    return str(a["title"] if isinstance(a, dict) else a.title)


def _key(k: Any) -> str:
    return str(k["key"] if isinstance(k, dict) else k.key)


def incident_listing(incidents: Sequence[Incident]) -> List[Dict[str, Any]]:
    """Every incident, by its last revision: headline, day, severity, keys, notifications, top titles."""
    last: Dict[str, Incident] = {}
    notes: Dict[str, int] = {}
    for inc in incidents:
        last[inc.incident_id] = inc
        notes[inc.incident_id] = notes.get(inc.incident_id, 0) + (inc.change in NOTIFYING)
    return [{"incident_id": i.incident_id, "day": i.first_seen[:10], "first_seen": i.first_seen,
             "headline_key": i.headline_key, "headline_label": i.headline_label, "severity": i.severity,
             "state": i.state, "keys": [_key(k) for k in i.keys], "notifications": notes[i.incident_id],
             "top_titles": [_title(a)[:90] for a in i.top_articles[:3]]}
            for i in sorted(last.values(), key=lambda i: (i.first_seen, i.incident_id))]


def summarize(alerts: Sequence[Alert], incidents: Sequence[Incident]) -> Dict[str, Any]:
    """Per-key stream (every firing or escalated alert notifies) against one notification per incident."""
    firing = sum(1 for a in alerts if a.state == "firing")
    per_key = sum(1 for a in alerts if a.state in ("firing", "escalated"))
    listing = incident_listing(incidents)
    n = len(listing)
    notes = sum(1 for i in incidents if i.change in NOTIFYING)
    return {"firing_alerts": firing, "per_key_notifications": per_key,
            "shared_article_groups": shared_article_groups(alerts), "incidents": n,
            "alerts_per_incident": round(firing / n, 2) if n else None,
            "notifications_per_incident": round(notes / n, 2) if n else None,
            "per_key_notifications_per_incident": round(per_key / n, 2) if n else None,
            "resolutions": sum(1 for i in incidents if i.change == "resolved"),
            "alerts_without_incident": sum(1 for a in alerts if not a.incident_id), "incident_list": listing}


def replay_incidents(enriched: Sequence[EnrichedItem], bucket_seconds: int = 3600,
                     config: DetectorConfig = DetectorConfig()) -> Dict[str, Any]:
    incidents: List[Incident] = []
    alerts = replay(enriched, SpikeProcessor({}, config, bucket_seconds=bucket_seconds), incidents=incidents)
    return summarize(alerts, incidents)


def surge_starts(enriched: Sequence[EnrichedItem], trials: int) -> List[datetime]:
    """`trials` surge starts evenly over the stream (past its first fifth of history), at minute 17."""
    times = sorted(parse_time(it.published_at) for it in enriched)
    span = times[-1] - times[0]
    return [(times[0] + span * (i + 1) / (trials + 1)).replace(minute=17, second=0, microsecond=0)
            for i in range(trials)]


def _first_delays(times: Sequence[datetime], starts: Sequence[datetime], hours: int,
                  bucket_seconds: int) -> List[float]:
    """Per surge start, minutes to the first time in `times` within the surge plus two buckets (missed: none)."""
    delays: List[float] = []
    for start in starts:
        horizon = start + timedelta(hours=hours) + timedelta(seconds=2 * bucket_seconds)
        hits = [t for t in times if start <= t <= horizon]
        if hits:
            delays.append((min(hits) - start).total_seconds() / 60.0)
    return delays


def injected_surges(enriched: List[EnrichedItem], trials: int = 6, bucket_seconds: int = 3600,
                    config: DetectorConfig = DetectorConfig(), per_hour: int = 5, hours: int = 3) -> Dict[str, Any]:
    """Inject `trials` surges of one mid-frequency key into the stream; recall and delay of the notification a
    subscriber to that key gets (an incident opening for it), and of the key's own firing alert (per key)."""
    from surgewatch.offline import _pick_surge_key, inject_surges
    key, template = _pick_surge_key(enriched)
    starts = surge_starts(enriched, trials)
    incidents: List[Incident] = []
    alerts = replay(inject_surges(enriched, template, starts, per_hour, hours),
                    SpikeProcessor({}, config, bucket_seconds=bucket_seconds), incidents=incidents)
    noticed = [parse_time(i.last_update) for i in incidents if incident_notice(i, (key,)) == "opened"]
    fired = [parse_time(a.created_at or a.window_end) for a in alerts if a.key == key and a.state == "firing"]
    delays = _first_delays(noticed, starts, hours, bucket_seconds)
    per_key = _first_delays(fired, starts, hours, bucket_seconds)
    return {"surge_key": key, "trials": trials, "items_per_hour": per_hour, "hours": hours,
            "detected": len(delays), "recall": round(len(delays) / trials, 3),
            "median_delay_minutes": round(statistics.median(delays), 1) if delays else None,
            "delays_minutes": [round(d, 1) for d in delays], "per_key_detected": len(per_key),
            "per_key_median_delay_minutes": round(statistics.median(per_key), 1) if per_key else None}


def replay_eval(shared_dir: Path, trials: int = 6, config: DetectorConfig = DetectorConfig(),
                enrich: Optional[Callable[[List[NewsItem]], List[EnrichedItem]]] = None,
                echo: bool = True) -> Dict[str, Any]:
    """Incidents on the bundled stream and the Reuters dev replay (hourly buckets), with injected surges."""
    from surgewatch.offline import enrich_items
    enrich = enrich or enrich_items
    sources: Dict[str, Callable[[], List[NewsItem]]] = {"bundled stream": bundled_news_items,
                                                        "reuters dev": lambda: reuters_news_items(shared_dir)}
    out: Dict[str, Any] = {}
    for name, load in sources.items():
        try:
            items = load()
        except SharedDataMissing as exc:
            logger.warning("%s replay skipped: %s", name, exc)
            continue
        enriched = enrich(items)
        out[name] = {"items": len(enriched), **replay_incidents(enriched, config=config),
                     "injected": injected_surges(enriched, trials, config=config)}
    if echo:
        print_replays(out)
    return out


def print_replays(out: Dict[str, Any]) -> None:
    print("== replays: alerts grouped into incidents (hourly buckets; target 0.8..1.2 notifications per incident) ==")
    print(f"{'replay':16} {'items':>6} {'firing':>6} {'per-key notif':>13} {'incidents':>9} {'alerts/inc':>10} "
          f"{'notif/inc':>9} {'per-key notif/inc':>17} {'injected':>8} {'median delay':>12}")
    for name, r in out.items():
        inj = r["injected"]
        print(f"{name:16} {r['items']:6d} {r['firing_alerts']:6d} {r['per_key_notifications']:13d} "
              f"{r['incidents']:9d} {r['alerts_per_incident'] or 0:10.2f} {r['notifications_per_incident'] or 0:9.2f} "
              f"{r['per_key_notifications_per_incident'] or 0:17.2f} {inj['detected']:>3d}/{inj['trials']:<4d} "
              f"{inj['median_delay_minutes'] if inj['median_delay_minutes'] is not None else '-':>9} min")
    for name, r in out.items():
        print(f"== incidents of the {name} replay ({r['incidents']}) ==")
        for i in r["incident_list"]:
            label = f"{i['headline_label']} ({i['headline_key']})" if i["headline_label"] else i["headline_key"]
            print(f"  {i['first_seen'][:16]}  {i['severity']:8} {label}  [{len(i['keys'])} keys, "
                  f"{i['notifications']} notif]  | " + " ; ".join(i["top_titles"]))
