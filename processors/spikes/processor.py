"""Streaming spike processor: consumes one item's CountEvents at a time (and watermark ticks), produces Alert episode
state changes (firing / escalated / resolved) and either groups them into incidents itself (stamping each Alert, the
Incident revisions waiting in `take_incidents`) or, as one lane of several, leaves the item's outcome for the
incident grouper (`take_outcomes`). State is typed (state.py) and lives in a caller-supplied mapping of JSON values
(a dict, or the stream's Faust table)."""
from __future__ import annotations

import hashlib
import logging
import math
from datetime import datetime, timezone
from typing import Any, Dict, List, MutableMapping, Optional, Set, Tuple

from processors.spikes import core, evidence
from processors.spikes.detector import DetectorConfig
from processors.spikes.incidents import INCIDENTS_KEY, IncidentConfig, IncidentTracker, canonical
from processors.spikes.keys import VOLUME_KEY, dimensions_of
from processors.spikes.kibana import discover_url
from processors.spikes.state import STATE_VERSION, Bucket, Episode, KeyState, Meta, link as _link, stories
from streams.records import Alert, ArticleRef, CountEvent, Incident, KeyedAlert, LaneOutcome, iso, parse_time

logger = logging.getLogger(__name__)

META_KEY = "__meta__"
HIST_BUCKETS = 48            # finalised overall-volume counts kept in the meta record

__all__ = ["SpikeProcessor", "DetectorConfig", "META_KEY", "INCIDENTS_KEY", "STATE_VERSION"]
RESERVED_KEYS = frozenset({META_KEY, INCIDENTS_KEY})


def _short(value: str) -> str:
    """Compact stable digest of an id (dedup sets stay small)."""
    return hashlib.blake2b(value.encode("utf-8"), digest_size=6).hexdigest()


def _epoch(ts: str) -> float:
    return parse_time(ts).timestamp()


def _iso_epoch(sec: float) -> str:
    return iso(datetime.fromtimestamp(sec, tz=timezone.utc))


def _in_surge(ks: KeyState, j: int) -> bool:
    """Bucket j belongs to the key's open episode or to its last resolved one."""
    if ks.episode is not None and j >= ks.episode.start:
        return True
    return ks.surge is not None and ks.surge[0] <= j <= ks.surge[1]


def _lifecycle(ks: KeyState) -> core.Lifecycle:
    """The core's view of a key's stored episode and cooldown."""
    ep = ks.episode
    if ep is None:
        return core.Lifecycle(False, 0, ks.cooldown_until)
    return core.Lifecycle(True, ep.quiet, ks.cooldown_until, ep.severity)


def _ref(a: List[Any]) -> ArticleRef:
    return ArticleRef(id=a[0], title=a[1], url=a[2], source=a[3], published_at=a[4])


class SpikeProcessor:
    """Per-key event-time buckets, share-of-volume baseline, scan evidence and one-surge-one-episode alerts.

    `states` may be a dict (backtests) or a Faust Table (stream): every change is written back by assignment, as
    JSON of the typed state. The watermark is event time (max published_at seen, or what `tick` is given); items
    whose bucket ended more than `allowed_lateness_seconds` before the watermark are ignored and counted in
    `late_events`.
    """

    def __init__(self, states: MutableMapping[str, dict], config: DetectorConfig = DetectorConfig(),
                 bucket_seconds: int = 3600, allowed_lateness_seconds: int = 6 * 3600,
                 kibana_url: str = "http://localhost:5601", news_index: str = "surgewatch-news",
                 incident_config: IncidentConfig = IncidentConfig(), lane: Optional[Tuple[int, int]] = None) -> None:
        self.states = states
        self.config = config
        self.bs = int(bucket_seconds)
        self.lateness_buckets = int(math.ceil(allowed_lateness_seconds / self.bs))
        self.retain_buckets = max(self.lateness_buckets, config.scan_buckets - 1) + 1
        self.kibana_url = kibana_url
        self.data_view = news_index.rstrip("*") + "*"
        self.decay = 0.5 ** (self.bs / config.share_halflife_seconds)
        self.thresholds = core.stream_thresholds(config)
        self.late_events = 0
        self.duplicate_events = 0
        self.events = 0
        # one lane of several (lane, lanes): the incident grouper downstream groups; else this processor does
        self.lane = lane
        self.incident_config = incident_config
        self.incidents = None if lane else self.tracker(states)
        self._incident_records: List[Incident] = []
        self._outcomes: List[LaneOutcome] = []
        self._progress: Dict[str, List[str]] = {}     # this item's: key with an open episode -> new short ids
        self._window: Dict[int, List[str]] = {}       # id(alert) -> short ids of its evidence window
        self._keys: Dict[str, KeyState] = {}      # typed states read during the current call
        self._meta_state: Optional[Meta] = None
        # the two states every event reads, kept typed across calls while the stored value is the one written
        self._shared: Dict[str, Tuple[Any, Any]] = {}

    # ------------------------------------------------------------------ typed state
    def _begin(self) -> None:
        """Each call reads the states afresh (a Faust table may have changed hands in between)."""
        self._keys.clear()
        self._meta_state = None

    def _read(self, key: str) -> Tuple[Any, Any]:
        """(stored value, typed state or None); the typed state of META_KEY / VOLUME_KEY is reused while the
        stored value is the very object last written (a dict, or a Faust table's in-memory store)."""
        raw = self.states.get(key)
        hit = self._shared.get(key)
        if hit is not None and raw is not None and hit[0] is raw:
            return raw, hit[1]
        return raw, None

    def _meta(self) -> Meta:
        if self._meta_state is None:
            raw, typed = self._read(META_KEY)
            self._meta_state = typed if typed is not None else Meta.from_json(raw)
        return self._meta_state

    def _save_meta(self) -> None:
        meta = self._meta()
        raw = self.states[META_KEY] = meta.to_json()
        self._shared[META_KEY] = (raw, meta)

    def _get(self, key: str) -> Optional[KeyState]:
        ks = self._keys.get(key)
        if ks is None:
            raw, ks = self._read(key) if key == VOLUME_KEY else (self.states.get(key), None)
            if raw is None:
                return None
            ks = self._keys[key] = ks if ks is not None else KeyState.from_json(raw)
        return ks

    def _put(self, key: str, ks: KeyState) -> None:
        self._keys[key] = ks
        raw = self.states[key] = ks.to_json()
        if key == VOLUME_KEY:
            self._shared[key] = (raw, ks)

    # ------------------------------------------------------------------ public API
    def process(self, event: CountEvent) -> List[Alert]:
        """Count one event as an item of its own (see process_item)."""
        return self.process_item([event])

    def process_item(self, events: List[CountEvent]) -> List[Alert]:
        """Count one item's events (volume key first) into their keys' open buckets; return the alerts they (or the
        time they advance) cause, grouped at the item's end: each with its incident_id (the incident revisions wait
        in `take_incidents`), or, as a lane, left to the grouper (`take_outcomes`)."""
        self._begin()
        alerts: List[Alert] = []
        for event in events:
            alerts.extend(self._process(event))
        if not events:
            return alerts
        return self._end_item(alerts, events[0].published_at, events[0].item_id)

    def tick(self, watermark: datetime) -> List[Alert]:
        """Advance event time to `watermark` (aware datetime, event-time clock): closes buckets, resolves episodes."""
        self._begin()
        b = int(watermark.timestamp() // self.bs)
        meta = self._meta()
        if meta.watermark is not None and b <= meta.watermark:
            return []
        return self._end_item(self._advance(meta, b), iso(watermark), "")

    def take_incidents(self) -> List[Incident]:
        """The incident revisions caused by the alerts returned since the last call, in order."""
        out, self._incident_records = self._incident_records, []
        return out

    def tracker(self, states: MutableMapping[str, Any]) -> IncidentTracker:
        """An incident tracker over `states` with this processor's settings (the grouper of its lanes)."""
        return IncidentTracker(states, self.bs, self.incident_config, self.kibana_url, self.data_view)

    def take_outcomes(self) -> List[LaneOutcome]:
        """A lane's outcomes of the items (and ticks) handled since the last call that alerted or progressed."""
        out, self._outcomes = self._outcomes, []
        return out

    def open_episodes(self) -> List[str]:
        self._begin()
        return list(self._meta().open)

    def _end_item(self, alerts: List[Alert], published_at: str, item_id: str) -> List[Alert]:
        """The item's alerts, with their evidence windows and keys' labels, and its progress, to the incident
        tracker (or, as a lane, to an outcome for the grouper); returns the alerts in canonical order."""
        meta = self._meta()
        meta.items += 1
        self._save_meta()
        progress, self._progress = self._progress, {}
        if not alerts and not progress:
            return alerts
        keyed = []
        for a in alerts:
            label, depth = self.describe(a.key)
            keyed.append(KeyedAlert(alert=a, items=self._window.pop(id(a), []), label=label, depth=depth))
        self._window.clear()
        keyed = canonical(keyed)
        if self.incidents is not None:
            self._incident_records.extend(self.incidents.observe_item(keyed, progress))
        else:
            lane, lanes = self.lane or (0, 1)
            self._outcomes.append(LaneOutcome(lane=lane, lanes=lanes, published_at=published_at, item_id=item_id,
                                              watermark=int(meta.watermark or 0), seq=meta.items, alerts=keyed,
                                              progress=progress))
        return [k.alert for k in keyed]

    def marker(self, published_at: str, item_id: str) -> LaneOutcome:
        """A lane's progress marker: it has handled every item up to this position."""
        meta = self._meta()
        lane, lanes = self.lane or (0, 1)
        return LaneOutcome(lane=lane, lanes=lanes, published_at=published_at, item_id=item_id,
                           watermark=int(meta.watermark or 0), seq=meta.items, marker=True)

    def window_items(self, key: str, lo: int, hi: int) -> Set[str]:
        """Short ids of every article counted for `key` in buckets lo..hi (still held in its state)."""
        ks = self._get(key)
        out: Set[str] = set()
        if ks is not None:
            for j, bk in ks.buckets.items():
                if lo <= j <= hi:
                    out.update(bk.items)
        return out

    def describe(self, key: str) -> Tuple[Optional[str], int]:
        """A key's label and specificity, as its count events gave them."""
        ks = self._get(key)
        if ks is None:
            return None, key.count("|") + 1
        return ks.label, int(ks.depth or key.count("|") + 1)

    def _process(self, event: CountEvent) -> List[Alert]:
        self.events += 1
        b = int(_epoch(event.published_at) // self.bs)
        meta = self._meta()
        wb = meta.watermark
        if wb is not None and b < wb - self.lateness_buckets:
            self.late_events += 1
            meta.late += 1
            self._save_meta()
            return []
        alerts: List[Alert] = []
        if wb is None or b > wb:
            alerts.extend(self._advance(meta, b))
        ks = self._get(event.key) or KeyState(first_bucket=b)
        changed = self._add(ks, b, event)
        if changed is not None and ks.episode is not None:   # an open episode's key counted a new article
            self._progress.setdefault(event.key, []).append(_short(event.item_id))
        if not changed:
            self.duplicate_events += 1
            if changed is not None:
                self._put(event.key, ks)   # a new copy of a counted story: only its item id is recorded
            return alerts
        if event.label:
            ks.label = event.label
        if event.depth is not None:
            ks.depth = event.depth
        if event.key != VOLUME_KEY:
            alerts.extend(self._evaluate(event.key, ks, meta, b, event.published_at))
        self._put(event.key, ks)
        return alerts

    # ------------------------------------------------------------------ counting
    def _add(self, ks: KeyState, b: int, event: CountEvent) -> Optional[bool]:
        """Record the event in its bucket: True when the story count or outlets changed, False for another copy of
        a counted story, None for an item already counted."""
        bucket = ks.buckets.get(b) or Bucket()
        # an item counted once stays counted once, even when it comes back with another story id (re-enriched
        # after a restart, when the near-duplicate clusterer starts empty)
        iid = _short(event.item_id)
        if iid in bucket.items:
            return None
        bucket.items.append(iid)
        ks.buckets[b] = bucket
        sid = _short(event.story_id or event.item_id)
        if event.dup_keys:
            # stories = connected components of the bucket's items linked by a shared near-duplicate key: the
            # count depends on which items are in the bucket, not on their order, worker or story ids
            delta = _link(bucket, event.dup_keys)
            new_story, changed = delta > 0, delta != 0
        else:   # no text to compare (or an event from before near-duplicate keys): the story id decides
            new_story = changed = sid not in bucket.stories
            if new_story:
                bucket.stories.append(sid)
        if new_story:
            self._add_story(bucket, event, sid)
        outlet = event.outlet or ""
        if outlet and outlet not in bucket.outlets and len(bucket.outlets) < 64:
            bucket.outlets.append(outlet)
            changed = True
        return changed

    def _add_story(self, bucket: Bucket, event: CountEvent, sid: str) -> None:
        if len(bucket.articles) < self.config.max_articles:
            a = event.article
            bucket.articles.append([a.id, a.title, a.url, a.source, a.published_at or event.published_at, sid])
        tags = bucket.tags
        for t in event.co_tags[:20]:
            tags[t] = tags.get(t, 0) + 1
        if len(tags) > 4 * self.config.max_co_tags:
            keep = sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[: 2 * self.config.max_co_tags]
            bucket.tags = dict(keep)

    # ------------------------------------------------------------------ baseline
    def _all_count(self, meta: Meta, j: int) -> Optional[float]:
        h = meta.hist.get(j)
        if h is not None:
            return float(h)
        a = self._get(VOLUME_KEY)
        if a is not None:
            bk = a.buckets.get(j)
            if bk is not None:
                return float(stories(bk))
        if meta.final is not None and j <= meta.final:
            return None
        return 0.0

    def _share(self, ks: KeyState, meta: Meta) -> float:
        if meta.final is None or meta.volume <= 0:
            return 0.0
        c = ks.count
        if ks.count_bucket is not None:
            c = evidence.decayed(c, meta.final - ks.count_bucket, self.decay)
        return (c + 0.5) / meta.volume

    def _dispersion(self, ks: KeyState) -> float:
        return float(self.config.dispersion_prior if ks.dispersion is None else ks.dispersion)

    def _fold(self, ks: KeyState, meta: Meta) -> None:
        """Fold the key's finalised buckets (<= final) into its decayed count; the evidence core learns the
        dispersion from each and Huber-clips it (expected = its share of the bucket's volume)."""
        if meta.final is None:
            return
        cfg = self.config
        for j in sorted(ks.buckets):
            if j > meta.final:
                break
            if ks.count_bucket is not None and j <= ks.count_bucket:
                continue
            x = float(stories(ks.buckets[j]))
            all_j = self._all_count(meta, j)
            if all_j is not None and all_j > 0 and ks.count_bucket is not None:
                mu = self._share(ks, meta) * all_j
                if _in_surge(ks, j):     # a key's own surge teaches its baseline nothing: it counts as expected
                    x = min(x, mu)
                else:
                    phi2, x = evidence.learn(self._dispersion(ks), x, mu, cfg.dispersion_weight,
                                             cfg.dispersion_max, cfg.huber_z)
                    ks.dispersion = round(phi2, 4)
            c = ks.count
            if ks.count_bucket is not None:
                c = evidence.decayed(c, j - ks.count_bucket, self.decay)
            ks.count = round(c + x, 6)
            ks.count_bucket = j

    def _prune(self, ks: KeyState, wb: int) -> None:
        lo = wb - self.retain_buckets
        for j in [j for j in ks.buckets if j < lo]:
            if ks.count_bucket is None or j <= ks.count_bucket:
                del ks.buckets[j]

    # ------------------------------------------------------------------ time
    def _finalise_volume(self, meta: Meta, new_wb: int) -> None:
        """Fold the overall-volume buckets beyond the allowed lateness into the volume baseline."""
        final_upto = new_wb - self.lateness_buckets - 1
        allst = self._get(VOLUME_KEY)
        if allst is None:
            return
        F = meta.final
        for j in sorted(allst.buckets):
            if j > final_upto or (F is not None and j <= F):
                continue
            n = float(stories(allst.buckets[j]))
            A, Wt = meta.volume, meta.weight
            if F is not None:
                A *= self.decay ** (j - F)
                Wt *= self.decay ** (j - F)
            meta.volume, meta.weight = round(A + n, 6), round(Wt + 1.0, 6)
            meta.final = F = j
            meta.hist[j] = int(n)
        if F is not None and F < final_upto and meta.volume > 0:
            meta.volume = round(meta.volume * self.decay ** (final_upto - F), 6)
            meta.weight = round(meta.weight * self.decay ** (final_upto - F), 6)
            meta.final = final_upto
        hist_lo = new_wb - HIST_BUCKETS
        meta.hist = {k: v for k, v in meta.hist.items() if k >= hist_lo}
        self._fold(allst, meta)
        self._prune(allst, new_wb)
        self._put(VOLUME_KEY, allst)

    def _advance(self, meta: Meta, new_wb: int) -> List[Alert]:
        """Move the watermark bucket; finalise overall-volume buckets; resolve episodes that went quiet."""
        alerts: List[Alert] = []
        old_wb = meta.watermark
        meta.watermark = new_wb
        self._finalise_volume(meta, new_wb)
        for key in list(meta.open):
            ks = self._get(key)
            if ks is None or ks.episode is None:
                meta.open.remove(key)
                continue
            alert = self._check_resolution(key, ks, meta, new_wb)
            if alert is not None:
                alerts.append(alert)
                meta.open.remove(key)
            self._put(key, ks)
        self._save_meta()
        if old_wb is not None and new_wb > old_wb:
            logger.debug("watermark bucket %s -> %s, %d alerts", old_wb, new_wb, len(alerts))
        return alerts

    def compact(self) -> int:
        """Fold and prune stale buckets of every key (bounded memory for keys that went quiet); returns keys changed."""
        self._begin()
        meta = self._meta()
        if meta.watermark is None:
            return 0
        changed = 0
        lo = meta.watermark - self.retain_buckets
        for key in list(self.states.keys()):
            if key in RESERVED_KEYS:
                continue
            ks = self._get(key)
            if ks is not None and any(j < lo for j in ks.buckets):
                self._fold(ks, meta)
                self._prune(ks, meta.watermark)
                self._put(key, ks)
                changed += 1
            self._keys.pop(key, None)   # compaction visits every key once: keep none of them in memory
        return changed

    # ------------------------------------------------------------------ evidence
    def _expected(self, share: float, meta: Meta, j: int, x: float, elapsed: float) -> float:
        """Expected count of a key in bucket j given the *other* items of that bucket (a key's own surge does not
        inflate its expectation), floored by the average overall volume for the elapsed part of the bucket."""
        all_j = self._all_count(meta, j) or 0.0
        avg = meta.volume / max(meta.weight, 1.0)   # mean overall volume per bucket
        others = max(all_j - x, avg * min(max(elapsed, 1.0 / 12.0), 1.0))
        return evidence.share_expected(share, others)

    def _bucket_z(self, ks: KeyState, meta: Meta, j: int) -> float:
        bk = ks.buckets.get(j)
        x = float(stories(bk)) if bk else 0.0
        return evidence.poisson_z(x, self._expected(self._share(ks, meta), meta, j, x, 1.0), self._dispersion(ks))

    def _scan(self, ks: KeyState, meta: Meta, end: int, now: float) -> Tuple[float, float, float, int, int, int]:
        """Best evidence over windows end-m+1..end (the evidence core's scan of the key's stories against its share
        of the other items): (z, observed, expected, start bucket, stories, outlets)."""
        share = self._share(ks, meta)
        observed: List[float] = []
        expected: List[float] = []
        for j in range(end, end - self.config.scan_buckets, -1):
            bk = ks.buckets.get(j)
            observed.append(float(stories(bk)) if bk is not None else 0.0)
            expected.append(self._expected(share, meta, j, observed[-1], (now - j * self.bs) / self.bs))
        w = evidence.scan(observed, expected, self._dispersion(ks))
        start = end - w.length + 1
        outlets = {o for j in range(start, end + 1) if j in ks.buckets for o in ks.buckets[j].outlets}
        return w.z, w.observed, w.expected, start, int(w.observed), len(outlets)

    def _collect(self, ks: KeyState, lo: int, hi: int) -> Tuple[List[ArticleRef], List[str]]:
        arts: List[ArticleRef] = []
        seen: set = set()
        tags: Dict[str, int] = {}
        for j in range(hi, lo - 1, -1):
            bk = ks.buckets.get(j)
            if not bk:
                continue
            for a in bk.articles:
                story = a[5] if len(a) > 5 else a[0]
                if story in seen:
                    continue
                seen.add(story)
                arts.append(_ref(a))
            for t, n in bk.tags.items():
                tags[t] = tags.get(t, 0) + n
        arts.sort(key=lambda r: r.published_at or "")
        co = [t for t, _ in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[: self.config.max_co_tags]]
        return arts[: self.config.max_articles], co

    def _evaluate(self, key: str, ks: KeyState, meta: Meta, b: int, now: str) -> List[Alert]:
        cfg = self.config
        if meta.final is None:
            return []
        self._fold(ks, meta)
        self._prune(ks, meta.watermark if meta.watermark is not None else b)
        if b - ks.first_bucket < cfg.min_history_buckets:
            return []
        z, obs, exp, start, n_stories, outlets = self._scan(ks, meta, b, _epoch(now))
        life = _lifecycle(ks)
        gates = n_stories >= cfg.min_stories and outlets >= cfg.min_outlets
        decision = core.step(life, z, b, self.thresholds, gates_ok=gates)
        if decision == core.OPEN:
            return self._open(key, ks, meta, life, b, now, (z, obs, exp, start))
        if ks.episode is None:
            return []
        self._extend(ks.episode, b, z, obs, exp)
        if decision == core.ESCALATE:
            ks.episode.severity = life.severity or ks.episode.severity
            return [self._alert(key, ks, "escalated", now)]
        return []

    def _open(self, key: str, ks: KeyState, meta: Meta, life: core.Lifecycle, b: int, now: str,
              scan: Tuple[float, float, float, int]) -> List[Alert]:
        z, obs, exp, start = scan
        ks.episode = Episode(id=hashlib.sha1(f"{key}|{start * self.bs}".encode()).hexdigest()[:20],
                             start=start, end=b, last=b, quiet=0, severity=life.severity or "low",
                             z=round(z, 4), observed=obs, expected=round(exp, 4))
        if key not in meta.open:
            meta.open.append(key)
            self._save_meta()
        return [self._alert(key, ks, "firing", now)]

    def _extend(self, ep: Episode, b: int, z: float, obs: float, exp: float) -> None:
        """An event of an open episode: its window grows; its peak evidence is kept."""
        ep.end = max(ep.end, b)
        if not core.is_calm(z, self.thresholds):
            ep.last = max(ep.last, b)
        if z > ep.z:
            ep.z, ep.observed, ep.expected = round(z, 4), obs, round(exp, 4)

    def _check_resolution(self, key: str, ks: KeyState, meta: Meta, wb: int) -> Optional[Alert]:
        """Complete buckets since the last check, through the core: each calm one counts; enough of them resolve
        (the cooldown counts from the last complete bucket)."""
        ep = ks.episode
        assert ep is not None
        self._fold(ks, meta)
        life = _lifecycle(ks)
        j = (ep.checked if ep.checked is not None else ep.last) + 1
        while j < wb:                      # complete buckets only
            z = self._bucket_z(ks, meta, j)
            if not core.is_calm(z, self.thresholds):
                ep.last = j
            decision = core.step(life, z, wb - 1, self.thresholds, elapsed=1)
            ep.quiet, ep.checked = int(life.quiet), j
            if decision == core.RESOLVE:
                alert = self._alert(key, ks, "resolved")
                ks.surge = [ep.start, ep.last]
                ks.cooldown_until = int(life.cooldown_until)
                ks.episode = None
                self._prune(ks, wb)
                return alert
            j += 1
        self._prune(ks, wb)
        return None

    def _alert(self, key: str, ks: KeyState, state: str, now: Optional[str] = None) -> Alert:
        ep = ks.episode
        assert ep is not None
        lo = ep.start
        hi = ep.last if state == "resolved" else ep.end
        ws = _iso_epoch(lo * self.bs)
        we = _iso_epoch((hi + 1) * self.bs)
        arts, co = self._collect(ks, lo, hi)
        if state == "resolved" and not arts and ep.articles:   # buckets already pruned: reuse what we reported
            arts = [_ref(a) for a in ep.articles]
            co = list(ep.co_tags or [])
        else:
            ep.articles = [[a.id, a.title, a.url, a.source, a.published_at] for a in arts]
            ep.co_tags = co
        wb = self._meta().watermark
        created = iso(parse_time(now)) if now else _iso_epoch((wb if wb is not None else hi + 1) * self.bs)
        alert = Alert(alert_id=ep.id, key=key, dimensions=dimensions_of(key), window_start=ws, window_end=we,
                     state=state, observed=float(ep.observed), expected=round(float(ep.expected), 4),
                     score=round(float(ep.z), 3), severity=ep.severity, top_articles=arts, co_tags=co,
                     kibana_url=discover_url(self.kibana_url, self.data_view, [a.id for a in arts], ws, we),
                     created_at=created)
        self._window[id(alert)] = sorted(self.window_items(key, lo, hi))
        return alert
