"""Fault-test input: consumes the bundled stream, produces a deterministic NDJSON stream of 10,000+ lines -- the
bundled items, shifted copies of them with fresh ids/URLs (some grown to real article length from same-language items
of the same day) and a few invalid lines -- in event-time order, the way a replay sends it."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Tuple

COPIES = 4                  # shifted copies of the bundled items besides the originals
SHIFT_DAYS = 45             # each copy starts after the previous one ends (the bundle spans about a month)
LONG_COPIES = {2}           # copies whose texts grow to real article length
LONG_CHARS = (1800, 3500)   # target text length of a real-length article, in characters
INVALID = [                 # per copy k: each must be dead-lettered, with this reason
    ("this line is not json, copy {k}", "invalid_json"),
    ('["a", "json", "array", {k}]', "not_an_object"),
    ("170000000000{k}", "not_an_object"),
    ('{{"title": "no date {k}", "text": "published_at is missing"}}', "missing_field"),
    ('{{"title": "epoch ms {k}", "text": "x", "published_at": 170000000000{k}}}', "bad_published_at"),
    ('{{"title": "", "text": "  ", "source": "copy {k}", "published_at": "2023-11-02T10:00:00Z"}}', "empty_item"),
]


def invalid_lines(k: int) -> list[tuple[bytes, str]]:
    """Copy k's invalid lines (each distinct, so that its dead letter can be told apart) and their reasons."""
    return [(template.format(k=k).encode(), reason) for template, reason in INVALID]


def _parse(line: bytes) -> Dict[str, Any] | None:
    try:
        d = json.loads(line)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _grow(item: Dict[str, Any], pool: List[str], rng: random.Random) -> str:
    """The item's text followed by paragraphs from same-language items of its day, up to a real article's length."""
    target = rng.randint(*LONG_CHARS)
    parts = [item["text"]]
    size = len(item["text"])
    for text in rng.sample(pool, len(pool)):
        if size >= target:
            break
        if text != item["text"]:
            parts.append(text)
            size += len(text) + 2
    return "\n\n".join(parts)


def _valid_originals(lines: List[bytes]) -> List[Dict[str, Any]]:
    from processors.enrich.pipeline import parse_news_item
    from streams.records import InvalidItem
    out = []
    for line in lines:
        d = _parse(line)
        if d is None:
            continue
        try:
            parse_news_item(line)
        except InvalidItem:
            continue
        out.append(d)
    return out


def _copy(originals: List[Dict[str, Any]], k: int) -> List[Tuple[datetime, bytes]]:
    rng = random.Random(1000 + k)
    pools: Dict[Tuple[str, str], List[str]] = {}
    for d in originals:
        pools.setdefault((d.get("language") or "", d["published_at"][:10]), []).append(d["text"])
    out = []
    for d in originals:
        when = _when(d["published_at"]) + timedelta(days=SHIFT_DAYS * k)
        new = dict(d, id=f"{d['id']}c{k}", published_at=_iso(when))
        if d.get("url"):
            new["url"] = f"{d['url'].rstrip('/')}-c{k}"
        if k in LONG_COPIES:
            new["text"] = _grow(d, pools[(d.get("language") or "", d["published_at"][:10])], rng)
        out.append((when, json.dumps(new, ensure_ascii=False).encode("utf-8")))
    return out


def fault_stream(bundled: Path) -> List[bytes]:
    """The lines to produce, in event-time order (invalid lines at fixed places among them)."""
    lines = [line for line in bundled.read_bytes().splitlines() if line.strip()]
    originals = _valid_originals(lines)
    timed: List[Tuple[datetime, bytes]] = []
    first = min(_when(d["published_at"]) for d in originals)
    for line in lines:   # the bundle itself, its own invalid lines included (they sort to its start)
        d = _parse(line)
        try:
            when = _when(d["published_at"]) if d and isinstance(d.get("published_at"), str) else first
        except ValueError:
            when = first
        timed.append((when, line))
    for k in range(1, COPIES + 1):
        copy = _copy(originals, k)
        timed.extend(copy)
        step = max(1, len(copy) // (len(INVALID) + 1))
        for i, (bad, _) in enumerate(invalid_lines(k)):
            timed.append((copy[(i + 1) * step][0], bad))
    timed.sort(key=lambda p: p[0])   # stable: equal times keep their order
    return [line for _, line in timed]


def write_fault_stream(bundled: Path, out: Path) -> int:
    """Write the stream as NDJSON; returns the number of lines."""
    lines = fault_stream(bundled)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)
