"""RSS hardening with local data only (documents written here, an http.server on 127.0.0.1): entity declarations
refused, bodies never opened as paths, reads capped, fields capped, per-feed isolation, http(s) only, checked
redirects, a deadline per poll."""
from __future__ import annotations

import http.server
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from streams.records import NewsItem
from streams.sources.rss import (FeedState, FetchResult, PollStats, SeenIds, UnsafeFeed, _CheckedRedirects, fetch,
                                 is_internal, parse_feed, poll, poll_once, safe_document)
from streams.validate import MAX_TEXT_CHARS, MAX_TITLE_CHARS

FEED = """<?xml version="1.0" encoding="UTF-8"?>{doctype}
<rss version="2.0"><channel><title>Local Post</title><link>https://local-post.example/</link>
<item><title>{title}</title><link>https://local-post.example/{slug}</link>
<pubDate>Wed, 08 Nov 2023 09:15:00 +0300</pubDate><description>{text}</description></item>
</channel></rss>
"""


def feed(title: str = "Aid convoy", text: str = "Trucks left.", slug: str = "a", doctype: str = "") -> bytes:
    return FEED.format(title=title, text=text, slug=slug, doctype=doctype).encode("utf-8")


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<rss version="2.0"><channel><title>x</title><item><title>&c;&c;&c;&c;</title><link>https://x.example/1</link>
<description>&c;&c;&c;&c;&c;&c;&c;&c;</description></item></channel></rss>
"""


class Sink:
    def __init__(self) -> None:
        self.items: List[NewsItem] = []

    def send_item(self, item: NewsItem) -> None:
        self.items.append(item)

    def send_raw(self, payload: bytes, key: Optional[bytes] = None) -> None:
        raise AssertionError("RSS sends validated items only")


@pytest.mark.parametrize("doc", [LAUGHS, LAUGHS.replace(b"rss [", b"rss SYSTEM 'x.dtd' ["),
                                 b'<?xml version="1.0"?><!ENTITY x SYSTEM "file:///etc/passwd"><rss/>',
                                 b"<!doctype rss[<!entity a 'b'>]><rss/>"])
def test_entity_declarations_are_refused(doc: bytes) -> None:
    with pytest.raises(UnsafeFeed, match="entity"):
        parse_feed(doc, "https://x.example/rss")


def test_plain_external_doctype_is_dropped_and_the_feed_parses() -> None:
    netscape = '\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" ' \
               '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
    assert b"DOCTYPE" not in safe_document(feed(doctype=netscape))
    assert [i.title for i in parse_feed(feed(doctype=netscape), "https://local-post.example/rss").items] == [
        "Aid convoy"]


def test_wide_encodings_and_oversized_documents_are_refused() -> None:
    with pytest.raises(UnsafeFeed, match="UTF-16"):
        parse_feed(feed().decode().encode("utf-16"), "u")
    with pytest.raises(UnsafeFeed, match="bytes"):
        parse_feed(feed(text="x" * (6 * 1024 * 1024)), "u")


def test_a_body_that_looks_like_a_path_or_url_is_not_opened(tmp_path: Path) -> None:
    local = tmp_path / "feed.xml"
    local.write_bytes(feed(title="Read from disk"))
    for body in (str(local).encode(), str(local), local.as_uri().encode()):
        parsed = parse_feed(body, "https://x.example/rss")
        assert parsed.items == []                    # had feedparser opened it, the entry would be here


def test_long_fields_are_capped() -> None:
    parsed = parse_feed(feed(title="T " * 600_000, text="word " * 200_000), "https://local-post.example/rss")
    (item,) = parsed.items
    assert 0 < len(item.title) <= MAX_TITLE_CHARS and 0 < len(item.text) <= MAX_TEXT_CHARS


def test_escape_sequences_in_entries_are_stripped() -> None:
    (item,) = parse_feed(feed(title="Aid&#27;[31m convoy", text="Red&#27;]8;;https://evil.example&#7;link"),
                         "https://local-post.example/rss").items
    assert item.title == "Aid convoy" and item.text == "Redlink"


def test_one_bad_feed_does_not_stop_the_others() -> None:
    def fetcher(url: str, state: FeedState) -> FetchResult:
        if "laughs" in url:
            return FetchResult(200, LAUGHS, {})
        if "boom" in url:
            raise MemoryError("feed parser ran out of memory")
        if "odd" in url:
            raise RuntimeError("anything at all")
        return FetchResult(200, feed(slug=url.rsplit("/", 1)[-1]), {})

    feeds = ["https://x.example/laughs", "https://x.example/boom", "https://x.example/ok1", "https://x.example/odd",
             "https://x.example/ok2"]
    sink = Sink()
    stats = poll(feeds, sink, interval=1, fetcher=fetcher, sleep=lambda _s: None, max_rounds=2)
    assert stats.fetch_errors == 6 and stats.rounds == 2      # three bad feeds, in both rounds
    assert sorted(i.url or "" for i in sink.items) == ["https://local-post.example/ok1",
                                                       "https://local-post.example/ok2"]


def test_poll_deadline_leaves_the_rest_for_the_next_round() -> None:
    now = [0.0]

    def fetcher(url: str, state: FeedState) -> FetchResult:
        now[0] += 50.0                                        # each feed takes 50 s on this clock
        return FetchResult(200, feed(slug=url.rsplit("/", 1)[-1]), {})

    stats = PollStats()
    poll_once([f"https://x.example/{n}" for n in range(5)], Sink(), SeenIds(), {}, stats, fetcher,
              deadline_seconds=120, clock=lambda: now[0])
    assert stats.sent == 3 and stats.fetch_errors == 2


# --- a local HTTP server on 127.0.0.1 -------------------------------------------------------------------------------

Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture
def server() -> Iterator[Any]:
    routes: Dict[str, Route] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            routes[self.path](self)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.routes = routes  # type: ignore[attr-defined]
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def body(data: bytes, status: int = 200) -> Route:
    def send(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return send


def redirect(to: str) -> Route:
    def send(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return send


def test_fetch_reads_a_local_feed_and_caps_the_read(server: Any) -> None:
    server.routes["/rss"] = body(feed())
    server.routes["/big"] = body(b"<rss>" + b" " * (300 * 1024) + b"</rss>")
    got = fetch(server.base + "/rss", FeedState())
    assert got.status == 200 and [i.title for i in parse_feed(got.body, "u").items] == ["Aid convoy"]
    with pytest.raises(UnsafeFeed, match="larger than"):
        fetch(server.base + "/big", FeedState(), max_bytes=256 * 1024)


def test_redirects_only_to_http_and_never_from_public_to_internal(server: Any) -> None:
    server.routes["/rss"] = body(feed())
    server.routes["/to-file"] = redirect("file:///etc/passwd")
    server.routes["/to-local"] = redirect(server.base + "/rss")
    with pytest.raises(urllib.error.HTTPError):
        fetch(server.base + "/to-file", FeedState())
    assert fetch(server.base + "/to-local", FeedState()).status == 200     # internal origin: may stay internal
    public_origin = urllib.request.build_opener(_CheckedRedirects(origin_internal=False))
    with pytest.raises(urllib.error.HTTPError, match="internal host 127.0.0.1 refused"):
        public_origin.open(server.base + "/to-local", timeout=5)
    assert is_internal("127.0.0.1") and is_internal("10.1.2.3") and is_internal("169.254.169.254")
    assert is_internal("::1") and not is_internal("8.8.8.8")


def test_a_slow_feed_stops_at_the_poll_deadline(server: Any) -> None:
    def drip(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        try:
            for _ in range(100):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    server.routes["/slow"] = drip
    with pytest.raises(TimeoutError, match="deadline"):
        fetch(server.base + "/slow", FeedState(), deadline=time.monotonic() + 1.0)
