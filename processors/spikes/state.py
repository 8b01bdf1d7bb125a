"""Typed detector state: consumes the JSON values of the detector's table (this version's, or the one-letter keys of
state version 1), produces dataclasses -- Meta (event time, overall volume), KeyState (a key's buckets, baseline and
episode), Bucket, Episode -- and their JSON with named fields and a version; a newer version is refused."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

STATE_VERSION = 2


class StateVersionError(ValueError):
    """Detector state written by a newer version than this worker understands."""


def check_version(data: Dict[str, Any], what: str) -> int:
    version = int(data.get("version", data.get("v", 1)))
    if version > STATE_VERSION:
        raise StateVersionError(f"{what} state version {version} is newer than {STATE_VERSION}: upgrade this worker")
    return version


@dataclass
class Bucket:
    """One event-time bucket of a key: what was counted, and the near-duplicate components of its items."""

    stories: List[str] = field(default_factory=list)      # story ids of items without near-duplicate keys
    items: List[str] = field(default_factory=list)        # every item counted (short ids)
    outlets: List[str] = field(default_factory=list)
    articles: List[List[Any]] = field(default_factory=list)   # [id, title, url, source, published_at, story]
    tags: Dict[str, int] = field(default_factory=dict)    # co-tag counts over new stories
    dup_roots: Dict[str, int] = field(default_factory=dict)   # near-duplicate key -> component
    dup_parent: List[int] = field(default_factory=list)   # union-find parents of the components
    components: int = 0                                   # distinct near-duplicate components

    def to_json(self) -> Dict[str, Any]:
        """Named fields, empty ones left out (most buckets of most keys hold one or two items)."""
        return {k: v for k, v in (("stories", self.stories), ("items", self.items), ("outlets", self.outlets),
                                  ("articles", self.articles), ("tags", self.tags), ("dup_roots", self.dup_roots),
                                  ("dup_parent", self.dup_parent), ("components", self.components)) if v}

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Bucket":
        if "i" not in d and "s" not in d:   # version 1 always wrote both
            return cls(d.get("stories", []), d.get("items", []), d.get("outlets", []), d.get("articles", []),
                       d.get("tags", {}), d.get("dup_roots", {}), d.get("dup_parent", []), int(d.get("components", 0)))
        return cls(d.get("s", []), d.get("i", []), d.get("o", []), d.get("a", []), d.get("t", {}), d.get("d", {}),
                   d.get("u", []), int(d.get("n", 0)))


@dataclass
class Episode:
    """An open alert episode of a key."""

    id: str
    start: int                 # first bucket of the evidence window that opened it
    end: int                   # newest bucket seen in it
    last: int                  # newest bucket still above the resolve level
    quiet: int                 # consecutive quiet complete buckets
    severity: str
    z: float
    observed: float
    expected: float
    checked: Optional[int] = None          # newest complete bucket checked for resolution
    articles: Optional[List[List[Any]]] = None   # what the last alert reported
    co_tags: Optional[List[str]] = None

    def to_json(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Episode":
        if "start" in d:
            return cls(**d)
        return cls(id=d["id"], start=int(d["sb"]), end=int(d["eb"]), last=int(d["last"]), quiet=int(d["q"]),
                   severity=d["sev"], z=float(d["z"]), observed=float(d["obs"]), expected=float(d["exp"]),
                   checked=d.get("chk"), articles=d.get("arts"), co_tags=d.get("co"))


@dataclass
class KeyState:
    """A count key: its open buckets, its decayed share baseline, its dispersion and its episode."""

    first_bucket: int
    count: float = 0.0                     # decayed count of finalised buckets
    count_bucket: Optional[int] = None     # the newest bucket folded into `count`
    dispersion: Optional[float] = None     # learned overdispersion (None: the prior)
    buckets: Dict[int, Bucket] = field(default_factory=dict)
    episode: Optional[Episode] = None
    cooldown_until: Optional[int] = None   # no new episode up to this bucket
    label: Optional[str] = None
    depth: Optional[int] = None
    surge: Optional[List[int]] = None      # [first, last] bucket of its last resolved episode: the baseline skips them

    def to_json(self) -> Dict[str, Any]:
        """Named fields; those still at None are left out."""
        out: Dict[str, Any] = {"version": STATE_VERSION, "first_bucket": self.first_bucket, "count": self.count,
                               "buckets": {str(b): bk.to_json() for b, bk in self.buckets.items()}}
        for name, value in (("count_bucket", self.count_bucket), ("dispersion", self.dispersion),
                            ("cooldown_until", self.cooldown_until), ("label", self.label), ("depth", self.depth),
                            ("surge", self.surge)):
            if value is not None:
                out[name] = value
        if self.episode is not None:
            out["episode"] = self.episode.to_json()
        return out

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "KeyState":
        if check_version(d, "key") >= 2:
            ep = d.get("episode")
            return cls(int(d["first_bucket"]), float(d["count"]), d.get("count_bucket"), d.get("dispersion"),
                       {int(b): Bucket.from_json(bk) for b, bk in d["buckets"].items()},
                       Episode.from_json(ep) if ep else None, d.get("cooldown_until"), d.get("label"), d.get("depth"),
                       d.get("surge"))
        ep = d.get("ep")
        return cls(int(d["f"]), float(d.get("c", 0.0)), d.get("cb"), d.get("p"),
                   {int(b): Bucket.from_json(bk) for b, bk in d.get("ob", {}).items()},
                   Episode.from_json(ep) if ep else None, d.get("cd"), d.get("lb"), d.get("dp"))


@dataclass
class Meta:
    """Event time and the overall volume baseline, shared by every key."""

    watermark: Optional[int] = None        # newest bucket seen (event time)
    final: Optional[int] = None            # newest finalised bucket (beyond the allowed lateness)
    volume: float = 0.0                    # decayed overall volume of finalised buckets
    weight: float = 0.0                    # decayed number of finalised buckets
    hist: Dict[int, int] = field(default_factory=dict)   # recent finalised overall-volume counts
    open: List[str] = field(default_factory=list)        # keys with an open episode
    late: int = 0                          # events dropped as too late
    items: int = 0                         # items (and advancing ticks) handled: a lane's sequence number

    def to_json(self) -> Dict[str, Any]:
        return {"version": STATE_VERSION, "watermark": self.watermark, "final": self.final, "volume": self.volume,
                "weight": self.weight, "hist": {str(b): n for b, n in self.hist.items()}, "open": self.open,
                "late": self.late, "items": self.items}

    @classmethod
    def from_json(cls, d: Optional[Dict[str, Any]]) -> "Meta":
        if not d:
            return cls()
        if check_version(d, "meta") >= 2:
            return cls(d["watermark"], d["final"], float(d["volume"]), float(d["weight"]),
                       {int(b): int(n) for b, n in d["hist"].items()}, list(d["open"]), int(d["late"]),
                       int(d.get("items", 0)))
        return cls(d.get("wb"), d.get("F"), float(d.get("A", 0.0)), float(d.get("W", 0.0)),
                   {int(b): int(n) for b, n in d.get("hist", {}).items()}, list(d.get("open", [])),
                   int(d.get("late", 0)))


def find(parent: List[int], c: int) -> int:
    """The component of `c` (union-find, with path halving)."""
    while parent[c] != c:
        parent[c] = parent[parent[c]]
        c = parent[c]
    return c


def link(bucket: Bucket, keys: List[str]) -> int:
    """Add an item with near-duplicate `keys` to the bucket's components (union-find: `dup_roots` maps a key to a
    component, `dup_parent` holds parents, `components` counts them); returns the change of the component count
    (+1 a new story, 0 a copy of one, negative when the item bridges several)."""
    d, parent = bucket.dup_roots, bucket.dup_parent
    roots = sorted({find(parent, d[k]) for k in keys if k in d})
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
    bucket.components += delta
    return delta


def stories(bucket: Bucket) -> int:
    """Distinct stories in a bucket: near-duplicate components plus story ids of items without keys."""
    return len(bucket.stories) + bucket.components
