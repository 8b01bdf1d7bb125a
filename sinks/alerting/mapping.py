"""Alert mapping (pure, no I/O): consumes Alert and Incident records and a subscription, produces the decision to
forward (per key, or per incident: opened / escalated / resolved), Alertmanager v2 postable alerts (labels,
annotations, endsAt) and the generic webhook body."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from streams.codec import as_dict
from streams.records import SEVERITIES, Alert, AlertState, Incident, iso, parse_time
from streams.subscribe import format_incident, incident_keys, incident_notice

logger = logging.getLogger(__name__)

ALERTNAME = "SurgewatchSpike"
RESOLVED = AlertState.RESOLVED.value
ESCALATED = AlertState.ESCALATED.value
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_RESERVED_LABELS = frozenset({"alertname", "key", "severity"})


def severity_rank(severity: str) -> int:
    """Position of a severity in low < medium < high < critical; unknown severities raise ValueError."""
    try:
        return SEVERITIES.index(severity.strip().lower())
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}") from None


@dataclass(frozen=True)
class Subscription:
    """Which alerts to forward: keys starting with any prefix (none = every key) at or above min_severity."""

    key_prefixes: Tuple[str, ...] = ()
    min_severity: str = "low"

    def __post_init__(self) -> None:
        severity_rank(self.min_severity)  # validate early

    def matches(self, alert: Alert) -> bool:
        if self.key_prefixes and not any(alert.key.startswith(p) for p in self.key_prefixes):
            return False
        try:
            rank = severity_rank(alert.severity)
        except ValueError:
            logger.warning("alert %s has unknown severity %r; forwarding it", alert.alert_id, alert.severity)
            return True
        # a resolution is always forwarded for a subscribed key: the receiver may hold the firing alert
        # raised at a higher severity before the episode calmed down
        return alert.state == RESOLVED or rank >= severity_rank(self.min_severity)

    def notice(self, incident: Incident) -> Optional[str]:
        """"opened" / "escalated" / "resolved" when this incident revision notifies the subscriber, else None."""
        return incident_notice(incident, self.key_prefixes, self.min_severity)


def label_name(dimension: str) -> str:
    """A dimension name as a valid Prometheus/Alertmanager label name."""
    name = _LABEL_NAME.sub("_", dimension.strip()) or "dimension"
    if name[0].isdigit():
        name = "_" + name
    if name in _RESERVED_LABELS:
        name = "dim_" + name
    return name


def alert_labels(alert: Alert, severity: Optional[str] = None) -> Dict[str, str]:
    """Identity labels of an alert in Alertmanager: alertname, key, severity and one label per dimension."""
    labels = {"alertname": ALERTNAME, "key": alert.key, "severity": severity or alert.severity}
    for dim, value in sorted((alert.dimensions or {}).items()):
        if value:
            labels[label_name(dim)] = str(value)
    return labels


def _article_lines(alert: Alert, max_articles: int) -> str:
    lines = []
    for art in list(alert.top_articles or [])[:max_articles]:
        title = art.title if hasattr(art, "title") else str(art.get("title", ""))  # type: ignore[union-attr]
        source = art.source if hasattr(art, "source") else art.get("source")  # type: ignore[union-attr]
        url = art.url if hasattr(art, "url") else art.get("url")  # type: ignore[union-attr]
        line = "- " + " ".join(title.split())
        if source:
            line += f" ({source})"
        if url:
            line += f" {url}"
        lines.append(line)
    return "\n".join(lines)


def alert_annotations(alert: Alert, max_articles: int = 5) -> Dict[str, str]:
    """Human-readable annotations: summary, observed/expected, score, window, Kibana link, top articles."""
    ann = {
        "summary": (f"News surge on {alert.key}: {alert.observed:g} observed vs {alert.expected:.1f} expected "
                    f"({alert.severity}, {alert.state})"),
        "observed": f"{alert.observed:g}",
        "expected": f"{alert.expected:.2f}",
        "score": f"{alert.score:.2f}",
        "state": alert.state,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "alert_id": alert.alert_id,
    }
    if alert.kibana_url:
        ann["kibana_url"] = alert.kibana_url
    articles = _article_lines(alert, max_articles)
    if articles:
        ann["top_articles"] = articles
    if alert.co_tags:
        ann["co_tags"] = ", ".join(alert.co_tags[:10])
    return ann


def to_alertmanager(alert: Alert, now: datetime, firing_ttl: timedelta = timedelta(hours=1),
                    max_articles: int = 5) -> List[Dict[str, Any]]:
    """Alertmanager v2 postable alerts for one Alert state change.

    firing/escalated: endsAt = now + firing_ttl (the forwarder re-posts active alerts before it passes);
    resolved: endsAt = the alert's window end (or now), which resolves the episode at every severity.
    An escalation also resolves the same key at lower severities, so one episode shows once.
    """
    starts = parse_time(alert.window_start)
    annotations = alert_annotations(alert, max_articles)
    base: Dict[str, Any] = {"annotations": annotations, "startsAt": iso(starts)}
    if alert.kibana_url and alert.kibana_url.startswith(("http://", "https://")):
        base["generatorURL"] = alert.kibana_url
    if alert.state == RESOLVED:
        ends = max(parse_time(alert.window_end), starts) if alert.window_end else now
        ends = min(ends, now)
        # resolve at every severity: the episode may have been raised at any of them
        return [dict(base, labels=alert_labels(alert, sev), endsAt=iso(max(ends, starts))) for sev in SEVERITIES]
    out = [dict(base, labels=alert_labels(alert), endsAt=iso(now + firing_ttl))]
    try:
        rank = severity_rank(alert.severity)
    except ValueError:
        return out
    if alert.state == ESCALATED:
        out += [dict(base, labels=alert_labels(alert, sev), endsAt=iso(max(now, starts)))
                for sev in SEVERITIES[:rank]]
    return out


def webhook_payload(alert: Alert) -> Dict[str, Any]:
    """The generic webhook body: the Alert as plain JSON."""
    return as_dict(alert)


# ------------------------------------------------------------------------------------------------ incidents

def incident_labels(incident: Incident, severity: Optional[str] = None) -> Dict[str, str]:
    """Identity labels of an incident in Alertmanager: one alert per incident and severity (`key` is the incident
    id, so the spike routes group and inhibit per incident; the headline key can change as keys join)."""
    return {"alertname": ALERTNAME, "key": incident.incident_id, "severity": severity or incident.severity,
            "incident_id": incident.incident_id}


def incident_annotations(incident: Incident, notice: str, max_articles: int = 5) -> Dict[str, str]:
    """Summary, headline, every key with its evidence, top articles, Kibana link."""
    keys = []
    for k in incident.keys:
        get = k.get if isinstance(k, dict) else lambda n, k=k: getattr(k, n)
        keys.append(f"{get('key')}: {float(get('observed')):g} observed vs {float(get('expected')):.1f} expected "
                    f"({get('severity')}, {get('state')})")
    ann = {"summary": format_incident(notice, incident)[:500], "notice": notice, "state": incident.state,
           "headline_key": incident.headline_key, "headline_label": incident.headline_label or incident.headline_key,
           "keys": "\n".join(keys), "first_seen": incident.first_seen, "last_update": incident.last_update,
           "incident_id": incident.incident_id, "items": str(incident.items)}
    if incident.kibana_url:
        ann["kibana_url"] = incident.kibana_url
    articles = _article_lines(incident, max_articles)   # type: ignore[arg-type]
    if articles:
        ann["top_articles"] = articles
    if incident.co_tags:
        ann["co_tags"] = ", ".join(incident.co_tags[:10])
    return ann


def incident_to_alertmanager(incident: Incident, notice: str, now: datetime,
                             firing_ttl: timedelta = timedelta(hours=1)) -> List[Dict[str, Any]]:
    """Alertmanager v2 postable alerts for one incident notification: opened/escalated fire at the incident's
    severity (an escalation also ends its lower severities), resolved ends every severity."""
    starts = min(parse_time(incident.first_seen), now)
    base: Dict[str, Any] = {"annotations": incident_annotations(incident, notice), "startsAt": iso(starts)}
    if incident.kibana_url and incident.kibana_url.startswith(("http://", "https://")):
        base["generatorURL"] = incident.kibana_url
    if notice == RESOLVED:
        return [dict(base, labels=incident_labels(incident, sev), endsAt=iso(now)) for sev in SEVERITIES]
    out = [dict(base, labels=incident_labels(incident), endsAt=iso(now + firing_ttl))]
    rank = severity_rank(incident.severity)
    out += [dict(base, labels=incident_labels(incident, sev), endsAt=iso(now)) for sev in SEVERITIES[:rank]]
    return out


def incident_webhook_payload(incident: Incident, notice: str) -> Dict[str, Any]:
    """The generic webhook body of an incident notification: the Incident as plain JSON plus the notice."""
    return {"notice": notice, **as_dict(incident), "key_count": len(incident_keys(incident))}
