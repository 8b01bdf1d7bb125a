"""Topic names: the only module that spells them; every other module imports from here."""
from __future__ import annotations

from dataclasses import dataclass

from streams.config import Settings

RAW = "news.raw"
ENRICHED = "news.enriched"
COUNTS = "news.counts"
DEADLETTER = "news.deadletter"
ALERTS = "alerts"
INCIDENTS = "incidents"          # one record per incident revision (alerts grouped by surge)
LANES = "news.lanes"             # detector lanes' outcomes, merged by the incident grouper (news.counts > 1 partition)


@dataclass(frozen=True)
class TopicSpec:
    base: str
    partitions: int


def topic_specs(settings: Settings) -> list[TopicSpec]:
    p = settings.topic_partitions
    return [
        TopicSpec(RAW, p),
        TopicSpec(ENRICHED, p),
        TopicSpec(COUNTS, settings.counts_partitions),
        TopicSpec(DEADLETTER, p),
        TopicSpec(ALERTS, 1),
        TopicSpec(INCIDENTS, 1),
    ] + ([TopicSpec(LANES, 1)] if settings.counts_partitions > 1 else [])


def name(settings: Settings, base: str) -> str:
    """Full topic name on the cluster (with the configured prefix)."""
    return f"{settings.topic_prefix}{base}"
