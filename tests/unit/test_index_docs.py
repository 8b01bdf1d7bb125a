"""Unit tests for ES document shaping and safe search query building (pure)."""
from datetime import datetime, timezone

from processors.index.documents import news_document
from processors.spikes.documents import alert_doc_id, alert_document
from processors.index.query import build_search, parse_since
from streams.records import Alert, ArticleRef, EnrichedItem, Evidence, Tag


def _item():
    grozny = Tag(id="region:gn-557352", name="Grozny", confidence=0.8, geo={"lat": 43.31, "lon": 45.69},
                 ancestors=["region:ru-ce", "region:north-caucasus-fd", "region:ru"],
                 evidence=[Evidence(text="Grozny", field="text", start=3, end=9)])
    russia = Tag(id="region:ru", name="Russia", confidence=0.6, geo={"lat": 60.0, "lon": 100.0})
    return EnrichedItem(id="a1", title="t", text="In Grozny", published_at="2023-11-08T07:00:00Z", language="en",
                        regions=[grozny, russia], communities=[Tag(id="community:muslims", name="Muslims",
                                                                   confidence=0.9)])


def test_news_document_flattens_ids_with_ancestors_and_best_location():
    doc = news_document(_item(), now=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert doc["region_ids"] == ["region:gn-557352", "region:ru-ce", "region:north-caucasus-fd", "region:ru"]
    assert doc["community_ids"] == ["community:muslims"]
    assert doc["location"] == {"lat": 43.31, "lon": 45.69}
    assert doc["regions"][0]["evidence"][0] == {"text": "Grozny", "field": "text", "start": 3, "end": 9}
    assert "__faust" not in str(doc)


def test_alert_document_and_id_are_stable():
    a = Alert(alert_id="ep1", key="region:ru-ce", dimensions={"region": "ru-ce"}, window_start="2023-11-08T00:00:00Z",
              window_end="2023-11-08T01:00:00Z", state="firing", observed=12, expected=1.5, score=0.9,
              severity="high", top_articles=[ArticleRef(id="a1", title="t")])
    d = alert_document(a)
    assert d["top_articles"][0]["id"] == "a1" and "__faust" not in str(d)
    assert d["window_end"] == "2023-11-08T01:00:00Z" and d["severity"] == "high"
    assert alert_doc_id(a) == "ep1:firing:2023-11-08T01:00:00Z"


def test_search_text_is_matched_not_parsed():
    body = build_search('Chechnya") OR *:*', regions=["ru-ce"], communities=["community:muslims"], since="2023-11-01")
    must = body["query"]["bool"]["must"][0]["multi_match"]
    assert must["query"] == 'Chechnya") OR *:*'
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"region_ids": "region:ru-ce"}} in filters
    assert {"term": {"community_ids": "community:muslims"}} in filters
    assert {"range": {"published_at": {"gte": "2023-11-01T00:00:00Z"}}} in filters


def test_no_text_sorts_by_time_and_relative_since():
    body = build_search("", topics=["protest"])
    assert body["sort"] == [{"published_at": "desc"}]
    assert parse_since("2d", now=datetime(2023, 11, 8, tzinfo=timezone.utc)) == "2023-11-06T00:00:00Z"
