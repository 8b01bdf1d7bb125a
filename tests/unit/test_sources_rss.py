"""RSS/Atom mapping without the network: feed XML written here → NewsItems; HTML stripping; dedup; poll loop."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Dict, List, Optional

import pytest

from streams.records import NewsItem, derive_id
from streams.sources.producer import SourceError
from streams.sources.rss import FeedState, FetchResult, SeenIds, html_to_text, new_items, parse_feed, poll

FETCHED = datetime(2023, 11, 9, 12, 0, tzinfo=timezone.utc)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Caspian Evening Post</title>
  <link>https://www.caspian-post.example/</link>
  <language>en-gb</language>
  <item>
    <title>Thousands rally in Grozny in solidarity with Gaza</title>
    <link>https://www.caspian-post.example/news/grozny-rally?utm_source=rss</link>
    <guid>cp-1001</guid>
    <pubDate>Wed, 08 Nov 2023 09:15:00 +0300</pubDate>
    <description>&lt;p&gt;Several thousand people gathered in &lt;b&gt;central Grozny&lt;/b&gt;.&lt;/p&gt;&lt;p&gt;Speakers called
      for a ceasefire &amp;amp; aid.&lt;/p&gt;&lt;script&gt;track()&lt;/script&gt;</description>
  </item>
  <item>
    <title>Mosques in Kazan collect aid</title>
    <link>https://www.caspian-post.example/news/kazan-aid</link>
    <description>Short teaser.</description>
    <content:encoded><![CDATA[<div><p>Mosques across Tatarstan have been collecting donations.</p>
      <ul><li>Food</li><li>Medicine</li></ul></div>]]></content:encoded>
    <pubDate>Thu, 09 Nov 2023 07:00:00 GMT</pubDate>
  </item>
  <item>
    <title>No date on this one</title>
    <guid isPermaLink="false">cp-1003</guid>
    <description>Undated entry without a link.</description>
  </item>
  <item>
    <title></title>
    <description></description>
    <pubDate>Thu, 09 Nov 2023 08:00:00 GMT</pubDate>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ru">
  <title type="html">Лента &lt;i&gt;Кавказа&lt;/i&gt;</title>
  <link href="https://kavkaz-lenta.example/"/>
  <id>urn:uuid:feed-1</id>
  <updated>2023-11-09T10:00:00Z</updated>
  <entry>
    <title>Муфтий Чечни призвал помочь жителям Газы</title>
    <link href="https://kavkaz-lenta.example/2023/11/09/mufti"/>
    <id>urn:uuid:entry-1</id>
    <updated>2023-11-09T10:30:00+03:00</updated>
    <summary type="html">Муфтий Чечни призвал мусульман &lt;em&gt;поддержать&lt;/em&gt; жителей Газы.</summary>
  </entry>
</feed>
"""


def test_rss_entries_map_to_news_items() -> None:
    parsed = parse_feed(RSS, "https://www.caspian-post.example/rss", fetched_at=FETCHED)
    assert len(parsed.items) == 3
    assert len(parsed.errors) == 1 and "empty_item" in parsed.errors[0]
    first, second, third = parsed.items
    assert first.title == "Thousands rally in Grozny in solidarity with Gaza"
    assert first.text == "Several thousand people gathered in central Grozny. Speakers called for a ceasefire & aid."
    assert first.published_at == "2023-11-08T06:15:00Z"          # +03:00 converted to UTC
    assert first.url == "https://www.caspian-post.example/news/grozny-rally?utm_source=rss"
    assert first.id == derive_id(first.url, "", "")             # same id recipe as any other source
    assert first.source == "Caspian Evening Post"
    assert first.language == "en"
    # content:encoded preferred over the shorter teaser, list items become separate words
    assert second.text == "Mosques across Tatarstan have been collecting donations. Food Medicine"
    assert second.published_at == "2023-11-09T07:00:00Z"
    # no date: stamped with the fetch time; no link: id from the guid, stable across polls
    assert third.published_at == "2023-11-09T12:00:00Z"
    assert third.url is None
    again = parse_feed(RSS, "https://www.caspian-post.example/rss", fetched_at=datetime.now(timezone.utc))
    assert again.items[2].id == third.id


def test_atom_entry_uses_updated_time_feed_language_and_plain_title() -> None:
    parsed = parse_feed(ATOM.encode("utf-8"), "https://kavkaz-lenta.example/atom.xml", fetched_at=FETCHED)
    (item,) = parsed.items
    assert item.title == "Муфтий Чечни призвал помочь жителям Газы"
    assert item.text == "Муфтий Чечни призвал мусульман поддержать жителей Газы."
    assert item.published_at == "2023-11-09T07:30:00Z"
    assert item.language == "ru"
    assert item.source == "Лента Кавказа"
    assert item.url == "https://kavkaz-lenta.example/2023/11/09/mufti"


def test_source_falls_back_to_host_when_feed_has_no_title() -> None:
    xml = RSS.replace("<title>Caspian Evening Post</title>", "")
    parsed = parse_feed(xml, "https://feeds.example/rss", fetched_at=FETCHED)
    assert {i.source for i in parsed.items} == {"caspian-post.example"}


def test_html_to_text() -> None:
    assert html_to_text("plain   text\n here") == "plain text here"
    assert html_to_text("<p>a&nbsp;b</p><p>c &lt;d&gt;</p><style>p{}</style>") == "a b c <d>"


def test_dedup_within_run() -> None:
    items = parse_feed(RSS, "u", fetched_at=FETCHED).items
    seen = SeenIds(capacity=10)
    assert len(new_items(items + items[:1], seen)) == 3
    assert new_items(items, seen) == []
    small = SeenIds(capacity=2)
    for i in items:
        small.add(i.id or "")
    assert len(small) == 2 and small.add(items[0].id or "")    # the oldest was forgotten


class RecordingSink:
    def __init__(self) -> None:
        self.items: List[NewsItem] = []
        self.raw: List[bytes] = []

    def send_item(self, item: NewsItem) -> None:
        self.items.append(item)

    def send_raw(self, payload: bytes, key: Optional[bytes] = None) -> None:
        self.raw.append(payload)


def test_poll_sends_only_new_entries_and_survives_a_failing_feed() -> None:
    calls: Dict[str, int] = {}
    bodies = {"https://a.example/rss": [RSS.encode(), RSS.encode()],
              "https://b.example/atom": [ATOM.encode(), b""]}

    def fetcher(url: str, state: FeedState) -> FetchResult:
        n = calls.get(url, 0)
        calls[url] = n + 1
        if url == "https://down.example/rss":
            raise OSError("connection refused")
        if url == "https://b.example/atom" and n == 1:
            return FetchResult(304, b"", {})
        return FetchResult(200, bodies[url][n], {"content-type": "application/xml"})

    sink = RecordingSink()
    naps: List[float] = []
    stats = poll(["https://a.example/rss", "https://down.example/rss", "https://b.example/atom"], sink,
                 interval=30, fetcher=fetcher, sleep=naps.append, max_rounds=2)
    assert stats.rounds == 2 and naps == [30]
    assert stats.sent == 4 and len(sink.items) == 4          # 3 RSS + 1 Atom, the second round adds nothing
    assert stats.duplicates == 3
    assert stats.invalid == 2                                 # the empty RSS entry, once per round
    assert stats.fetch_errors == 2
    assert sink.raw == []


def test_poll_requires_http_feeds() -> None:
    for feeds in ([], ["file:///etc/passwd"], ["ftp://x.example/rss"], ["/tmp/feed.xml"], ["http://"]):
        with pytest.raises(SourceError):
            poll(feeds, RecordingSink(), once=True)
