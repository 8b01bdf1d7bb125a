"""Incident grouping: consumes one item's outcome of the spike detector at a time (its Alerts, each with the articles
of its evidence window, and the articles newly counted for keys with an open episode), produces one Incident per
surge -- a region and its ancestors, a key and its combinations, keys driven by the same stories -- and stamps every
Alert with its incident_id. Pure code; state is typed and kept in a caller-supplied mapping.

An alert that opens an episode joins the open incident whose articles explain most of its excess (the articles in
its evidence window that also drive the incident's keys, over the excess observed - expected), if that share is at
least `join_share`; otherwise it opens a new incident. The decision uses only what the items up to this one counted
(causal), and an item's alerts are taken in one canonical order (resolutions first, then by key), so the result is
the same in a backtest and live, before and after a restart, and however the keys are shared among detector lanes.
An incident resolves when every key in it has resolved. Its notifications are `opened`, `escalated` (its severity
rose a tier) and `resolved`; every other change is an `updated` revision."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, MutableMapping, Optional, Set, Tuple

from processors.spikes.detector import severity_rank
from processors.spikes.kibana import discover_url
from processors.spikes.state import StateVersionError
from streams.records import Alert, ArticleRef, Incident, IncidentChange, IncidentKey, KeyedAlert, parse_time

logger = logging.getLogger(__name__)

INCIDENTS_KEY = "__incidents__"
INCIDENT_STATE_VERSION = 1



@dataclass(frozen=True)
class IncidentConfig:
    """Incident grouping knobs."""

    join_share: float = 0.5          # share of an alert's excess its articles must share with an incident to join
    headline_strength: float = 0.6   # a key is "strong" at this share of the incident's best score
    max_items: int = 4000            # article ids an incident remembers (evidence of keys that joined)
    max_articles: int = 8            # top articles of an incident record


@dataclass
class Member:
    """One key of an incident: its latest episode and what it reported."""

    key: str
    alert_id: str
    state: str
    severity: str
    observed: float
    expected: float
    score: float
    window_start: str
    window_end: str
    first_bucket: int
    label: Optional[str] = None
    depth: int = 1                       # specificity (see keys.key_depth)
    articles: List[List[Optional[str]]] = field(default_factory=list)   # [id, title, url, source, published_at]
    co_tags: List[str] = field(default_factory=list)
    items: List[str] = field(default_factory=list)   # short ids counted for the key since its window began


def canonical(entries: Iterable[KeyedAlert]) -> List[KeyedAlert]:
    """An item's alerts in the order grouping takes them: resolutions first, then by key (no lane decides it)."""
    return sorted(entries, key=lambda e: (e.alert.state != "resolved", e.alert.key))


@dataclass
class OpenIncident:
    id: str
    first_seen: str
    last_update: str
    severity: str
    revision: int = 0
    members: List[Member] = field(default_factory=list)
    items: List[str] = field(default_factory=list)

    def member(self, key: str) -> Optional[Member]:
        return next((m for m in self.members if m.key == key), None)


@dataclass
class IncidentBook:
    """The open incidents (typed; stored as JSON with a version)."""

    open: List[OpenIncident] = field(default_factory=list)
    version: int = INCIDENT_STATE_VERSION

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Optional[Dict[str, Any]]) -> "IncidentBook":
        if not data:
            return cls()
        version = int(data.get("version", 1))
        if version > INCIDENT_STATE_VERSION:
            raise StateVersionError(f"incident state version {version} is newer than {INCIDENT_STATE_VERSION}: "
                                    "upgrade this worker")
        incidents = []
        for raw in data.get("open", []):
            members = [Member(**m) for m in raw.get("members", [])]
            incidents.append(OpenIncident(**{**raw, "members": members}))
        return cls(open=incidents)


def incident_id_of(alert_id: str) -> str:
    """An incident is named after the episode that opened it."""
    return "inc-" + hashlib.sha1(alert_id.encode("utf-8")).hexdigest()[:16]


def _art(a: Any) -> List[Optional[str]]:
    get = (lambda n: getattr(a, n, None)) if not isinstance(a, dict) else a.get
    return [get("id"), get("title"), get("url"), get("source"), get("published_at")]


def member_of(alert: Alert, bucket_seconds: int, described: Tuple[Optional[str], int]) -> Member:
    """An incident member from an alert, with the key's label and specificity."""
    return Member(key=alert.key, alert_id=alert.alert_id, state=alert.state, severity=alert.severity,
                  observed=float(alert.observed), expected=float(alert.expected), score=float(alert.score),
                  window_start=alert.window_start, window_end=alert.window_end,
                  first_bucket=int(parse_time(alert.window_start).timestamp() // bucket_seconds),
                  label=described[0], depth=described[1],
                  articles=[_art(a) for a in alert.top_articles], co_tags=list(alert.co_tags))


def excess_items(n_items: int, observed: float, expected: float) -> float:
    """Articles of a key's window beyond what its baseline expects (the share observed - expected of them)."""
    if observed <= 0:
        return 0.0
    return n_items * max(0.0, 1.0 - expected / observed)


def explained_share(alert_items: Set[str], incident_items: Set[str], observed: float, expected: float) -> float:
    """How much of an alert's excess the incident's articles account for (>= 1.0: all of it)."""
    shared = len(alert_items & incident_items)
    return shared / max(excess_items(len(alert_items), observed, expected), 1.0)


def headline(members: Iterable[Member], strength: float) -> Member:
    """The most specific strong key: among keys scoring at least `strength` of the best, the deepest (a city before
    its region before its country, a combination before its parts), then the one its baseline expects least of."""
    ms = list(members)
    best = max(m.score for m in ms)
    strong = [m for m in ms if m.score >= strength * best]
    return min(strong, key=lambda m: (-m.depth, m.expected, m.key))


class IncidentTracker:
    """Groups alerts into incidents, one item's outcome at a time; the book lives at INCIDENTS_KEY of `states`."""

    def __init__(self, states: MutableMapping[str, Any], bucket_seconds: int,
                 config: IncidentConfig = IncidentConfig(), kibana_url: str = "http://localhost:5601",
                 data_view: str = "surgewatch-news*") -> None:
        self.states, self.bs, self.config = states, int(bucket_seconds), config
        self.kibana_url, self.data_view = kibana_url, data_view

    def book(self) -> IncidentBook:
        return IncidentBook.from_json(self.states.get(INCIDENTS_KEY))

    def observe_item(self, entries: List[KeyedAlert], progress: Dict[str, List[str]]) -> List[Incident]:
        """One item's outcome: `progress` (key -> articles it newly counted, for keys with an open episode) first,
        then its alerts in canonical order, each stamped with its incident id; returns the incident revisions."""
        if not entries and not progress:
            return []
        book = self.book()
        self._progress(book, progress)
        out: List[Incident] = []
        for entry in canonical(entries):
            record = self._one(book, entry)
            if record is not None:
                out.append(record)
        self.states[INCIDENTS_KEY] = book.to_json()
        return out

    def _progress(self, book: IncidentBook, progress: Dict[str, List[str]]) -> None:
        for inc in book.open:
            for m in inc.members:
                if m.state != "resolved" and progress.get(m.key):
                    _extend_unique(m.items, progress[m.key], self.config.max_items)

    # ---------------------------------------------------------------------------------------------- decisions
    def _one(self, book: IncidentBook, entry: KeyedAlert) -> Optional[Incident]:
        alert = entry.alert
        owner = next((inc for inc in book.open if any(m.alert_id == alert.alert_id for m in inc.members)), None)
        if alert.state == "firing" or owner is None:
            if alert.state == "resolved":          # an episode from before incidents existed: name it, no record
                alert.incident_id = incident_id_of(alert.alert_id)
                return None
            return self._join_or_open(book, entry)
        alert.incident_id = owner.id
        return self._update(book, owner, entry)

    @staticmethod
    def _incident_items(inc: OpenIncident) -> Set[str]:
        items = set(inc.items)
        for m in inc.members:
            if m.state != "resolved":
                items.update(m.items)
        return items

    def _join_or_open(self, book: IncidentBook, entry: KeyedAlert) -> Incident:
        alert, mine = entry.alert, set(entry.items)
        best: Tuple[float, Optional[OpenIncident]] = (0.0, None)
        for inc in book.open:   # oldest first: a tie goes to the incident that opened first
            share = explained_share(mine, self._incident_items(inc), alert.observed, alert.expected)
            if share >= self.config.join_share and share > best[0]:
                best = (share, inc)
        member = member_of(alert, self.bs, (entry.label, entry.depth))
        member.items = sorted(mine)[-self.config.max_items:]
        inc = best[1]
        if inc is None:
            inc = OpenIncident(id=incident_id_of(alert.alert_id), first_seen=alert.created_at or alert.window_end,
                               last_update=alert.created_at or alert.window_end, severity=alert.severity)
            book.open.append(inc)
            change, previous = IncidentChange.OPENED.value, None
        else:
            previous = inc.severity
            change = self._severity_change(inc, alert.severity)
            inc.members = [m for m in inc.members if m.key != alert.key]   # a key's earlier, resolved episode
        inc.members.append(member)
        self._remember(inc, mine)
        alert.incident_id = inc.id
        return self._revision(book, inc, alert, change, previous, new_keys=[alert.key])

    def _update(self, book: IncidentBook, inc: OpenIncident, entry: KeyedAlert) -> Incident:
        alert = entry.alert
        previous = inc.severity
        member = inc.member(alert.key)
        fresh = member_of(alert, self.bs, (member.label, member.depth) if member else (entry.label, entry.depth))
        if member is not None:
            fresh.items = list(member.items)
            if alert.state == "resolved" and not fresh.articles:
                fresh.articles, fresh.co_tags = member.articles, member.co_tags
        _extend_unique(fresh.items, sorted(entry.items), self.config.max_items)
        inc.members = [fresh if m.key == alert.key else m for m in inc.members]
        self._remember(inc, set(entry.items))
        if all(m.state == "resolved" for m in inc.members):
            book.open.remove(inc)
            change = IncidentChange.RESOLVED.value
        else:
            change = self._severity_change(inc, alert.severity)
        return self._revision(book, inc, alert, change, previous, new_keys=[])

    @staticmethod
    def _severity_change(inc: OpenIncident, severity: str) -> str:
        if severity_rank(severity) > severity_rank(inc.severity):
            inc.severity = severity
            return IncidentChange.ESCALATED.value
        return IncidentChange.UPDATED.value

    def _remember(self, inc: OpenIncident, items: Set[str]) -> None:
        known = set(inc.items)
        inc.items.extend(sorted(items - known))
        if len(inc.items) > self.config.max_items:
            del inc.items[: len(inc.items) - self.config.max_items]

    # ---------------------------------------------------------------------------------------------- records
    def _revision(self, book: IncidentBook, inc: OpenIncident, alert: Alert, change: str,
                  previous: Optional[str], new_keys: List[str]) -> Incident:
        inc.revision += 1
        inc.last_update = alert.created_at or alert.window_end
        return incident_record(inc, change, previous, new_keys, self.config, self.kibana_url, self.data_view)


def _extend_unique(items: List[str], new: Iterable[str], limit: int) -> None:
    """Append the ids not in `items` yet, keeping the newest `limit`."""
    known = set(items)
    for i in new:
        if i not in known:
            known.add(i)
            items.append(i)
    if len(items) > limit:
        del items[: len(items) - limit]


def _top_articles(members: List[Member], head: Member, limit: int) -> List[ArticleRef]:
    """Articles named by most keys first (the headline's breaks ties), then by time."""
    votes: Dict[str, int] = {}
    first: Dict[str, List[Optional[str]]] = {}
    for m in members:
        for a in m.articles:
            if a[0] is None:
                continue
            votes[str(a[0])] = votes.get(str(a[0]), 0) + 1
            first.setdefault(str(a[0]), a)
    head_ids = {str(a[0]) for a in head.articles}
    ranked = sorted(first, key=lambda i: (-votes[i], i not in head_ids, first[i][4] or "", i))[:limit]
    out = [first[i] for i in ranked]
    return [ArticleRef(id=str(a[0]), title=str(a[1] or ""), url=a[2], source=a[3], published_at=a[4])
            for a in sorted(out, key=lambda a: (a[4] or "", str(a[0])))]


def incident_record(inc: OpenIncident, change: str, previous: Optional[str], new_keys: List[str],
                    config: IncidentConfig, kibana_url: str, data_view: str) -> Incident:
    """The wire record of an incident's current revision."""
    members = sorted(inc.members, key=lambda m: m.key)
    head = headline(members, config.headline_strength)
    arts = _top_articles(members, head, config.max_articles)
    ws = min(m.window_start for m in members)
    we = max(m.window_end for m in members)
    keys = [IncidentKey(key=m.key, alert_id=m.alert_id, state=m.state, severity=m.severity, observed=m.observed,
                        expected=m.expected, score=m.score, window_start=m.window_start, window_end=m.window_end,
                        label=m.label) for m in members]
    member_keys = {m.key for m in members}
    co = [t for t in head.co_tags if t not in member_keys]
    return Incident(incident_id=inc.id, revision=inc.revision,
                    state="resolved" if change == IncidentChange.RESOLVED.value else "open", change=change,
                    severity=inc.severity, headline_key=head.key, headline_label=head.label,
                    first_seen=inc.first_seen, last_update=inc.last_update, previous_severity=previous, keys=keys,
                    new_keys=list(new_keys), items=len(inc.items), top_articles=arts, co_tags=co,
                    kibana_url=discover_url(kibana_url, data_view, [a.id for a in arts], ws, we))
