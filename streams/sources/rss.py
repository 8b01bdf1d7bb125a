"""RSS/Atom connector: consumes feed documents (feedparser), produces NewsItems to news.raw, once or on an interval."""
from __future__ import annotations

import calendar
import hashlib
import html
import logging
import re
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import feedparser

from streams.records import InvalidItem, NewsItem, iso
from streams.sources.producer import RawSink

log = logging.getLogger(__name__)

USER_AGENT = "surgewatch-rss/0.1 (+https://github.com/surgewatch)"
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                         "tr", "table", "section", "article", "figcaption"})
_SKIP_TAGS = frozenset({"script", "style"})
_SPACES = re.compile(r"[ \t\u00a0]+")


class _TextExtractor(HTMLParser):
    """Collects the text nodes of an HTML fragment, with a space at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (tags dropped, entities decoded, whitespace collapsed)."""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def _struct_to_iso(value: Optional[time.struct_time]) -> Optional[str]:
    if not value:
        return None
    return iso(datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc))


def _entry_text(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    candidates = [c.get("value", "") for c in contents if isinstance(c, Mapping)]
    candidates.append(entry.get("summary", "") or "")
    best = max((html_to_text(c) for c in candidates if c), key=len, default="")
    return best


def _language(feed: Mapping[str, Any], entry: Mapping[str, Any]) -> Optional[str]:
    lang = entry.get("language") or feed.get("language")
    if not lang or not isinstance(lang, str):
        return None
    return lang.split("-")[0].split("_")[0].strip().lower() or None


def feed_source(feed: Mapping[str, Any], feed_url: str) -> str:
    """Outlet name: the feed's title, else the host of its link or of the feed URL."""
    title = html_to_text(feed.get("title", "") or "")
    if title:
        return title
    host = urlsplit(feed.get("link") or feed_url).netloc.lower()
    return host[4:] if host.startswith("www.") else host or feed_url


def entry_to_item(entry: Mapping[str, Any], feed: Mapping[str, Any], feed_url: str,
                  fetched_at: datetime) -> NewsItem:
    """Map one feedparser entry to a validated NewsItem; raise InvalidItem when it cannot be one.

    published_at comes from the entry's published, else updated date; an entry with neither is stamped
    with fetched_at (the time this run first saw it), which is the best event time a live feed offers.
    """
    title = html_to_text(entry.get("title", "") or "")
    text = _entry_text(entry)
    published = (_struct_to_iso(entry.get("published_parsed")) or _struct_to_iso(entry.get("updated_parsed"))
                 or iso(fetched_at))
    payload: Dict[str, Any] = {
        "title": title,
        "text": text,
        "published_at": published,
        "url": entry.get("link") or None,
        "source": feed_source(feed, feed_url),
        "language": _language(feed, entry),
    }
    if not payload["url"] and entry.get("id"):
        # no link: the guid is the stable identity of the entry
        payload["id"] = hashlib.sha1(f"guid:{feed_url}\n{entry['id']}".encode("utf-8")).hexdigest()[:20]
    return NewsItem.from_payload(payload)


@dataclass
class ParsedFeed:
    items: List[NewsItem]
    errors: List[str]
    bozo: Optional[str] = None


def parse_feed(document: bytes | str, feed_url: str, fetched_at: Optional[datetime] = None,
               response_headers: Optional[Dict[str, str]] = None) -> ParsedFeed:
    """Parse a feed document (RSS 0.9x/1.0/2.0, Atom) into items; entries that fail validation are reported."""
    fetched_at = fetched_at or datetime.now(timezone.utc)
    parsed = feedparser.parse(document, response_headers=response_headers or {})
    items: List[NewsItem] = []
    errors: List[str] = []
    for n, entry in enumerate(parsed.entries):
        try:
            items.append(entry_to_item(entry, parsed.feed, feed_url, fetched_at))
        except InvalidItem as exc:
            errors.append(f"{feed_url} entry {n}: {exc}")
    bozo = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(items, errors, bozo)


@dataclass
class FeedState:
    """Conditional-GET validators remembered between polls of one feed."""

    etag: Optional[str] = None
    modified: Optional[str] = None


@dataclass(frozen=True)
class FetchResult:
    status: int
    body: bytes
    headers: Dict[str, str]


def fetch(url: str, state: FeedState, timeout: float = 20.0) -> FetchResult:
    """GET a feed with If-None-Match / If-Modified-Since; 304 returns an empty body."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                               "Accept": "application/rss+xml, application/atom+xml, "
                                                         "application/xml;q=0.9, */*;q=0.8"})
    if state.etag:
        req.add_header("If-None-Match", state.etag)
    if state.modified:
        req.add_header("If-Modified-Since", state.modified)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (user-supplied feed URLs)
            headers = {k.lower(): v for k, v in resp.headers.items()}
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return FetchResult(304, b"", {})
        raise
    state.etag = headers.get("etag") or state.etag
    state.modified = headers.get("last-modified") or state.modified
    return FetchResult(status, body, headers)


class SeenIds:
    """Ids already produced in this run (bounded, oldest forgotten first)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._ids: "OrderedDict[str, None]" = OrderedDict()

    def add(self, item_id: str) -> bool:
        """Remember an id; True when it is new."""
        if item_id in self._ids:
            return False
        self._ids[item_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)


def new_items(items: Iterable[NewsItem], seen: SeenIds) -> List[NewsItem]:
    """Items whose id was not produced earlier in this run (also dedups within one batch)."""
    return [i for i in items if i.id and seen.add(i.id)]


@dataclass
class PollStats:
    rounds: int = 0
    sent: int = 0
    duplicates: int = 0
    invalid: int = 0
    fetch_errors: int = 0
    per_feed: Dict[str, int] = field(default_factory=dict)


Fetcher = Callable[[str, FeedState], FetchResult]


def poll_once(feeds: Sequence[str], sink: RawSink, seen: SeenIds, states: Dict[str, FeedState],
              stats: PollStats, fetcher: Fetcher = fetch) -> None:
    """Fetch every feed once and send the entries not seen before; a failing feed is logged and skipped."""
    for url in feeds:
        state = states.setdefault(url, FeedState())
        try:
            result = fetcher(url, state)
        except (OSError, ValueError) as exc:  # URLError/HTTPError/timeouts are OSError
            stats.fetch_errors += 1
            log.warning("feed %s: fetch failed: %s", url, exc)
            continue
        if result.status == 304:
            log.debug("feed %s: not modified", url)
            continue
        parsed = parse_feed(result.body, url, response_headers=result.headers)
        if parsed.bozo and not parsed.items:
            stats.fetch_errors += 1
            log.warning("feed %s: not a feed (%s)", url, parsed.bozo)
        for err in parsed.errors:
            log.warning("%s (skipped)", err)
        stats.invalid += len(parsed.errors)
        fresh = new_items(parsed.items, seen)
        stats.duplicates += len(parsed.items) - len(fresh)
        for item in fresh:
            sink.send_item(item)
        stats.sent += len(fresh)
        stats.per_feed[url] = stats.per_feed.get(url, 0) + len(fresh)
        log.info("feed %s: %d new, %d already seen", url, len(fresh), len(parsed.items) - len(fresh))


def poll(feeds: Sequence[str], producer: RawSink, interval: float = 300.0, *, once: bool = False,
         fetcher: Fetcher = fetch, sleep: Callable[[float], None] = time.sleep,
         max_rounds: Optional[int] = None, flush: Optional[Callable[[], None]] = None) -> PollStats:
    """Poll feeds every `interval` seconds (or once), producing unseen entries; returns the run's counts.

    Entries are deduplicated by item id within the run; across runs the enrich stage's dedup applies.
    """
    if not feeds:
        raise ValueError("no feed URLs given")
    seen = SeenIds()
    states: Dict[str, FeedState] = {}
    stats = PollStats()
    while True:
        poll_once(feeds, producer, seen, states, stats, fetcher)
        stats.rounds += 1
        if flush is not None:
            flush()
        if once or (max_rounds is not None and stats.rounds >= max_rounds):
            return stats
        sleep(interval)
