"""The one record codec: consumes message bytes (or decoded JSON) and record classes, produces typed Records, and
Records as JSON bytes with no framework metadata. Anything else raises InvalidItem("bad_record" | "schema_version")."""
from __future__ import annotations

import json
from typing import Any, TypeVar

import faust

from streams.records import (ALERT_STATES, INCIDENT_CHANGES, INCIDENT_STATES, SCHEMA_VERSION, SEVERITIES, Alert,
                             Incident, InvalidItem)

R = TypeVar("R", bound=faust.Record)
META = "__faust"          # written by earlier versions into every record and nested record; ignored on read


def encode(record: faust.Record) -> bytes:
    """A record as compact JSON bytes (records declare include_metadata=False: no framework metadata)."""
    return record.dumps()


def strip_metadata(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_metadata(v) for k, v in value.items() if k != META}
    if isinstance(value, list):
        return [strip_metadata(v) for v in value]
    return value


def _known(cls: type[faust.Record], data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this version of `cls` knows: a newer writer's optional fields are skipped (rolling upgrade)."""
    fields = cls._options.fields
    return {k: v for k, v in data.items() if k in fields}


def _check_version(data: dict[str, Any]) -> None:
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidItem("bad_record", f"schema_version must be a positive integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise InvalidItem("schema_version", f"schema_version {version} is newer than {SCHEMA_VERSION}: upgrade "
                          "this worker")


def _check_alert(record: Alert) -> None:
    if record.state not in ALERT_STATES:
        raise InvalidItem("bad_record", f"alert state {record.state!r} is not one of {', '.join(ALERT_STATES)}")
    if record.severity not in SEVERITIES:
        raise InvalidItem("bad_record", f"alert severity {record.severity!r} is not one of {', '.join(SEVERITIES)}")


def _check_incident(record: Incident) -> None:
    if record.state not in INCIDENT_STATES:
        raise InvalidItem("bad_record", f"incident state {record.state!r} is not one of {', '.join(INCIDENT_STATES)}")
    if record.change not in INCIDENT_CHANGES:
        raise InvalidItem("bad_record", f"incident change {record.change!r} is not one of {', '.join(INCIDENT_CHANGES)}")
    if record.severity not in SEVERITIES:
        raise InvalidItem("bad_record", f"incident severity {record.severity!r} is not one of {', '.join(SEVERITIES)}")


def load_json(raw: bytes | str | None) -> Any:
    if raw is None:
        raise InvalidItem("bad_record", "empty message")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidItem("bad_record", f"not JSON: {str(exc)[:120]}") from None


def decode(cls: type[R], raw: bytes | str | dict[str, Any] | None) -> R:
    """Decode one message (bytes, str or an already parsed JSON object) as a `cls` record."""
    data = raw if isinstance(raw, dict) else load_json(raw)
    if not isinstance(data, dict):
        raise InvalidItem("bad_record", f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    data = strip_metadata(data)
    _check_version(data)
    try:
        record = cls.from_data(_known(cls, data))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidItem("bad_record", f"not a {cls.__name__}: {str(exc)[:160]}") from None
    if isinstance(record, Alert):
        _check_alert(record)
    elif isinstance(record, Incident):
        _check_incident(record)
    return record


def as_dict(record: faust.Record) -> dict[str, Any]:
    """A record as plain JSON-ready data (nested records too)."""
    return json.loads(encode(record))
