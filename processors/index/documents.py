"""News document shaping: consumes EnrichedItem records, produces news index documents (pure)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from streams.codec import as_dict
from streams.records import EnrichedItem, iso


def _tag_doc(tag: Any) -> dict[str, Any]:
    d = as_dict(tag) if hasattr(tag, "dumps") else dict(tag)
    if not d.get("geo"):
        d.pop("geo", None)
    return {k: v for k, v in d.items() if v is not None}


def news_document(item: EnrichedItem, now: datetime | None = None) -> dict[str, Any]:
    """The news index document: the item, its tags, flat id lists for facets and the main location."""
    regions = [_tag_doc(t) for t in item.regions]
    doc: dict[str, Any] = {
        "id": item.id, "title": item.title, "text": item.text, "published_at": item.published_at,
        "language": item.language, "url": item.url, "source": item.source, "story_id": item.story_id,
        "taxonomy_version": item.taxonomy_version, "enriched_at": item.enriched_at,
        "indexed_at": iso(now or datetime.now(timezone.utc)), "schema_version": item.schema_version,
        "regions": regions,
        "mentioned_regions": [_tag_doc(t) for t in item.mentioned_regions],
        "communities": [_tag_doc(t) for t in item.communities],
        "topics": [_tag_doc(t) for t in item.topics],
    }
    region_ids: list[str] = []
    for t in item.regions:
        for rid in [t.id, *t.ancestors]:
            if rid not in region_ids:
                region_ids.append(rid)
    doc["region_ids"] = region_ids
    doc["community_ids"] = [t.id for t in item.communities]
    doc["topic_ids"] = [t.id for t in item.topics]
    located = [t for t in item.regions if t.geo]
    if located:
        best = max(located, key=lambda t: t.confidence)
        doc["location"] = {"lat": best.geo["lat"], "lon": best.geo["lon"]}
    return {k: v for k, v in doc.items() if v is not None}
