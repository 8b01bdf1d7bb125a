"""Records on the wire: NewsItem (news.raw), EnrichedItem (news.enriched), ItemCounts or CountEvent (news.counts),
Alert (alerts), Incident (incidents), DeadLetter (news.deadletter). Optional fields only may be added; a breaking change
gets a new topic version."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import faust

SCHEMA_VERSION = 1


class Severity(str, Enum):
    """Alert severity, in ascending order."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertState(str, Enum):
    """An alert episode's state change."""

    FIRING = "firing"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class IncidentChange(str, Enum):
    """What an incident record reports: it opened, it escalated (its severity rose), it resolved (every key went
    quiet), or an update without a notification (a key joined or changed)."""

    OPENED = "opened"
    ESCALATED = "escalated"
    UPDATED = "updated"
    RESOLVED = "resolved"


SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)        # ascending
ALERT_STATES: tuple[str, ...] = tuple(s.value for s in AlertState)
INCIDENT_CHANGES: tuple[str, ...] = tuple(c.value for c in IncidentChange)
INCIDENT_STATES: tuple[str, ...] = ("open", "resolved")
DIMENSIONS: tuple[str, ...] = ("region", "community", "topic")


def tag_id(dimension: str, value: str) -> str:
    """The canonical tag id 'dimension:value', lower-case (ancestor lists and user filters may omit the prefix)."""
    value = value.strip().lower()
    return value if value.startswith(dimension + ":") else f"{dimension}:{value}"

_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|yclid$|mc_|ref$|ref_src$)")


class InvalidItem(ValueError):
    """A news item that cannot be processed; the message is the dead-letter reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def canonical_url(url: str) -> str:
    """Lower-case scheme/host, drop fragment, tracking params and trailing slash (a malformed URL: stripped only)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return url.strip()
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)))
    path = parts.path.rstrip("/") or "/"
    host = parts.netloc.lower()
    if host.startswith("www."):
        host = host[4:]
    return urlunsplit((parts.scheme.lower() or "http", host, path, query, ""))


def derive_id(url: Optional[str], title: str, text: str) -> str:
    """Stable item id: hash of the canonical URL, or of the content when there is no URL."""
    basis = "url:" + canonical_url(url) if url else "content:" + " ".join((title + "\n" + text).split()).lower()
    return hashlib.sha1(basis.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def parse_time(value: Any) -> datetime:
    """ISO 8601 (or epoch seconds) to an aware UTC datetime; naive times are taken as UTC.

    Anything else, including a time out of datetime's range (epoch milliseconds, 1e20, NaN), raises
    InvalidItem("bad_published_at").
    """
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                dt = datetime.fromtimestamp(float(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError) as exc:
                hint = " (epoch milliseconds? send seconds or ISO 8601)" if abs(value) >= 1e11 else ""
                raise InvalidItem("bad_published_at", f"epoch seconds out of range{hint}") from exc
        elif isinstance(value, str) and value.strip():
            s = value.strip()
            if s.endswith(("Z", "z")):
                s = s[:-1] + "+00:00"
            try:
                dt = datetime.fromisoformat(s)
            except ValueError as exc:
                raise InvalidItem("bad_published_at", f"not ISO 8601: {value[:80]!r}") from exc
        else:
            raise InvalidItem("bad_published_at", f"missing or empty ({type(value).__name__})")
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)
    except (OverflowError, ValueError, TypeError) as exc:
        if isinstance(exc, InvalidItem):
            raise
        raise InvalidItem("bad_published_at", f"out of range: {str(exc)[:80]}") from exc


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class NewsItem(faust.Record, serializer="json", include_metadata=False):
    """Input item. title, text, published_at required; the rest optional."""

    title: str
    text: str
    published_at: str
    id: Optional[str] = None
    url: Optional[str] = None
    source: Optional[str] = None
    language: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_payload(cls, payload: Any) -> "NewsItem":
        """Validate a decoded JSON payload; raise InvalidItem with a reason on bad input."""
        if not isinstance(payload, dict):
            raise InvalidItem("not_an_object", f"expected a JSON object, got {type(payload).__name__}")
        missing = [f for f in ("title", "text", "published_at") if f not in payload or payload[f] is None]
        if missing:
            raise InvalidItem("missing_field", ", ".join(missing))
        for f in ("title", "text"):
            if not isinstance(payload[f], str):
                raise InvalidItem("bad_type", f"{f} must be a string")
        if not payload["title"].strip() and not payload["text"].strip():
            raise InvalidItem("empty_item", "title and text are both empty")
        published = iso(parse_time(payload["published_at"]))
        opt: Dict[str, Optional[str]] = {}
        for f in ("id", "url", "source", "language"):
            v = payload.get(f)
            if v is not None and not isinstance(v, str):
                raise InvalidItem("bad_type", f"{f} must be a string")
            opt[f] = v.strip() if isinstance(v, str) and v.strip() else None
        item_id = opt["id"] or derive_id(opt["url"], payload["title"], payload["text"])
        return cls(title=payload["title"], text=payload["text"], published_at=published, id=item_id,
                   url=opt["url"], source=opt["source"], language=opt["language"])


class Evidence(faust.Record, serializer="json", include_metadata=False):
    """A matched span: field is 'title' or 'text'; start/end are character offsets (end exclusive)."""

    text: str
    field: str
    start: int
    end: int


class Tag(faust.Record, serializer="json", include_metadata=False):
    """One region / community / topic tag with its evidence. Region-only fields stay None elsewhere."""

    id: str
    name: str
    confidence: float
    evidence: List[Evidence] = []
    names: Dict[str, str] = {}
    kind: Optional[str] = None            # e.g. country, federal_subject, city, macro_region, religion, ethnic
    country_code: Optional[str] = None    # ISO 3166-1 alpha-2
    iso_3166_2: Optional[str] = None
    geonames_id: Optional[int] = None
    ancestors: List[str] = []             # canonical ids, nearest first
    geo: Optional[Dict[str, float]] = None  # {"lat": .., "lon": ..}


class EnrichedItem(faust.Record, serializer="json", include_metadata=False):
    """A NewsItem plus language, tags, story cluster id and taxonomy version."""

    id: str
    title: str
    text: str
    published_at: str
    language: str
    url: Optional[str] = None
    source: Optional[str] = None
    regions: List[Tag] = []
    mentioned_regions: List[Tag] = []
    communities: List[Tag] = []
    topics: List[Tag] = []
    story_id: Optional[str] = None        # near-duplicate cluster (syndicated copies share it)
    dup_keys: List[str] = []               # near-duplicate keys (LSH bands; order-independent story counting)
    taxonomy_version: Optional[str] = None
    enriched_at: Optional[str] = None
    schema_version: int = SCHEMA_VERSION


class ArticleRef(faust.Record, serializer="json", include_metadata=False):
    id: str
    title: str
    url: Optional[str] = None
    source: Optional[str] = None
    published_at: Optional[str] = None


class CountEvent(faust.Record, serializer="json", include_metadata=False):
    """One item's contribution to one count key (news.counts is keyed by `key`)."""

    key: str
    dimensions: Dict[str, str]
    item_id: str
    story_id: str
    published_at: str
    article: ArticleRef
    co_tags: List[str] = []
    outlet: Optional[str] = None
    lane: Optional[int] = None             # news.enriched partition the item came from (event-time ordering)
    dup_keys: List[str] = []               # the item's near-duplicate keys: items sharing one are one story
    label: Optional[str] = None            # human label of the key ("Sverdlovsk Oblast · disaster-accident")
    depth: Optional[int] = None            # specificity: tags in the key plus the depth of its region (ancestors above it)
    schema_version: int = SCHEMA_VERSION


class KeyCount(faust.Record, serializer="json", include_metadata=False):
    """One count key of an ItemCounts message (its dimensions and co-tags follow from the key and the item's tags)."""

    key: str
    label: Optional[str] = None
    depth: Optional[int] = None


class ItemCounts(faust.Record, serializer="json", include_metadata=False):
    """One item's contributions to all of its count keys: one news.counts message per item (keyed by item id)
    instead of one CountEvent per key. The detector reads both forms."""

    item_id: str
    story_id: str
    published_at: str
    article: ArticleRef
    keys: List[KeyCount]
    tags: List[str] = []                   # every tag id of the item, ranked (a key's co-tags are the others)
    outlet: Optional[str] = None
    lane: Optional[int] = None
    dup_keys: List[str] = []
    schema_version: int = SCHEMA_VERSION


class Alert(faust.Record, serializer="json", include_metadata=False):
    """A spike alert episode state change for one count key."""

    alert_id: str                          # stable per episode: key + episode start
    key: str
    dimensions: Dict[str, str]
    window_start: str
    window_end: str
    state: str                              # an AlertState value: firing | escalated | resolved
    observed: float
    expected: float
    score: float
    severity: str                           # a Severity value: low | medium | high | critical
    top_articles: List[ArticleRef] = []
    co_tags: List[str] = []
    kibana_url: Optional[str] = None
    created_at: Optional[str] = None
    incident_id: Optional[str] = None       # the incident this episode belongs to (see Incident)
    schema_version: int = SCHEMA_VERSION


class IncidentKey(faust.Record, serializer="json", include_metadata=False):
    """One count key of an incident with its evidence (its alert episode's latest state)."""

    key: str
    alert_id: str
    state: str                              # the key's episode state: firing | escalated | resolved
    severity: str
    observed: float
    expected: float
    score: float
    window_start: str
    window_end: str
    label: Optional[str] = None


class Incident(faust.Record, serializer="json", include_metadata=False):
    """One surge, however many count keys it moved (a region and its ancestors, a key and its combinations, keys
    driven by the same stories): a new revision on every change; `change` says whether it is a notification."""

    incident_id: str
    revision: int
    state: str                              # open | resolved
    change: str                             # an IncidentChange value: opened | escalated | updated | resolved
    severity: str                           # highest severity of any of its keys so far
    headline_key: str                       # the most specific strong key
    first_seen: str                         # when it opened (event time)
    last_update: str
    headline_label: Optional[str] = None
    previous_severity: Optional[str] = None  # severity of the previous revision
    keys: List[IncidentKey] = []
    new_keys: List[str] = []                # keys that joined in this revision
    items: int = 0                          # distinct articles in the evidence windows of its keys
    top_articles: List[ArticleRef] = []
    co_tags: List[str] = []
    kibana_url: Optional[str] = None
    schema_version: int = SCHEMA_VERSION


class KeyedAlert(faust.Record, serializer="json", include_metadata=False):
    """An alert of one detector lane with what incident grouping needs of its key."""

    alert: Alert
    items: List[str] = []                   # short ids of the articles in its evidence window
    label: Optional[str] = None
    depth: int = 1


class LaneOutcome(faust.Record, serializer="json", include_metadata=False):
    """What one detector lane (a news.counts partition) made of one item, or, as a marker without alerts or
    progress, how far in event time it has got: the incident grouper merges the lanes in (published_at, item_id)
    order. `watermark` is the lane's event-time bucket after the item."""

    lane: int
    lanes: int                              # detector lanes in all (news.counts partitions)
    published_at: str
    item_id: str
    watermark: int = 0
    seq: int = 0                            # the lane's items handled so far, this one included
    alerts: List[KeyedAlert] = []
    progress: Dict[str, List[str]] = {}     # key with an open episode -> short ids it newly counted
    marker: bool = False
    schema_version: int = SCHEMA_VERSION


class DeadLetter(faust.Record, serializer="json", include_metadata=False):
    """An input that a stage could not process, with why and where it came from."""

    stage: str
    reason: str
    error: str
    payload: str                            # original bytes, decoded as UTF-8 with replacement
    topic: Optional[str] = None
    partition: Optional[int] = None
    offset: Optional[int] = None
    failed_at: Optional[str] = None
    schema_version: int = SCHEMA_VERSION
