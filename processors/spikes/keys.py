"""Count keys: consumes one EnrichedItem, produces its CountEvents (one per tag, ancestor, combination, plus "all"),
or the same as one ItemCounts message, and expands ItemCounts back into CountEvents."""
from __future__ import annotations

import hashlib
import logging
from itertools import product
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from streams.records import ArticleRef, CountEvent, EnrichedItem, ItemCounts, KeyCount, Tag, tag_id

logger = logging.getLogger(__name__)

VOLUME_KEY = "all"
DIMENSION_ORDER = ("region", "community", "topic")
MAX_COMBINATION_KEYS = 24      # per item, across region×community, region×topic, community×topic
MAX_COMBO_TAGS_PER_DIMENSION = 4  # most confident tags of a dimension that enter combinations


def _split(tag_id: str) -> Tuple[str, str]:
    dim, _, value = tag_id.partition(":")
    return dim, value


def key_of(tag_ids: Sequence[str]) -> Tuple[str, Dict[str, str]]:
    """Key string and dimensions of a tag-id combination, in canonical dimension order."""
    ordered = sorted(tag_ids, key=lambda t: (DIMENSION_ORDER.index(_split(t)[0])
                                             if _split(t)[0] in DIMENSION_ORDER else len(DIMENSION_ORDER), t))
    dims: Dict[str, str] = {}
    for t in ordered:
        d, v = _split(t)
        dims[d] = v
    return "|".join(ordered), dims


def dimensions_of(key: str) -> Dict[str, str]:
    """Dimensions of a key string ("community:muslims|topic:protest" -> {"community": "muslims", ...})."""
    if key == VOLUME_KEY:
        return {}
    return dict(_split(part) for part in key.split("|"))


def outlet_of(item: EnrichedItem) -> str | None:
    """The item's outlet: its source, else the URL host (without 'www.')."""
    if item.source:
        return item.source
    if item.url:
        host = urlsplit(item.url).netloc.lower()
        return host[4:] if host.startswith("www.") else (host or None)
    return None


def _ranked(tags: Iterable[Tag]) -> List[Tag]:
    return sorted(tags, key=lambda t: (-float(t.confidence or 0.0), t.id))


def count_keys(item: EnrichedItem, max_combinations: int = MAX_COMBINATION_KEYS) -> List[Tuple[str, Dict[str, str], List[str]]]:
    """(key, dimensions, tag ids in the key) for every count key of an item; "all" first."""
    regions = _ranked(item.regions or [])
    communities = _ranked(item.communities or [])
    topics = _ranked(item.topics or [])

    region_ids: List[str] = []
    for t in regions:
        for rid in [tag_id("region", t.id)] + [tag_id("region", a) for a in (t.ancestors or [])]:
            if rid not in region_ids:
                region_ids.append(rid)
    community_ids = list(dict.fromkeys(tag_id("community", t.id) for t in communities))
    topic_ids = list(dict.fromkeys(tag_id("topic", t.id) for t in topics))

    out: List[Tuple[str, Dict[str, str], List[str]]] = [(VOLUME_KEY, {}, [])]
    seen = {VOLUME_KEY}
    for tid in region_ids + community_ids + topic_ids:
        if tid not in seen:
            key, dims = key_of([tid])
            out.append((key, dims, [tid]))
            seen.add(tid)

    # Combinations: the most confident tags of each dimension (regions with their ancestors, nearest first).
    r_c = region_ids[:MAX_COMBO_TAGS_PER_DIMENSION]
    c_c = community_ids[:MAX_COMBO_TAGS_PER_DIMENSION]
    t_c = topic_ids[:MAX_COMBO_TAGS_PER_DIMENSION]
    n_combo = 0
    for a_list, b_list in ((c_c, t_c), (r_c, c_c), (r_c, t_c)):
        for a, b in product(a_list, b_list):
            if n_combo >= max_combinations:
                break
            key, dims = key_of([a, b])
            if key in seen:
                continue
            out.append((key, dims, [a, b]))
            seen.add(key)
            n_combo += 1
    return out


def tag_labels(item: EnrichedItem) -> Dict[str, str]:
    """Human label of every tag id of an item (its name; an ancestor region is known by id only: no label)."""
    labels: Dict[str, str] = {}
    for dim, tags in (("region", item.regions or []), ("community", item.communities or []),
                      ("topic", item.topics or [])):
        for t in tags:
            if t.name:
                labels.setdefault(tag_id(dim, t.id), t.name)
    return labels


def region_depths(item: EnrichedItem) -> Dict[str, int]:
    """How many ancestors each region of an item (tagged or an ancestor of one) has above it."""
    depths: Dict[str, int] = {}
    for t in item.regions or []:
        ancestors = list(t.ancestors or [])
        depths[tag_id("region", t.id)] = max(depths.get(tag_id("region", t.id), 0), len(ancestors))
        for i, a in enumerate(ancestors):   # nearest first
            aid = tag_id("region", a)
            depths[aid] = max(depths.get(aid, 0), len(ancestors) - 1 - i)
    return depths


def key_depth(members: Sequence[str], depths: Dict[str, int]) -> int:
    """Specificity of a key: its tags, plus the depth of its region (a city above its region above its country)."""
    return len(members) + sum(depths.get(t, 0) for t in members)


def key_label(members: Sequence[str], labels: Dict[str, str]) -> Optional[str]:
    """"Sverdlovsk Oblast · Disasters" for the tag ids of a key; None when a tag has no name in this item (an
    ancestor region), so that items naming it label the key."""
    if not members or any(t not in labels for t in members):
        return None
    ordered, _ = key_of(members)
    return " · ".join(labels[t] for t in ordered.split("|"))


def count_events(item: EnrichedItem, max_combinations: int = MAX_COMBINATION_KEYS) -> List[CountEvent]:
    """One CountEvent per count key of the item (volume key "all" first), sharing one ArticleRef."""
    article = ArticleRef(id=item.id, title=item.title, url=item.url, source=item.source,
                         published_at=item.published_at)
    all_tags: List[str] = []
    for dim, tags in (("region", item.regions or []), ("community", item.communities or []),
                      ("topic", item.topics or [])):
        for t in _ranked(tags):
            tid = tag_id(dim, t.id)
            if tid not in all_tags:
                all_tags.append(tid)
    story = item.story_id or item.id
    outlet = outlet_of(item)
    dup = list(item.dup_keys or [])   # shared by the item's events (read-only)
    labels = tag_labels(item)
    depths = region_depths(item)
    events: List[CountEvent] = []
    for key, dims, members in count_keys(item, max_combinations):
        excluded = set(members)
        events.append(CountEvent(key=key, dimensions=dims, item_id=item.id, story_id=story,
                                 published_at=item.published_at, article=article,
                                 co_tags=[t for t in all_tags if t not in excluded], outlet=outlet,
                                 dup_keys=dup, label=key_label(members, labels),
                                 depth=key_depth(members, depths)))
    return events


def item_counts(item: EnrichedItem, max_combinations: int = MAX_COMBINATION_KEYS) -> ItemCounts:
    """The item's count events as one message: the shared fields once, then key, label and depth per key."""
    events = count_events(item, max_combinations)
    first = events[0]
    return ItemCounts(item_id=first.item_id, story_id=first.story_id, published_at=first.published_at,
                      article=first.article, keys=[KeyCount(key=e.key, label=e.label, depth=e.depth) for e in events],
                      tags=[t for t in first.co_tags], outlet=first.outlet, dup_keys=first.dup_keys)


def expand(counts: ItemCounts) -> List[CountEvent]:
    """The CountEvents of one ItemCounts message, equal to count_events of its item (lane included)."""
    out: List[CountEvent] = []
    for kc in counts.keys:
        members = set(kc.key.split("|"))
        out.append(CountEvent(key=kc.key, dimensions=dimensions_of(kc.key), item_id=counts.item_id,
                              story_id=counts.story_id, published_at=counts.published_at, article=counts.article,
                              co_tags=[t for t in counts.tags if t not in members], outlet=counts.outlet,
                              lane=counts.lane, dup_keys=counts.dup_keys, label=kc.label, depth=kc.depth))
    return out


def counts_partition(key: str, partitions: int) -> int:
    """The news.counts partition (detector lane) that owns a count key: a stable hash of the key, the same on every
    worker and in the backtest; every lane also counts the volume key (the overall-volume baseline stays exact)."""
    if partitions <= 1:
        return 0
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=4).digest(), "big") % partitions


def split_counts(counts: ItemCounts, partitions: int) -> List[Tuple[int, ItemCounts]]:
    """One ItemCounts per detector lane: the volume key and the keys that lane owns (key order kept)."""
    if partitions <= 1:
        return [(0, counts)]
    volume = [kc for kc in counts.keys if kc.key == VOLUME_KEY]
    out: List[Tuple[int, ItemCounts]] = []
    for p in range(partitions):
        own = [kc for kc in counts.keys if kc.key != VOLUME_KEY and counts_partition(kc.key, partitions) == p]
        out.append((p, counts.derive(keys=volume + own)))
    return out
