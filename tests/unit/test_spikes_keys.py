"""Count keys and Kibana link tests: consumes EnrichedItems, asserts CountEvents and URLs (no I/O)."""
from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import prison

from processors.spikes.keys import MAX_COMBINATION_KEYS, count_events, dimensions_of, expand, item_counts
from streams.codec import as_dict, decode, encode
from processors.spikes.kibana import discover_url
from streams.records import EnrichedItem, ItemCounts, Tag


def _item(**kw) -> EnrichedItem:
    base = dict(id="a1", title="Protest in Grozny", text="", published_at="2023-11-05T10:00:00Z", language="en",
                url="https://www.Example.org/x",
                regions=[Tag(id="region:ru-ce", name="Chechnya", confidence=0.9,
                             ancestors=["region:north-caucasus-fd", "region:ru"])],
                communities=[Tag(id="community:muslims", name="Muslims", confidence=0.8)],
                topics=[Tag(id="topic:protest", name="Protest", confidence=0.7)])
    base.update(kw)
    return EnrichedItem(**base)


def test_count_events_keys_dimensions_and_context() -> None:
    events = count_events(_item())
    keys = [e.key for e in events]
    assert keys[0] == "all" and events[0].dimensions == {}
    for k in ("region:ru-ce", "region:north-caucasus-fd", "region:ru", "community:muslims", "topic:protest",
              "community:muslims|topic:protest", "region:ru-ce|community:muslims", "region:ru-ce|topic:protest",
              "region:north-caucasus-fd|topic:protest"):
        assert k in keys, k
    assert len(keys) == len(set(keys))
    ev = {e.key: e for e in events}
    assert ev["community:muslims|topic:protest"].dimensions == {"community": "muslims", "topic": "protest"}
    assert dimensions_of("region:ru-ce|topic:protest") == {"region": "ru-ce", "topic": "protest"}
    assert ev["topic:protest"].co_tags == ["region:ru-ce", "community:muslims"]
    assert "topic:protest" not in ev["community:muslims|topic:protest"].co_tags
    assert all(e.story_id == "a1" and e.outlet == "example.org" and e.article.id == "a1" for e in events)
    assert count_events(_item(story_id="s9", source="Reuters"))[0].story_id == "s9"
    assert count_events(_item(source="Reuters"))[1].outlet == "Reuters"


def test_combination_keys_are_bounded() -> None:
    many = _item(regions=[Tag(id=f"region:r{i}", name="r", confidence=0.5, ancestors=["region:big"]) for i in range(8)],
                 communities=[Tag(id=f"community:c{i}", name="c", confidence=0.5) for i in range(8)],
                 topics=[Tag(id=f"topic:t{i}", name="t", confidence=0.5) for i in range(8)])
    keys = [e.key for e in count_events(many)]
    combos = [k for k in keys if "|" in k]
    assert len(combos) <= MAX_COMBINATION_KEYS
    assert len(keys) == 1 + 9 + 8 + 8 + len(combos)
    assert count_events(_item(regions=[], communities=[], topics=[]))[0].key == "all"
    assert len(count_events(_item(regions=[], communities=[], topics=[]))) == 1


def test_item_counts_on_the_wire_expand_to_the_items_count_events() -> None:
    items = [_item(), _item(story_id="s9", source="Reuters", dup_keys=["k1", "k2"]), _item(regions=[], topics=[]),
             _item(regions=[Tag(id=f"region:r{i}", name="r", confidence=0.5, ancestors=["region:big"]) for i in range(5)])]
    for item in items:
        message = item_counts(item)
        message.lane = 3
        expected = count_events(item)
        for e in expected:
            e.lane = 3
        got = expand(decode(ItemCounts, encode(message)))
        assert [as_dict(e) for e in got] == [as_dict(e) for e in expected]
        assert len(encode(message)) < sum(len(encode(e)) for e in expected) or len(expected) == 1


def test_discover_url_shows_exactly_the_articles() -> None:
    url = discover_url("http://kibana:5601/", "surgewatch-news*", ["a1", 'b"2'], "2023-11-05T09:00:00Z",
                       "2023-11-05T12:00:00Z")
    parts = urlsplit(url)
    assert parts.netloc == "kibana:5601" and parts.path == "/app/discover"
    frag = parse_qs(parts.fragment.split("?", 1)[1])
    g = prison.loads(unquote(frag["_g"][0]) if "%" in frag["_g"][0] else frag["_g"][0])
    a = prison.loads(frag["_a"][0])
    assert g["time"] == {"from": "2023-11-05T09:00:00Z", "to": "2023-11-05T12:00:00Z"}
    assert a["index"] == "surgewatch-news*"
    assert a["query"] == {"language": "kuery", "query": 'id:("a1" or "b\\"2")'}
