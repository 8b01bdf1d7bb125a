"""Ingestion connectors: consume NDJSON archives, RSS/Atom feeds and HTTP posts, produce NewsItems to news.raw."""
from streams.sources.producer import RawProducer, RawSink, SourceError
from streams.sources.replay import ReplayStats, replay

__all__ = ["RawProducer", "RawSink", "SourceError", "ReplayStats", "replay"]
