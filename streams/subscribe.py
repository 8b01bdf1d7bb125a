"""Alert subscription: consumes the incidents topic (or, per key, the alerts topic) with kafka-python and no group
commits, produces incident notifications -- once when an incident opens for the subscriber, again when it
escalates or resolves -- or every alert, as console lines or JSON."""
from __future__ import annotations

import json
import logging
import sys
import uuid
from typing import Any, Iterator, Optional, Sequence, Tuple, Type, TypeVar

from kafka import KafkaConsumer
from rich.console import Console

from streams import kafka_clients, topics
from streams.codec import as_dict, decode
from streams.config import Settings
from streams.records import SEVERITIES, Alert, Incident

log = logging.getLogger(__name__)
_STATE_STYLE = {"firing": "bold red", "escalated": "bold magenta", "resolved": "green", "opened": "bold red"}
R = TypeVar("R", Alert, Incident)


def _consume(settings: Settings, base: str, cls: Type[R], from_beginning: bool, follow: bool,
             idle_ms: int) -> Iterator[R]:
    consumer = KafkaConsumer(
        topics.name(settings, base), bootstrap_servers=settings.kafka_servers,
        group_id=f"{settings.app_id}-tail-{uuid.uuid4().hex[:8]}", enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        consumer_timeout_ms=(1 << 31) - 1 if follow else idle_ms, **kafka_clients.kafka_python(settings))
    try:
        for msg in consumer:
            try:
                yield decode(cls, msg.value)
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop a subscriber
                log.warning("skipping undecodable %s at %s/%s/%s: %s", cls.__name__, msg.topic, msg.partition,
                            msg.offset, exc)
    finally:
        consumer.close()


def tail_alerts(settings: Settings, key_prefix: str | None = None, from_beginning: bool = False,
                follow: bool = True, idle_ms: int = 3000) -> Iterator[Alert]:
    """Yield alerts in topic order; with follow=False stop after `idle_ms` without new messages."""
    for alert in _consume(settings, topics.ALERTS, Alert, from_beginning, follow, idle_ms):
        if key_prefix and not alert.key.startswith(key_prefix):
            continue
        yield alert


def tail_incidents(settings: Settings, from_beginning: bool = False, follow: bool = True,
                   idle_ms: int = 3000) -> Iterator[Incident]:
    """Yield every incident revision in topic order; with follow=False stop after `idle_ms` without new ones."""
    yield from _consume(settings, topics.INCIDENTS, Incident, from_beginning, follow, idle_ms)


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def incident_keys(incident: Incident) -> list[str]:
    return [str(_field(k, "key")) for k in incident.keys]


def _rank(severity: Optional[str]) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def incident_notice(incident: Incident, key_prefixes: Sequence[str] = (), min_severity: str = "low") -> Optional[str]:
    """What one incident revision means to a subscriber (keys starting with any prefix, at or above a severity):
    "opened" the first time the incident is visible to it (it opened, or a subscribed key joined, or it reached
    the severity), "escalated" when its severity rose while visible, "resolved" when a visible incident resolved,
    None otherwise. Decided from the record alone (it names the keys that joined and the previous severity), so a
    restarted subscriber decides the same."""
    def matches(keys: Sequence[str]) -> bool:
        return not key_prefixes or any(k.startswith(p) for k in keys for p in key_prefixes)

    floor = _rank(min_severity)
    keys = incident_keys(incident)
    visible = matches(keys) and _rank(incident.severity) >= floor
    if incident.change == "resolved":
        return "resolved" if visible else None
    if not visible:
        return None
    before = [k for k in keys if k not in set(incident.new_keys)]
    was_visible = (incident.change != "opened" and matches(before)
                   and _rank(incident.previous_severity or incident.severity) >= floor)
    if not was_visible:
        return "opened"
    return "escalated" if incident.change == "escalated" else None


def tail_notifications(settings: Settings, key_prefix: str | None = None, from_beginning: bool = False,
                       follow: bool = True, idle_ms: int = 3000) -> Iterator[Tuple[str, Incident]]:
    """(notice, incident) for each revision that notifies a subscriber to `key_prefix` (see incident_notice)."""
    prefixes = (key_prefix,) if key_prefix else ()
    for incident in tail_incidents(settings, from_beginning, follow, idle_ms):
        notice = incident_notice(incident, prefixes)
        if notice is not None:
            yield notice, incident


def format_alert(alert: Alert) -> str:
    titles = "; ".join(a.title[:70] for a in alert.top_articles[:3])
    return (f"[{alert.state.upper()}] {alert.severity} {alert.key}  {alert.window_start} → {alert.window_end}  "
            f"observed {alert.observed:g} vs expected {alert.expected:.2f} (score {alert.score:.2f})  | {titles}")


def format_incident(notice: str, incident: Incident) -> str:
    """One line: notice, severity, headline (label and key), how many keys, the strongest evidence, top titles."""
    head = next((k for k in incident.keys if _field(k, "key") == incident.headline_key), None)
    evidence = (f"observed {float(_field(head, 'observed')):g} vs expected {float(_field(head, 'expected')):.2f}"
                if head is not None else "")
    others = [k for k in incident_keys(incident) if k != incident.headline_key]
    also = f" +{len(others)} keys ({', '.join(others[:4])}{', …' if len(others) > 4 else ''})" if others else ""
    titles = "; ".join(str(_field(a, "title"))[:70] for a in incident.top_articles[:3])
    label = f"{incident.headline_label} ({incident.headline_key})" if incident.headline_label else incident.headline_key
    return (f"[{notice.upper()}] {incident.severity} {label}{also}  since {incident.first_seen}  {evidence}  "
            f"| {titles}")


def print_alert(alert: Alert, console: Console | None = None) -> None:
    c = console or Console()
    c.print(format_alert(alert), style=_STATE_STYLE.get(alert.state, ""), markup=False, highlight=False)
    if alert.kibana_url and alert.state != "resolved":
        c.print(f"    kibana: {alert.kibana_url}", markup=False, highlight=False, style="dim")


def print_incident(notice: str, incident: Incident, console: Console | None = None) -> None:
    c = console or Console()
    c.print(format_incident(notice, incident), style=_STATE_STYLE.get(notice, ""), markup=False, highlight=False)
    if incident.kibana_url and notice != "resolved":
        c.print(f"    kibana: {incident.kibana_url}", markup=False, highlight=False, style="dim")


def run_tail(settings: Settings, key_prefix: str | None = None, from_beginning: bool = False, follow: bool = True,
             as_json: bool = False, per_key: bool = False) -> None:
    """`surgewatch alerts tail`: one notification per incident (opened / escalated / resolved), or with
    `per_key` every alert of every key."""
    if per_key:
        for alert in tail_alerts(settings, key_prefix=key_prefix, from_beginning=from_beginning, follow=follow):
            if as_json:
                sys.stdout.write(alert.dumps().decode("utf-8") + "\n")
                sys.stdout.flush()
            else:
                print_alert(alert)
        return
    for notice, incident in tail_notifications(settings, key_prefix, from_beginning, follow):
        if as_json:
            sys.stdout.write(json.dumps({"notice": notice, **as_dict(incident)}, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            print_incident(notice, incident)
