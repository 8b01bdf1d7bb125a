"""Unit tests for the wire records and input validation (pure)."""
import json

import pytest

from streams.records import EnrichedItem, Evidence, InvalidItem, NewsItem, Tag, canonical_url, derive_id, parse_time
from processors.enrich.pipeline import parse_news_item


def test_canonical_url_drops_tracking_and_fragment():
    a = canonical_url("HTTPS://www.Example.com/news/1/?utm_source=x&b=2&a=1#top")
    assert a == "https://example.com/news/1?a=1&b=2"
    assert derive_id("https://example.com/news/1?a=1&b=2", "x", "y") == derive_id(
        "https://www.example.com/news/1/?b=2&a=1&utm_medium=z", "other", "text")


def test_id_from_content_when_no_url_is_stable_and_whitespace_insensitive():
    assert derive_id(None, "Title", "Some  text") == derive_id(None, "title", "some text")
    assert derive_id(None, "Title", "Some text") != derive_id(None, "Title", "Other text")


def test_valid_item_gets_id_and_utc_time():
    item = parse_news_item(b'{"title": "T", "text": "body", "published_at": "2023-11-08T10:00:00+03:00"}')
    assert item.published_at == "2023-11-08T07:00:00Z"
    assert item.id and len(item.id) == 20


@pytest.mark.parametrize("raw,reason", [
    (b"not json", "invalid_json"),
    (b"[1, 2]", "not_an_object"),
    (b'{"title": "T", "text": "x"}', "missing_field"),
    (b'{"title": "T", "text": "x", "published_at": "yesterday"}', "bad_published_at"),
    (b'{"title": 5, "text": "x", "published_at": "2023-11-08"}', "bad_type"),
    (b'{"title": " ", "text": "", "published_at": "2023-11-08"}', "empty_item"),
    (b"\xff\xfe", "not_utf8"),
])
def test_bad_input_has_a_reason(raw, reason):
    with pytest.raises(InvalidItem) as exc:
        parse_news_item(raw)
    assert exc.value.reason == reason


def test_naive_time_is_utc_and_epoch_accepted():
    assert parse_time("2023-11-08T10:00:00").isoformat() == "2023-11-08T10:00:00+00:00"
    assert parse_time(0).year == 1970


def test_enriched_item_round_trips_nested_tags():
    tag = Tag(id="region:ru-ce", name="Chechnya", confidence=0.9, ancestors=["region:ru"],
              evidence=[Evidence(text="Chechnya", field="title", start=0, end=8)], geo={"lat": 43.3, "lon": 45.7})
    item = EnrichedItem(id="x", title="Chechnya", text="", published_at="2023-11-08T00:00:00Z", language="en",
                        regions=[tag])
    back = EnrichedItem.loads(item.dumps())
    assert back.regions[0].evidence[0].end == 8
    assert back.regions[0].ancestors == ["region:ru"]
    assert json.loads(item.dumps())["regions"][0]["geo"] == {"lat": 43.3, "lon": 45.7}


def test_news_item_dumps_loads():
    item = NewsItem.from_payload({"title": "a", "text": "b", "published_at": "2023-01-01", "url": "http://x.org/1"})
    assert NewsItem.loads(item.dumps()).url == "http://x.org/1"
