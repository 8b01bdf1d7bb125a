"""The one record codec: round trips without framework metadata, reads what earlier versions wrote, checks the
schema version, and turns anything else into InvalidItem("bad_record")."""
from __future__ import annotations

import json

import pytest

from streams.codec import decode, encode
from streams.records import SCHEMA_VERSION, Alert, ArticleRef, EnrichedItem, Evidence, InvalidItem, Tag


def _item() -> EnrichedItem:
    tag = Tag(id="region:ru-ce", name="Chechnya", confidence=0.9,
              evidence=[Evidence(text="Grozny", field="title", start=9, end=15)])
    return EnrichedItem(id="a1", title="Rally in Grozny", text="x", published_at="2023-11-08T10:00:00Z",
                        language="en", regions=[tag])


def _alert(**over: object) -> Alert:
    base = dict(alert_id="e1", key="region:ru-ce", dimensions={"region": "ru-ce"}, window_start="2023-11-08T10:00:00Z",
                window_end="2023-11-08T11:00:00Z", state="firing", observed=9, expected=1.5, score=4.2,
                severity="high", top_articles=[ArticleRef(id="a1", title="Rally in Grozny")])
    return Alert(**{**base, **over})


def test_round_trip_carries_no_framework_metadata() -> None:
    raw = encode(_item())
    assert b"__faust" not in raw
    back = decode(EnrichedItem, raw)
    assert back.regions[0].evidence[0].text == "Grozny" and isinstance(back.regions[0].evidence[0], Evidence)


def test_messages_written_with_metadata_by_earlier_versions_are_read() -> None:
    data = json.loads(encode(_item()))
    data["__faust"] = {"ns": "streams.records.EnrichedItem"}
    data["regions"][0]["__faust"] = {"ns": "streams.records.Tag"}
    data["regions"][0]["evidence"][0]["__faust"] = {"ns": "streams.records.Evidence"}
    back = decode(EnrichedItem, json.dumps(data).encode())
    assert isinstance(back.regions[0], Tag) and back.regions[0].evidence[0].start == 9


def test_fields_of_a_newer_writer_are_skipped() -> None:
    data = {**json.loads(encode(_item())), "added_later": [1, 2]}
    back = decode(EnrichedItem, json.dumps(data))
    assert isinstance(back.regions[0], Tag) and not hasattr(back, "added_later")


@pytest.mark.parametrize("raw, reason", [
    (None, "bad_record"), (b"not json", "bad_record"), (b"[1, 2]", "bad_record"), (b"7", "bad_record"),
    (b'{"id": "a1"}', "bad_record"), (b"[" * 100_000, "bad_record"),
    (json.dumps({"schema_version": SCHEMA_VERSION + 1}).encode(), "schema_version"),
    (json.dumps({"schema_version": "one"}).encode(), "bad_record"),
])
def test_anything_else_is_an_invalid_item_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidItem) as err:
        decode(EnrichedItem, raw)
    assert err.value.reason == reason


def test_alert_state_and_severity_are_checked() -> None:
    assert decode(Alert, encode(_alert())).severity == "high"
    for bad in (_alert(severity="5"), _alert(state="exploded")):
        with pytest.raises(InvalidItem) as err:
            decode(Alert, encode(bad))
        assert err.value.reason == "bad_record"
