"""Streaming spike processor: consumes CountEvents (and watermark ticks), produces Alert episode state changes
(firing / escalated / resolved), each stamped with its incident, and the Incident revisions they cause. All state
lives in a caller-supplied mapping of JSON-serialisable dicts."""
from __future__ import annotations

import hashlib
import logging
import math
from datetime import datetime, timezone
from typing import Any, Dict, List, MutableMapping, Optional, Tuple

from processors.spikes.detector import (DetectorConfig, anscombe_z, poisson_z, severity_of, severity_rank)
from processors.spikes.incidents import INCIDENTS_KEY, IncidentConfig, IncidentTracker
from processors.spikes.keys import VOLUME_KEY, dimensions_of
from processors.spikes.kibana import discover_url
from streams.records import Alert, ArticleRef, CountEvent, Incident, iso, parse_time

logger = logging.getLogger(__name__)

META_KEY = "__meta__"
STATE_VERSION = 1
HIST_BUCKETS = 48            # finalised overall-volume counts kept in the meta record

__all__ = ["SpikeProcessor", "DetectorConfig", "META_KEY", "INCIDENTS_KEY"]
RESERVED_KEYS = frozenset({META_KEY, INCIDENTS_KEY})


def _short(value: str) -> str:
    """Compact stable digest of an id (dedup sets stay small)."""
    return hashlib.blake2b(value.encode("utf-8"), digest_size=6).hexdigest()


def _epoch(ts: str) -> float:
    return parse_time(ts).timestamp()


def _iso_epoch(sec: float) -> str:
    return iso(datetime.fromtimestamp(sec, tz=timezone.utc))


def _root(parent: List[int], c: int) -> int:
    while parent[c] != c:
        parent[c] = parent[parent[c]]
        c = parent[c]
    return c


def _link(bucket: Dict[str, Any], keys: List[str]) -> int:
    """Add an item with near-duplicate `keys` to the bucket's components (union-find over JSON lists: "d" maps a key
    to a component, "u" holds parents, "n" counts components); returns the change of the component count (+1 a new
    story, 0 a copy of one, negative when the item bridges several)."""
    d = bucket.setdefault("d", {})
    parent = bucket.setdefault("u", [])
    roots = sorted({_root(parent, d[k]) for k in keys if k in d})
    if roots:
        root = roots[0]
        for r in roots[1:]:
            parent[r] = root
    else:
        root = len(parent)
        parent.append(root)
    for k in keys:
        d.setdefault(k, root)
    delta = 1 - len(roots)
    bucket["n"] = int(bucket.get("n", 0)) + delta
    return delta


def stories(bucket: Dict[str, Any]) -> int:
    """Distinct stories in a bucket: near-duplicate components plus story ids of items without keys."""
    return len(bucket["s"]) + int(bucket.get("n", 0))


class SpikeProcessor:
    """Per-key event-time buckets, share-of-volume baseline, scan evidence and one-surge-one-episode alerts.

    `states` may be a dict (backtests) or a Faust Table (stream): every change is written back by assignment.
    The watermark is event time (max published_at seen, or what `tick` is given); items whose bucket ended more
    than `allowed_lateness_seconds` before the watermark are ignored and counted in `late_events`.
    """

    def __init__(self, states: MutableMapping[str, dict], config: DetectorConfig = DetectorConfig(),
                 bucket_seconds: int = 3600, allowed_lateness_seconds: int = 6 * 3600,
                 kibana_url: str = "http://localhost:5601", news_index: str = "surgewatch-news",
                 incident_config: IncidentConfig = IncidentConfig()) -> None:
        self.states = states
        self.config = config
        self.bs = int(bucket_seconds)
        self.lateness_buckets = int(math.ceil(allowed_lateness_seconds / self.bs))
        self.retain_buckets = max(self.lateness_buckets, config.scan_buckets - 1) + 1
        self.kibana_url = kibana_url
        self.data_view = news_index.rstrip("*") + "*"
        self.decay = 0.5 ** (self.bs / config.share_halflife_seconds)
        self.late_events = 0
        self.duplicate_events = 0
        self.events = 0
        self.incidents = IncidentTracker(states, self.window_items, self.bs, incident_config, kibana_url,
                                         self.data_view, describe=self.describe)
        self._incident_records: List[Incident] = []

    # ------------------------------------------------------------------ state helpers
    def _meta(self) -> Dict[str, Any]:
        meta = self.states.get(META_KEY)
        if meta is None:
            meta = {"v": STATE_VERSION, "wb": None, "F": None, "A": 0.0, "W": 0.0, "hist": {}, "open": [], "late": 0}
        return meta

    @staticmethod
    def _new_key(bucket: int) -> Dict[str, Any]:
        return {"f": bucket, "c": 0.0, "cb": None, "p": None, "ob": {}}

    # ------------------------------------------------------------------ public API
    def process(self, event: CountEvent) -> List[Alert]:
        """Count one event into its key's open bucket; return the alerts it (or the time it advances) causes, each
        with its incident_id (the incident revisions wait in `take_incidents`)."""
        return self._grouped(self._process(event))

    def tick(self, watermark: datetime) -> List[Alert]:
        """Advance event time to `watermark` (aware datetime, event-time clock): closes buckets, resolves episodes."""
        return self._grouped(self._tick(watermark))

    def take_incidents(self) -> List[Incident]:
        """The incident revisions caused by the alerts returned since the last call, in order."""
        out, self._incident_records = self._incident_records, []
        return out

    def _grouped(self, alerts: List[Alert]) -> List[Alert]:
        if alerts:
            wb = self._meta()["wb"]
            self._incident_records.extend(self.incidents.observe(alerts, int(wb) if wb is not None else 0))
        return alerts

    def window_items(self, key: str, lo: int, hi: int) -> set:
        """Short ids of every article counted for `key` in buckets lo..hi (still held in its state)."""
        ks = self.states.get(key)
        if ks is None:
            return set()
        out: set = set()
        for sb, bk in ks["ob"].items():
            if lo <= int(sb) <= hi:
                out.update(bk.get("i", ()))
        return out

    def describe(self, key: str) -> Tuple[Optional[str], int]:
        """A key's label and specificity, as its count events gave them."""
        ks = self.states.get(key) or {}
        return ks.get("lb"), int(ks.get("dp") or key.count("|") + 1)

    def _process(self, event: CountEvent) -> List[Alert]:
        self.events += 1
        b = int(_epoch(event.published_at) // self.bs)
        meta = self._meta()
        wb = meta["wb"]
        if wb is not None and b < wb - self.lateness_buckets:
            self.late_events += 1
            meta["late"] = int(meta.get("late", 0)) + 1
            self.states[META_KEY] = meta
            return []
        alerts: List[Alert] = []
        if wb is None or b > wb:
            alerts.extend(self._advance(meta, b))
            meta = self._meta()
        ks = self.states.get(event.key)
        if ks is None:
            ks = self._new_key(b)
        changed = self._add(ks, b, event)
        if not changed:
            self.duplicate_events += 1
            if changed is not None:
                self.states[event.key] = ks   # a new copy of a counted story: only its item id is recorded
            return alerts
        if event.label and ks.get("lb") != event.label:
            ks["lb"] = event.label
        if event.depth is not None and ks.get("dp") != event.depth:
            ks["dp"] = event.depth
        if event.key != VOLUME_KEY:
            alerts.extend(self._evaluate(event.key, ks, meta, b, event.published_at))
        self.states[event.key] = ks
        return alerts

    def _tick(self, watermark: datetime) -> List[Alert]:
        b = int(watermark.timestamp() // self.bs)
        meta = self._meta()
        if meta["wb"] is not None and b <= meta["wb"]:
            return []
        return self._advance(meta, b)

    def open_episodes(self) -> List[str]:
        return list(self._meta().get("open", []))

    # ------------------------------------------------------------------ counting
    def _add(self, ks: Dict[str, Any], b: int, event: CountEvent) -> Optional[bool]:
        """Record the event in its bucket: True when the story count or outlets changed, False for another copy of
        a counted story, None for an item already counted."""
        ob = ks["ob"]
        sb = str(b)
        bucket = ob.get(sb)
        if bucket is None:
            bucket = {"s": [], "i": [], "o": [], "a": [], "t": {}}
        # an item counted once stays counted once, even when it comes back with another story id (re-enriched
        # after a restart, when the near-duplicate clusterer starts empty)
        iid = _short(event.item_id)
        items = bucket.setdefault("i", [])
        if iid in items:
            return None
        items.append(iid)
        ob[sb] = bucket
        sid = _short(event.story_id or event.item_id)
        outlet = event.outlet or ""
        if event.dup_keys:
            # stories = connected components of the bucket's items linked by a shared near-duplicate key: the
            # count depends on which items are in the bucket, not on their order, worker or story ids
            delta = _link(bucket, event.dup_keys)
            new_story, changed = delta > 0, delta != 0
        else:   # no text to compare (or an event from before near-duplicate keys): the story id decides
            new_story = changed = sid not in bucket["s"]
            if new_story:
                bucket["s"].append(sid)
        if new_story:
            if len(bucket["a"]) < self.config.max_articles:
                a = event.article
                bucket["a"].append([a.id, a.title, a.url, a.source, a.published_at or event.published_at, sid])
            tags = bucket["t"]
            for t in event.co_tags[:20]:
                tags[t] = tags.get(t, 0) + 1
            if len(tags) > 4 * self.config.max_co_tags:
                keep = sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[: 2 * self.config.max_co_tags]
                bucket["t"] = dict(keep)
        if outlet and outlet not in bucket["o"] and len(bucket["o"]) < 64:
            bucket["o"].append(outlet)
            changed = True
        return changed

    # ------------------------------------------------------------------ baseline
    def _all_count(self, meta: Dict[str, Any], j: int) -> Optional[float]:
        h = meta["hist"].get(str(j))
        if h is not None:
            return float(h)
        a = self.states.get(VOLUME_KEY)
        if a is not None:
            bk = a["ob"].get(str(j))
            if bk is not None:
                return float(stories(bk))
        if meta["F"] is not None and j <= meta["F"]:
            return None
        return 0.0

    def _share(self, ks: Dict[str, Any], meta: Dict[str, Any]) -> float:
        F = meta["F"]
        A = float(meta["A"])
        if F is None or A <= 0:
            return 0.0
        c = float(ks["c"])
        if ks["cb"] is not None:
            c *= self.decay ** (F - ks["cb"])
        return (c + 0.5) / A

    def _dispersion(self, ks: Dict[str, Any]) -> float:
        p = ks.get("p")
        return float(self.config.dispersion_prior if p is None else p)

    def _fold(self, ks: Dict[str, Any], meta: Dict[str, Any]) -> None:
        """Fold the key's finalised buckets (<= F) into its decayed count, with Huber clipping."""
        F = meta["F"]
        if F is None:
            return
        cfg = self.config
        for sb in sorted(ks["ob"], key=int):
            j = int(sb)
            if j > F:
                break
            if ks["cb"] is not None and j <= ks["cb"]:
                continue
            x = float(stories(ks["ob"][sb]))
            all_j = self._all_count(meta, j)
            phi2 = self._dispersion(ks)
            if all_j is not None and all_j > 0 and ks["cb"] is not None:
                mu = self._share(ks, meta) * all_j
                bound = (math.sqrt(mu + 0.375) + cfg.huber_z * math.sqrt(phi2) / 2.0) ** 2 - 0.375
                z0 = anscombe_z(x, mu, 1.0)
                ks["p"] = round((1 - cfg.dispersion_weight) * phi2 + cfg.dispersion_weight
                                * min(max(z0 * z0, 1.0), cfg.dispersion_max), 4)
                x = min(x, bound)
            c = float(ks["c"])
            if ks["cb"] is not None:
                c *= self.decay ** (j - ks["cb"])
            ks["c"] = round(c + x, 6)
            ks["cb"] = j

    def _prune(self, ks: Dict[str, Any], wb: int) -> None:
        lo = wb - self.retain_buckets
        for sb in [s for s in ks["ob"] if int(s) < lo]:
            if ks["cb"] is None or int(sb) <= ks["cb"]:
                del ks["ob"][sb]

    # ------------------------------------------------------------------ time
    def _advance(self, meta: Dict[str, Any], new_wb: int) -> List[Alert]:
        """Move the watermark bucket; finalise overall-volume buckets; resolve episodes that went quiet."""
        alerts: List[Alert] = []
        old_wb = meta["wb"]
        meta["wb"] = new_wb
        final_upto = new_wb - self.lateness_buckets - 1
        allst = self.states.get(VOLUME_KEY)
        if allst is not None:
            F = meta["F"]
            for sb in sorted(allst["ob"], key=int):
                j = int(sb)
                if j > final_upto or (F is not None and j <= F):
                    continue
                n = float(stories(allst["ob"][sb]))
                A = float(meta["A"])
                Wt = float(meta.get("W", 0.0))
                if F is not None:
                    A *= self.decay ** (j - F)
                    Wt *= self.decay ** (j - F)
                meta["A"] = round(A + n, 6)
                meta["W"] = round(Wt + 1.0, 6)
                meta["F"] = F = j
                meta["hist"][sb] = int(n)
            if F is not None and F < final_upto and meta["A"] > 0:
                meta["A"] = round(float(meta["A"]) * self.decay ** (final_upto - F), 6)
                meta["W"] = round(float(meta.get("W", 0.0)) * self.decay ** (final_upto - F), 6)
                meta["F"] = final_upto
            hist_lo = new_wb - HIST_BUCKETS
            meta["hist"] = {k: v for k, v in meta["hist"].items() if int(k) >= hist_lo}
            self._fold(allst, meta)
            self._prune(allst, new_wb)
            self.states[VOLUME_KEY] = allst
        self.states[META_KEY] = meta
        # Resolve quiet episodes.
        for key in list(meta["open"]):
            ks = self.states.get(key)
            if ks is None or "ep" not in ks:
                meta["open"].remove(key)
                continue
            alert = self._check_resolution(key, ks, meta, new_wb)
            if alert is not None:
                alerts.append(alert)
                meta["open"].remove(key)
            self.states[key] = ks
        self.states[META_KEY] = meta
        if old_wb is not None and new_wb > old_wb:
            logger.debug("watermark bucket %s -> %s, %d alerts", old_wb, new_wb, len(alerts))
        return alerts

    def compact(self) -> int:
        """Fold and prune stale buckets of every key (bounded memory for keys that went quiet); returns keys changed."""
        meta = self._meta()
        if meta["wb"] is None:
            return 0
        changed = 0
        for key in list(self.states.keys()):
            if key in RESERVED_KEYS:
                continue
            ks = self.states[key]
            lo = meta["wb"] - self.retain_buckets
            if any(int(s) < lo for s in ks.get("ob", {})):
                self._fold(ks, meta)
                self._prune(ks, meta["wb"])
                self.states[key] = ks
                changed += 1
        return changed

    # ------------------------------------------------------------------ evidence
    def _expected(self, share: float, meta: Dict[str, Any], j: int, x: float, elapsed: float) -> float:
        """Expected count of a key in bucket j given the *other* items of that bucket (a key's own surge does not
        inflate its expectation), floored by the average overall volume for the elapsed part of the bucket."""
        all_j = self._all_count(meta, j) or 0.0
        avg = float(meta["A"]) / max(float(meta.get("W", 0.0)), 1.0)   # mean overall volume per bucket
        others = max(all_j - x, avg * min(max(elapsed, 1.0 / 12.0), 1.0))
        s = min(share, 0.95)
        return s / (1.0 - s) * others

    def _bucket_z(self, ks: Dict[str, Any], meta: Dict[str, Any], j: int) -> float:
        bk = ks["ob"].get(str(j))
        x = float(stories(bk)) if bk else 0.0
        return poisson_z(x, self._expected(self._share(ks, meta), meta, j, x, 1.0), self._dispersion(ks))

    def _scan(self, ks: Dict[str, Any], meta: Dict[str, Any], end: int, now: float) -> Tuple[float, float, float, int, int, int]:
        """Best evidence over windows end-m+1..end: (z, observed, expected, start bucket, stories, outlets)."""
        share = self._share(ks, meta)
        phi2 = self._dispersion(ks)
        best = (-math.inf, 0.0, 0.0, end, 0, 0)
        x_sum = 0.0
        mu_sum = 0.0
        outlets: set = set()
        for m in range(self.config.scan_buckets):
            j = end - m
            bk = ks["ob"].get(str(j))
            x_j = float(stories(bk)) if bk is not None else 0.0
            if bk is not None:
                x_sum += x_j
                outlets.update(bk["o"])
            mu_sum += self._expected(share, meta, j, x_j, (now - j * self.bs) / self.bs)
            z = poisson_z(x_sum, mu_sum, phi2)
            if z > best[0]:
                best = (z, x_sum, mu_sum, j, int(x_sum), len(outlets))
        return best

    def _collect(self, ks: Dict[str, Any], lo: int, hi: int) -> Tuple[List[ArticleRef], List[str]]:
        arts: List[ArticleRef] = []
        seen: set = set()
        tags: Dict[str, int] = {}
        for j in range(hi, lo - 1, -1):
            bk = ks["ob"].get(str(j))
            if not bk:
                continue
            for a in bk["a"]:
                story = a[5] if len(a) > 5 else a[0]
                if story in seen:
                    continue
                seen.add(story)
                arts.append(ArticleRef(id=a[0], title=a[1], url=a[2], source=a[3], published_at=a[4]))
            for t, n in bk["t"].items():
                tags[t] = tags.get(t, 0) + n
        arts.sort(key=lambda r: r.published_at or "")
        co = [t for t, _ in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[: self.config.max_co_tags]]
        return arts[: self.config.max_articles], co

    def _evaluate(self, key: str, ks: Dict[str, Any], meta: Dict[str, Any], b: int, now: str) -> List[Alert]:
        cfg = self.config
        if meta["F"] is None:
            return []
        self._fold(ks, meta)
        self._prune(ks, meta["wb"])
        if b - int(ks["f"]) < cfg.min_history_buckets:
            return []
        z, obs, exp, start, stories, outlets = self._scan(ks, meta, b, _epoch(now))
        ep = ks.get("ep")
        if ep is None:
            if ks.get("cd") is not None and b <= int(ks["cd"]):
                return []
            if z < cfg.fire_z or stories < cfg.min_stories or outlets < cfg.min_outlets:
                return []
            sev = severity_of(z, cfg) or "low"
            ep = {"id": hashlib.sha1(f"{key}|{start * self.bs}".encode()).hexdigest()[:20],
                  "sb": start, "eb": b, "last": b, "q": 0, "sev": sev, "z": round(z, 4),
                  "obs": obs, "exp": round(exp, 4)}
            ks["ep"] = ep
            if key not in meta["open"]:
                meta["open"].append(key)
                self.states[META_KEY] = meta
            return [self._alert(key, ks, "firing", now)]
        # Ongoing episode: extend, maybe escalate.
        ep["eb"] = max(int(ep["eb"]), b)
        if z >= cfg.resolve_z:
            ep["last"] = max(int(ep["last"]), b)
        sev = severity_of(z, cfg)
        if z > float(ep["z"]):
            ep["z"], ep["obs"], ep["exp"] = round(z, 4), obs, round(exp, 4)
        if sev is not None and severity_rank(sev) > severity_rank(ep["sev"]):
            ep["sev"] = sev
            return [self._alert(key, ks, "escalated", now)]
        return []

    def _check_resolution(self, key: str, ks: Dict[str, Any], meta: Dict[str, Any], wb: int) -> Optional[Alert]:
        ep = ks["ep"]
        self._fold(ks, meta)
        j = int(ep.get("chk", ep["last"])) + 1
        while j < wb:                      # complete buckets only
            if self._bucket_z(ks, meta, j) >= self.config.resolve_z:
                ep["last"] = j
                ep["q"] = 0
            else:
                ep["q"] = int(ep["q"]) + 1
            ep["chk"] = j
            if ep["q"] >= self.config.quiet_buckets:
                alert = self._alert(key, ks, "resolved")
                ks["cd"] = wb + self.config.cooldown_buckets - 1
                del ks["ep"]
                self._prune(ks, wb)
                return alert
            j += 1
        self._prune(ks, wb)
        return None

    def _alert(self, key: str, ks: Dict[str, Any], state: str, now: Optional[str] = None) -> Alert:
        ep = ks["ep"]
        lo = int(ep["sb"])
        hi = int(ep["last"]) if state == "resolved" else int(ep["eb"])
        ws = _iso_epoch(lo * self.bs)
        we = _iso_epoch((hi + 1) * self.bs)
        arts, co = self._collect(ks, lo, hi)
        prev = ep.get("arts", [])
        if state == "resolved" and not arts and prev:   # buckets already pruned: reuse what we reported
            arts = [ArticleRef(id=a[0], title=a[1], url=a[2], source=a[3], published_at=a[4]) for a in prev]
            co = list(ep.get("co", []))
        else:
            ep["arts"] = [[a.id, a.title, a.url, a.source, a.published_at] for a in arts]
            ep["co"] = co
        wb = self._meta()["wb"]
        return Alert(alert_id=ep["id"], key=key, dimensions=dimensions_of(key), window_start=ws, window_end=we,
                     state=state, observed=float(ep["obs"]), expected=round(float(ep["exp"]), 4),
                     score=round(float(ep["z"]), 3), severity=ep["sev"], top_articles=arts, co_tags=co,
                     kibana_url=discover_url(self.kibana_url, self.data_view, [a.id for a in arts], ws, we),
                     created_at=iso(parse_time(now)) if now else _iso_epoch((wb if wb is not None else hi + 1) * self.bs))
