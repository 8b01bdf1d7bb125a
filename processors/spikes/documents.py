"""Alert and incident document shaping: consumes Alert and Incident records, produces alerts / incidents index
documents and their ids (pure)."""
from __future__ import annotations

from typing import Any

from streams.codec import as_dict
from streams.records import Alert, Incident


def alert_document(alert: Alert) -> dict[str, Any]:
    return {k: v for k, v in as_dict(alert).items() if v is not None}


def alert_doc_id(alert: Alert) -> str:
    """One document per episode state change; re-delivery overwrites the same document."""
    return f"{alert.alert_id}:{alert.state}:{alert.window_end}"


def incident_document(incident: Incident) -> dict[str, Any]:
    return {k: v for k, v in as_dict(incident).items() if v is not None}


def incident_doc_id(incident: Incident) -> str:
    """One document per incident, its latest revision (revisions are written in order)."""
    return incident.incident_id
