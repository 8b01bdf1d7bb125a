"""NDJSON replay: consumes a file of NewsItem lines, produces them to news.raw in event-time order (invalid lines raw)."""
from __future__ import annotations

import gzip
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Union

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.records import InvalidItem, NewsItem, parse_time
from streams.sources.producer import RawSink
from streams.validate import parse_raw

log = logging.getLogger(__name__)

DEFAULT_MAX_SLEEP = 5.0  # seconds: a long quiet gap in the archive never stalls a replay longer than this


@dataclass(frozen=True)
class InvalidLine:
    """An input line that does not parse or validate; it is sent unchanged so enrich dead-letters it."""

    lineno: int
    raw: bytes
    reason: str


@dataclass(frozen=True)
class ValidLine:
    lineno: int
    item: NewsItem
    published: datetime


Entry = Union[ValidLine, InvalidLine]


@dataclass(frozen=True)
class ReplayStats:
    sent: int
    invalid: int


def parse_line(lineno: int, raw: bytes) -> Entry:
    """Decode and validate one NDJSON line; never raises (any failure is the line's reason)."""
    try:
        item = parse_raw(raw)
        return ValidLine(lineno, item, parse_time(item.published_at))
    except InvalidItem as exc:
        return InvalidLine(lineno, raw, str(exc))
    except Exception as exc:  # noqa: BLE001 - one line never stops a replay
        return InvalidLine(lineno, raw, f"unexpected_error: {type(exc).__name__}: {exc}")


def parse_lines(lines: Iterable[bytes]) -> List[Entry]:
    """Parse every non-blank line (line numbers are 1-based input positions)."""
    out: List[Entry] = []
    for lineno, line in enumerate(lines, start=1):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            out.append(parse_line(lineno, raw))
    return out


def event_time_order(entries: Sequence[Entry]) -> List[Entry]:
    """Valid items sorted by published_at (stable); invalid entries keep their input position.

    The slots held by invalid lines stay where they were; the valid items fill the remaining slots in
    event-time order, so a replay is reproducible and a bad line is reported near where it was.
    """
    valid = sorted((e for e in entries if isinstance(e, ValidLine)), key=lambda e: e.published)
    it = iter(valid)
    return [e if isinstance(e, InvalidLine) else next(it) for e in entries]


def pacing_delays(entries: Sequence[Entry], speedup: float, max_sleep: float = DEFAULT_MAX_SLEEP) -> List[float]:
    """Seconds to wait before sending each entry: event-time gap / speedup, capped at max_sleep.

    speedup 0 (or less) means as fast as possible (all zeros). Invalid entries and the first item wait 0;
    out-of-order items (negative gaps) wait 0.
    """
    delays: List[float] = []
    previous: Optional[datetime] = None
    for e in entries:
        if speedup <= 0 or not isinstance(e, ValidLine):
            delays.append(0.0)
            continue
        if previous is None:
            delays.append(0.0)
        else:
            gap = (e.published - previous).total_seconds() / speedup
            delays.append(min(max(gap, 0.0), max_sleep))
        previous = e.published
    return delays


def read_lines(path: Path) -> List[bytes]:
    """Lines of an NDJSON file (.gz is decompressed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        return list(fh)


def send_entries(entries: Sequence[Entry], sink: RawSink, delays: Optional[Sequence[float]] = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 on_sent: Optional[Callable[[Entry], None]] = None) -> ReplayStats:
    """Send entries in the given order (valid via send_item, invalid raw), waiting delays[i] before each."""
    sent = invalid = 0
    for i, e in enumerate(entries):
        if delays is not None and delays[i] > 0:
            sleep(delays[i])
        if isinstance(e, ValidLine):
            sink.send_item(e.item)
            sent += 1
        else:
            log.warning("line %d is invalid (%s): sent raw for dead-lettering", e.lineno, e.reason)
            sink.send_raw(e.raw)
            invalid += 1
        if on_sent is not None:
            on_sent(e)
    return ReplayStats(sent=sent, invalid=invalid)


def replay(path: Union[str, Path], producer: RawSink, speedup: float = 0.0, *,
           max_sleep: float = DEFAULT_MAX_SLEEP, progress: bool = True) -> ReplayStats:
    """Replay an NDJSON archive into the raw topic in event-time order; return how many were sent / invalid.

    `sent` counts valid items, `invalid` counts lines sent raw (they reach news.deadletter via enrich).
    The caller flushes/closes the producer.
    """
    entries = event_time_order(parse_lines(read_lines(Path(path))))
    delays = pacing_delays(entries, speedup, max_sleep)
    if not progress:
        return send_entries(entries, producer, delays)
    columns = (TextColumn("[bold]replay[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(Path(path).name, total=len(entries))
        return send_entries(entries, producer, delays, on_sent=lambda _e: bar.advance(task))
