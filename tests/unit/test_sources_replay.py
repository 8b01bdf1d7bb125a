"""Replay without a broker: line parsing, event-time ordering (invalid lines keep their slot), pacing schedule."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import List, Optional, Tuple

from streams.records import NewsItem
from streams.sources.replay import (InvalidLine, ValidLine, event_time_order, pacing_delays, parse_lines, replay,
                                    send_entries)


class RecordingSink:
    """Collects what a connector sends (stands in for RawProducer in pure tests)."""

    def __init__(self) -> None:
        self.sent: List[Tuple[str, object, Optional[bytes]]] = []

    def send_item(self, item: NewsItem) -> None:
        self.sent.append(("item", item, None))

    def send_raw(self, payload: bytes, key: Optional[bytes] = None) -> None:
        self.sent.append(("raw", payload, key))


def line(title: str, published_at: str, **extra: str) -> bytes:
    return json.dumps({"title": title, "text": f"{title} text.", "published_at": published_at, **extra}).encode()


LINES = [
    line("c", "2023-11-08T12:00:00Z"),
    b"not json at all",
    line("a", "2023-11-08T10:00:00Z"),
    b"",                                                       # blank: skipped, not counted
    json.dumps({"title": "no date", "text": "x"}).encode(),
    line("b", "2023-11-08T11:00:00+00:00"),
    line("a2", "2023-11-08T10:00:00Z"),                        # tie with "a": input order kept
]


def test_parse_lines_classifies_and_numbers_input_lines() -> None:
    entries = parse_lines(x + b"\n" for x in LINES)
    assert [type(e).__name__ for e in entries] == ["ValidLine", "InvalidLine", "ValidLine", "InvalidLine",
                                                   "ValidLine", "ValidLine"]
    assert [e.lineno for e in entries] == [1, 2, 3, 5, 6, 7]
    bad = [e for e in entries if isinstance(e, InvalidLine)]
    assert bad[0].raw == b"not json at all" and bad[0].reason.startswith("invalid_json")
    assert bad[1].reason == "missing_field: published_at"


def test_event_time_order_sorts_valid_items_and_keeps_invalid_slots() -> None:
    ordered = event_time_order(parse_lines(LINES))
    shape = [e.item.title if isinstance(e, ValidLine) else f"bad@{e.lineno}" for e in ordered]
    assert shape == ["a", "bad@2", "a2", "bad@5", "b", "c"]


def test_pacing_delays_scale_gaps_cap_and_zero_speedup() -> None:
    ordered = event_time_order(parse_lines(LINES))
    # gaps: a→a2 0 s, a2→b 3600 s, b→c 3600 s; invalid entries never wait
    assert pacing_delays(ordered, speedup=3600.0, max_sleep=10.0) == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    assert pacing_delays(ordered, speedup=60.0, max_sleep=10.0) == [0.0, 0.0, 0.0, 0.0, 10.0, 10.0]
    assert pacing_delays(ordered, speedup=0.0) == [0.0] * 6


def test_pacing_ignores_negative_gaps() -> None:
    entries = parse_lines([line("late", "2023-11-08T12:00:00Z"), line("early", "2023-11-08T11:00:00Z")])
    assert pacing_delays(entries, speedup=1.0) == [0.0, 0.0]


def test_send_entries_sends_valid_items_and_invalid_bytes_unchanged() -> None:
    sink = RecordingSink()
    slept: List[float] = []
    ordered = event_time_order(parse_lines(LINES))
    stats = send_entries(ordered, sink, pacing_delays(ordered, 7200.0), sleep=slept.append)
    assert (stats.sent, stats.invalid) == (4, 2)
    assert slept == [0.5, 0.5]
    kinds = [k for k, _v, _key in sink.sent]
    assert kinds == ["item", "raw", "item", "raw", "item", "item"]
    assert sink.sent[1][1] == b"not json at all"
    first = sink.sent[0][1]
    assert isinstance(first, NewsItem) and first.title == "a" and first.id   # id derived when absent
    assert first.published_at == "2023-11-08T10:00:00Z"


def test_replay_reads_plain_and_gzip_files(tmp_path: Path) -> None:
    body = b"\n".join(LINES) + b"\n"
    plain = tmp_path / "s.jsonl"
    plain.write_bytes(body)
    packed = tmp_path / "s.jsonl.gz"
    packed.write_bytes(gzip.compress(body))
    for path in (plain, packed):
        sink = RecordingSink()
        stats = replay(path, sink, speedup=0, progress=False)
        assert (stats.sent, stats.invalid) == (4, 2)
        assert [v.title for k, v, _ in sink.sent if k == "item"] == ["a", "a2", "b", "c"]  # type: ignore[union-attr]


def test_replay_survives_lines_that_used_to_crash_it(tmp_path: Path) -> None:
    """`surgewatch ingest` on epoch milliseconds, 1e20, `[` x 100,000 and a 10 MB line: each is an invalid line."""
    crashers = [b'{"title": "t", "text": "x", "published_at": 1700000000000}',
                b'{"title": "t", "text": "x", "published_at": 1e20}', b"[" * 100_000,
                line("huge", "2023-11-08T10:00:00Z", extra="x" * (10 * 1024 * 1024)), b"\xff\xfe{}"]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join([line("ok", "2023-11-08T10:00:00Z"), *crashers]) + b"\n")
    sink = RecordingSink()
    stats = replay(path, sink, speedup=0, progress=False)
    assert (stats.sent, stats.invalid) == (1, 5)
    reasons = [e.reason.split(":")[0] for e in parse_lines(path.read_bytes().splitlines()) if isinstance(e, InvalidLine)]
    assert reasons == ["bad_published_at", "bad_published_at", "too_deep", "too_large", "not_utf8"]
