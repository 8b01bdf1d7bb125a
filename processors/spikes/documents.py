"""Alert document shaping: consumes Alert records, produces alerts index documents and their ids (pure)."""
from __future__ import annotations

from typing import Any

from streams.codec import as_dict
from streams.records import Alert


def alert_document(alert: Alert) -> dict[str, Any]:
    return {k: v for k, v in as_dict(alert).items() if v is not None}


def alert_doc_id(alert: Alert) -> str:
    """One document per episode state change; re-delivery overwrites the same document."""
    return f"{alert.alert_id}:{alert.state}:{alert.window_end}"
