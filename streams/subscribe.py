"""Alert subscription: consumes the alerts topic (kafka-python, no group commits), produces Alert records / console lines."""
from __future__ import annotations

import logging
import uuid
from typing import Iterator

from kafka import KafkaConsumer
from rich.console import Console

from streams import topics
from streams.config import Settings
from streams.records import Alert

log = logging.getLogger(__name__)
_STATE_STYLE = {"firing": "bold red", "escalated": "bold magenta", "resolved": "green"}


def tail_alerts(settings: Settings, key_prefix: str | None = None, from_beginning: bool = False,
                follow: bool = True, idle_ms: int = 3000) -> Iterator[Alert]:
    """Yield alerts in topic order; with follow=False stop after `idle_ms` without new messages."""
    consumer = KafkaConsumer(
        topics.name(settings, topics.ALERTS), bootstrap_servers=settings.kafka_servers,
        group_id=f"{settings.app_id}-tail-{uuid.uuid4().hex[:8]}", enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        consumer_timeout_ms=(1 << 31) - 1 if follow else idle_ms)
    try:
        for msg in consumer:
            try:
                alert = Alert.loads(msg.value)
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop a subscriber
                log.warning("skipping undecodable alert at %s/%s/%s: %s", msg.topic, msg.partition, msg.offset, exc)
                continue
            if key_prefix and not alert.key.startswith(key_prefix):
                continue
            yield alert
    finally:
        consumer.close()


def format_alert(alert: Alert) -> str:
    titles = "; ".join(a.title[:70] for a in alert.top_articles[:3])
    return (f"[{alert.state.upper()}] {alert.severity} {alert.key}  {alert.window_start} → {alert.window_end}  "
            f"observed {alert.observed:g} vs expected {alert.expected:.2f} (score {alert.score:.2f})  | {titles}")


def print_alert(alert: Alert, console: Console | None = None) -> None:
    c = console or Console()
    c.print(format_alert(alert), style=_STATE_STYLE.get(alert.state, ""), markup=False, highlight=False)
    if alert.kibana_url and alert.state != "resolved":
        c.print(f"    kibana: {alert.kibana_url}", markup=False, highlight=False, style="dim")
