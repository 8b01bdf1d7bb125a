"""Search query building (pure): consumes a user query and facet filters, produces an Elasticsearch query body."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
import re
from typing import Any

from streams.records import iso, parse_time, tag_id

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> str:
    """'7d', '12h', '30m', '2w' or an ISO 8601 time → ISO 8601 UTC lower bound."""
    m = _RELATIVE.match(value.strip().lower())
    if m:
        base = now or datetime.now(timezone.utc)
        return iso(base - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
    return iso(parse_time(value))


def build_search(query: str = "", regions: list[str] | None = None, communities: list[str] | None = None,
                 topics: list[str] | None = None, since: str | None = None, until: str | None = None,
                 size: int = 20) -> dict[str, Any]:
    """Free text is matched, never parsed as query syntax (safe against injection and syntax errors);
    facets are exact term filters on canonical tag ids (a region also matches its descendants via region_ids)."""
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    if query.strip():
        must.append({"multi_match": {"query": query.strip(), "fields": ["title^3", "title.en^2", "title.ru^2",
                                                                         "text", "text.en", "text.ru"]}})
    for field, dim, values in (("region_ids", "region", regions), ("community_ids", "community", communities),
                               ("topic_ids", "topic", topics)):
        for v in values or []:
            filters.append({"term": {field: tag_id(dim, v)}})
    rng: dict[str, str] = {}
    if since:
        rng["gte"] = parse_since(since)
    if until:
        rng["lte"] = parse_since(until)
    if rng:
        filters.append({"range": {"published_at": rng}})
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
        "size": max(1, min(size, 500)),
        "_source": ["id", "title", "url", "source", "published_at", "language", "region_ids", "community_ids",
                    "topic_ids"],
    }
    if not must:
        body["sort"] = [{"published_at": "desc"}]
    return body
