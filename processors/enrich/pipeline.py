"""Enrich logic (pure): consumes raw news.raw bytes and tagger results, produces NewsItem / EnrichedItem records."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from streams.records import EnrichedItem, NewsItem, iso
from streams.validate import parse_raw


def parse_news_item(raw: bytes | str | dict[str, Any]) -> NewsItem:
    """Decode and validate one raw payload; raise InvalidItem(reason) on bad input, never anything else."""
    return parse_raw(raw)


def build_enriched(item: NewsItem, result: Any, story_id: str | None, now: datetime | None = None,
                   dup_keys: list[str] | None = None) -> EnrichedItem:
    """Combine an item with its TagResult (language, regions, mentioned_regions, communities, topics)."""
    return EnrichedItem(
        id=item.id or "", title=item.title, text=item.text, published_at=item.published_at,
        language=result.language, url=item.url, source=item.source,
        regions=list(result.regions), mentioned_regions=list(result.mentioned_regions),
        communities=list(result.communities), topics=list(result.topics),
        story_id=story_id or item.id, dup_keys=list(dup_keys or []), taxonomy_version=result.taxonomy_version,
        enriched_at=iso(now or datetime.now(timezone.utc)),
    )
