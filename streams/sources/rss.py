"""RSS/Atom connector: consumes feed documents (feedparser), produces NewsItems to news.raw, once or on an interval."""
from __future__ import annotations

import calendar
import hashlib
import html
import io
import ipaddress
import logging
import re
import socket
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
from streams.sources.producer import RawSink, SourceError
from streams.validate import MAX_SOURCE_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS, news_item

log = logging.getLogger(__name__)

USER_AGENT = "surgewatch-rss/0.1 (+https://github.com/surgewatch)"
MAX_FEED_BYTES = 5 * 1024 * 1024       # a feed document larger than this is refused (read stops there)
FETCH_TIMEOUT = 20.0                   # seconds per socket operation
POLL_DEADLINE = 120.0                  # seconds for one round over every feed; feeds not reached wait for the next
_READ_CHUNK = 64 * 1024
# an entity declaration, or a DOCTYPE with an internal subset, is refused (feedparser's loose parser expands
# entities without limit); a DOCTYPE naming only an external DTD is dropped (nothing is ever fetched)
_ENTITY = re.compile(rb"<!\s*ENTITY|<!\s*DOCTYPE[^>\[]*\[", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!\s*DOCTYPE[^>\[]*>", re.IGNORECASE)
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
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
    try:
        return iso(datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc))
    except (OverflowError, ValueError, OSError, TypeError):  # a date feedparser parsed but datetime cannot hold
        return None


def _cap(value: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when there is one near the end."""
    if len(value) <= limit:
        return value
    cut = value[:limit]
    space = cut.rfind(" ", limit - 200)
    return cut[:space] if space > 0 else cut


def _entry_text(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    candidates = [c.get("value", "") for c in contents if isinstance(c, Mapping)]
    candidates.append(entry.get("summary", "") or "")
    best = max((html_to_text(c) for c in candidates if c and isinstance(c, str)), key=len, default="")
    return _cap(best, MAX_TEXT_CHARS)


def _language(feed: Mapping[str, Any], entry: Mapping[str, Any]) -> Optional[str]:
    lang = entry.get("language") or feed.get("language")
    if not lang or not isinstance(lang, str):
        return None
    return lang.split("-")[0].split("_")[0].strip().lower() or None


def feed_source(feed: Mapping[str, Any], feed_url: str) -> str:
    """Outlet name: the feed's title, else the host of its link or of the feed URL."""
    title = _cap(html_to_text(feed.get("title", "") or ""), MAX_SOURCE_CHARS)
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
    title = _cap(html_to_text(entry.get("title", "") or ""), MAX_TITLE_CHARS)
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
        payload["id"] = hashlib.sha1(f"guid:{feed_url}\n{entry['id']}".encode("utf-8", "replace")).hexdigest()[:20]
    return news_item(payload, now=fetched_at)


@dataclass
class ParsedFeed:
    items: List[NewsItem]
    errors: List[str]
    bozo: Optional[str] = None


class UnsafeFeed(ValueError):
    """A feed document refused before parsing (entity declarations, a wide encoding, too large)."""


def safe_document(document: bytes | str) -> bytes:
    """The bytes feedparser may parse: refuse entity declarations and internal DTD subsets, drop a DOCTYPE."""
    body = document.encode("utf-8") if isinstance(document, str) else bytes(document)
    if len(body) > MAX_FEED_BYTES:
        raise UnsafeFeed(f"document has {len(body)} bytes (max {MAX_FEED_BYTES})")
    if body.startswith(_WIDE_BOMS) or b"\x00" in body[:4]:
        raise UnsafeFeed("UTF-16/32 documents are not accepted")
    if _ENTITY.search(body):
        raise UnsafeFeed("entity declarations (<!ENTITY, or a DOCTYPE with an internal subset) are refused")
    return _DOCTYPE.sub(b"", body)


def parse_feed(document: bytes | str, feed_url: str, fetched_at: Optional[datetime] = None,
               response_headers: Optional[Dict[str, str]] = None) -> ParsedFeed:
    """Parse a feed document (RSS 0.9x/1.0/2.0, Atom) into items; entries that fail validation are reported.

    Always parses the bytes given (a BytesIO: a body that looks like a path or URL is never opened); raises
    UnsafeFeed for a document refused by safe_document.
    """
    fetched_at = fetched_at or datetime.now(timezone.utc)
    parsed = feedparser.parse(io.BytesIO(safe_document(document)), response_headers=response_headers or {})
    items: List[NewsItem] = []
    errors: List[str] = []
    for n, entry in enumerate(parsed.entries):
        try:
            items.append(entry_to_item(entry, parsed.feed, feed_url, fetched_at))
        except Exception as exc:  # noqa: BLE001 - InvalidItem, or an odd entry: that entry only is skipped
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


def check_feed_url(url: str) -> str:
    """The URL itself when it is an absolute http(s) URL with a host; SourceError otherwise."""
    try:
        parts = urlsplit(url.strip())
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise SourceError(f"feed URL {url[:200]!r} is not an absolute http(s) URL")
    return url.strip()


def is_internal(host: str) -> bool:
    """True when a host name resolves to (or is) a loopback, private, link-local or otherwise non-public address."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False                    # cannot resolve: the request itself will fail
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not addr.is_global:
            return True
    return False


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to http(s), and from a public feed host never to an internal address."""

    def __init__(self, origin_internal: bool) -> None:
        super().__init__()
        self.origin_internal = origin_internal

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        try:
            host = urlsplit(check_feed_url(newurl)).hostname or ""
        except SourceError as exc:
            raise urllib.error.HTTPError(newurl, code, f"redirect refused: {exc}", headers, fp) from None
        if not self.origin_internal and is_internal(host):
            raise urllib.error.HTTPError(newurl, code, f"redirect to internal host {host} refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _read_capped(resp: Any, max_bytes: int, deadline: Optional[float]) -> bytes:
    chunks: List[bytes] = []
    size = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("poll deadline passed while reading the feed")
        chunk = resp.read1(_READ_CHUNK) if hasattr(resp, "read1") else resp.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise UnsafeFeed(f"feed is larger than {max_bytes} bytes")
        chunks.append(chunk)


def fetch(url: str, state: FeedState, timeout: float = FETCH_TIMEOUT, *, max_bytes: int = MAX_FEED_BYTES,
          deadline: Optional[float] = None) -> FetchResult:
    """GET a feed with If-None-Match / If-Modified-Since; 304 returns an empty body.

    Only http(s); redirects are re-checked (see _CheckedRedirects); the body is read up to max_bytes, and no
    longer than `deadline` (time.monotonic()) allows.
    """
    url = check_feed_url(url)
    if deadline is not None:
        timeout = max(0.1, min(timeout, deadline - time.monotonic()))
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                               "Accept": "application/rss+xml, application/atom+xml, "
                                                         "application/xml;q=0.9, */*;q=0.8"})
    if state.etag:
        req.add_header("If-None-Match", state.etag)
    if state.modified:
        req.add_header("If-Modified-Since", state.modified)
    opener = urllib.request.build_opener(_CheckedRedirects(is_internal(urlsplit(url).hostname or "")))
    try:
        with opener.open(req, timeout=timeout) as resp:  # noqa: S310 (http(s) only, checked above)
            headers = {k.lower(): v for k, v in resp.headers.items()}
            body = _read_capped(resp, max_bytes, deadline)
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


def _poll_feed(url: str, result: FetchResult, sink: RawSink, seen: SeenIds, stats: PollStats) -> None:
    if result.status == 304:
        log.debug("feed %s: not modified", url)
        return
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


def poll_once(feeds: Sequence[str], sink: RawSink, seen: SeenIds, states: Dict[str, FeedState],
              stats: PollStats, fetcher: Optional[Fetcher] = None, *, deadline_seconds: float = POLL_DEADLINE,
              clock: Callable[[], float] = time.monotonic) -> None:
    """Fetch every feed once and send the entries not seen before.

    A failing feed, whatever the failure, is logged, counted and skipped: the others are still polled. Feeds not
    reached within deadline_seconds are left for the next round (counted in fetch_errors).
    """
    deadline = clock() + deadline_seconds
    for n, url in enumerate(feeds):
        if clock() > deadline:
            stats.fetch_errors += len(feeds) - n
            log.warning("poll deadline (%.0fs) passed: %d feed(s) wait for the next round", deadline_seconds,
                        len(feeds) - n)
            return
        state = states.setdefault(url, FeedState())
        try:
            result = fetch(url, state, deadline=deadline) if fetcher is None else fetcher(url, state)
            _poll_feed(url, result, sink, seen, stats)
        except SourceError:
            raise                          # the sink cannot deliver: not this feed's fault
        except Exception as exc:  # noqa: BLE001 - one bad feed never stops the others (nor the next round)
            stats.fetch_errors += 1
            log.warning("feed %s: %s: %s", url, type(exc).__name__, str(exc)[:300])


def poll(feeds: Sequence[str], producer: RawSink, interval: float = 300.0, *, once: bool = False,
         fetcher: Optional[Fetcher] = None, sleep: Callable[[float], None] = time.sleep,
         max_rounds: Optional[int] = None, flush: Optional[Callable[[], None]] = None) -> PollStats:
    """Poll feeds every `interval` seconds (or once), producing unseen entries; returns the run's counts.

    Entries are deduplicated by item id within the run; across runs the enrich stage's dedup applies.
    """
    if not feeds:
        raise SourceError("no feed URLs given")
    for url in feeds:
        check_feed_url(url)
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
