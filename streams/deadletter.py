"""Dead-letter helper: consumes a failed event + reason, produces a DeadLetter record on news.deadletter."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from streams.metrics import Metrics
from streams.records import DeadLetter, iso

log = logging.getLogger(__name__)


def payload_text(value: Any) -> str:
    """The original payload as text (bytes decoded as UTF-8 with replacement; records as JSON)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "dumps"):
        return value.dumps().decode("utf-8")
    return str(value)


def make_dead_letter(stage: str, reason: str, error: str, payload: Any, topic: str | None = None,
                     partition: int | None = None, offset: int | None = None) -> DeadLetter:
    return DeadLetter(stage=stage, reason=reason, error=error[:2000], payload=payload_text(payload), topic=topic,
                      partition=partition, offset=offset, failed_at=iso(datetime.now(timezone.utc)))


async def send_dead_letter(dl_topic: Any, metrics: Metrics, stage: str, reason: str, error: str, payload: Any,
                           event: Any = None) -> None:
    """Send one DeadLetter (with the event's topic/partition/offset when known), count it and log it."""
    topic = partition = offset = None
    msg = getattr(event, "message", None)
    if msg is not None:
        topic, partition, offset = msg.topic, msg.partition, msg.offset
    dl = make_dead_letter(stage, reason, error, payload, topic, partition, offset)
    metrics.dead_letters.labels(stage=stage, reason=reason).inc()
    log.warning("dead-letter stage=%s reason=%s topic=%s partition=%s offset=%s: %s",
                stage, reason, topic, partition, offset, error[:300])
    await dl_topic.send(key=None, value=dl.dumps())
