"""Input validation: consumes raw NewsItem payloads (bytes, text or decoded JSON), produces a cleaned, validated
NewsItem or raises InvalidItem with the dead-letter reason -- never any other exception."""
from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Optional, TypeVar
from urllib.parse import urlsplit

from streams.records import InvalidItem, NewsItem, iso, parse_time

# Limits of one NewsItem (the record contract; a real article is far below each of them)
MAX_MESSAGE_BYTES = 1_000_000      # a whole message; under Kafka's default max.message.bytes (1 MiB)
MAX_DEPTH = 16                     # nesting of the JSON value (a NewsItem is flat: depth 1)
MAX_TITLE_CHARS = 2_000
MAX_TEXT_CHARS = 100_000
MAX_URL_CHARS = 4_096
MAX_ID_CHARS = 256                 # Elasticsearch allows 512 bytes of _id
MAX_SOURCE_CHARS = 512
MAX_LANGUAGE_CHARS = 35            # longest practical BCP 47 tag
# published_at must fall in [EARLIEST_PUBLISHED, now + MAX_FUTURE]: a far-future date would move the spike
# detector's event time ahead of every other item (their counts would then arrive "late"); a day covers clock skew
# and a local time mislabelled as UTC (at most 14 hours).
EARLIEST_PUBLISHED = datetime(1900, 1, 1, tzinfo=timezone.utc)
MAX_FUTURE = timedelta(days=1)

REQUIRED = ("title", "text", "published_at")
OPTIONAL = ("id", "url", "source", "language")
LIMITS: Dict[str, int] = {"title": MAX_TITLE_CHARS, "text": MAX_TEXT_CHARS, "url": MAX_URL_CHARS,
                          "id": MAX_ID_CHARS, "source": MAX_SOURCE_CHARS, "language": MAX_LANGUAGE_CHARS}

# every reason this module gives (the fall-back `unexpected_error` means a bug here: tests require it never shows)
REASONS = ("too_large", "not_utf8", "nul_byte", "invalid_json", "too_deep", "not_an_object", "missing_field",
           "bad_type", "empty_item", "bad_published_at", "bad_url", "bad_id")

# terminal escape sequences (CSI incl. SGR colours, OSC incl. OSC 8 hyperlinks and title changes, two-byte ESC x),
# then any remaining C0 / DEL / C1 control character
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

T = TypeVar("T")


def never_raises_else(func: Callable[..., T]) -> Callable[..., T]:
    """Let InvalidItem through and turn any other exception into InvalidItem('unexpected_error')."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except InvalidItem:
            raise
        except Exception as exc:  # noqa: BLE001 - the contract: one reason for any input, never a crash
            raise InvalidItem("unexpected_error", f"{type(exc).__name__}: {str(exc)[:200]}") from None

    return wrapper


def strip_controls(value: str, single_line: bool = False) -> str:
    """Drop terminal escape sequences and control characters; keep tab/newline in text, spaces in one-line fields."""
    value = _ESCAPES.sub("", value)
    if single_line:
        value = _LINE_BREAKS.sub(" ", value)
    else:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value)


def json_depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when a decoded JSON value nests deeper than `limit` (iterative: no recursion limit to hit)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def decode_json(raw: bytes | bytearray | str) -> Any:
    """One message as a JSON value; InvalidItem(too_large | not_utf8 | nul_byte | invalid_json | too_deep)."""
    size = len(raw) if isinstance(raw, (bytes, bytearray)) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise InvalidItem("too_large", f"message has {size} bytes (max {MAX_MESSAGE_BYTES})")
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidItem("not_utf8", str(exc)) from None
    else:
        text = raw
    if "\x00" in text:
        raise InvalidItem("nul_byte", f"NUL byte at offset {text.index(chr(0))}")
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidItem("too_deep", f"JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # json.JSONDecodeError
        raise InvalidItem("invalid_json", str(exc)[:200]) from None
    if json_depth_exceeds(value):
        raise InvalidItem("too_deep", f"JSON nests deeper than {MAX_DEPTH} levels")
    return value


def _field(payload: Dict[str, Any], name: str) -> Optional[str]:
    """A string field, cleaned (None when absent or null); InvalidItem for a wrong type, bad Unicode or length."""
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidItem("bad_type", f"{name} must be a string, got {type(value).__name__}")
    if _SURROGATE.search(value):
        raise InvalidItem("not_utf8", f"{name} holds a lone surrogate (not encodable as UTF-8)")
    limit = LIMITS[name]
    if len(value) > limit * 2:  # before cleaning: never run the cleaner over megabytes
        raise InvalidItem("too_large", f"{name} has {len(value)} characters (max {limit})")
    cleaned = strip_controls(value, single_line=name != "text")
    if len(cleaned) > limit:
        raise InvalidItem("too_large", f"{name} has {len(cleaned)} characters (max {limit})")
    return cleaned


def check_published(value: Any, now: Optional[datetime] = None) -> str:
    """published_at as ISO 8601 UTC within [EARLIEST_PUBLISHED, now + MAX_FUTURE]; InvalidItem otherwise."""
    if isinstance(value, str):
        value = strip_controls(value, single_line=True)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidItem("bad_published_at", f"must be an ISO 8601 string or epoch seconds, got "
                          f"{type(value).__name__}")
    when = parse_time(value)
    latest = (now or datetime.now(timezone.utc)) + MAX_FUTURE
    if when < EARLIEST_PUBLISHED:
        raise InvalidItem("bad_published_at", f"{iso(when)} is before {iso(EARLIEST_PUBLISHED)}")
    if when > latest:
        raise InvalidItem("bad_published_at", f"{iso(when)} is more than {MAX_FUTURE.days} day(s) in the future")
    return iso(when)


def _check_url(url: Optional[str]) -> Optional[str]:
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and " " not in url
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:  # e.g. an unbalanced IPv6 bracket, a bad port
        ok = False
    if not ok:
        raise InvalidItem("bad_url", f"url must be an absolute http(s) URL, got {url[:80]!r}")
    return url


@never_raises_else
def news_item(payload: Any, now: Optional[datetime] = None) -> NewsItem:
    """A decoded JSON payload as a cleaned NewsItem; InvalidItem with a reason for anything else."""
    if not isinstance(payload, dict):
        raise InvalidItem("not_an_object", f"expected a JSON object, got {type(payload).__name__}")
    missing = [f for f in REQUIRED if payload.get(f) is None]
    if missing:
        raise InvalidItem("missing_field", ", ".join(missing))
    fields = {name: _field(payload, name) for name in ("title", "text", *OPTIONAL)}
    title, text = fields["title"] or "", fields["text"] or ""
    if not title.strip() and not text.strip():
        raise InvalidItem("empty_item", "title and text are both empty")
    published = check_published(payload["published_at"], now)
    item_id = (fields["id"] or "").strip()
    if item_id and item_id != item_id.replace(" ", ""):
        raise InvalidItem("bad_id", "id must not contain spaces")
    clean: Dict[str, Any] = {"title": title, "text": text, "published_at": published, "id": item_id or None,
                             "url": _check_url(fields["url"]), "source": fields["source"],
                             "language": fields["language"]}
    return NewsItem.from_payload(clean)


@never_raises_else
def from_decoded(payload: Any, now: Optional[datetime] = None) -> NewsItem:
    """An already decoded JSON value (e.g. one element of a JSON array) as a NewsItem; InvalidItem on bad input."""
    if json_depth_exceeds(payload):
        raise InvalidItem("too_deep", f"JSON nests deeper than {MAX_DEPTH} levels")
    if isinstance(payload, dict) and "__faust" in payload:
        payload = {k: v for k, v in payload.items() if k != "__faust"}
    item = news_item(payload, now)
    if (len(item.title) + len(item.text)) * 12 > MAX_MESSAGE_BYTES and len(item.dumps()) > MAX_MESSAGE_BYTES:
        raise InvalidItem("too_large", f"the item encodes to more than {MAX_MESSAGE_BYTES} bytes")
    return item


@never_raises_else
def parse_raw(raw: bytes | bytearray | str | Dict[str, Any], now: Optional[datetime] = None) -> NewsItem:
    """One raw message (bytes, text, or an already decoded object) as a NewsItem; InvalidItem on bad input."""
    return from_decoded(raw if isinstance(raw, dict) else decode_json(raw), now)


DEAD_LETTER_MAX_PAYLOAD = 768 * 1024   # escaped JSON characters a dead letter may carry (Kafka's limit is 1 MiB)
DEAD_LETTER_HEAD_BYTES = 128 * 1024    # what is kept of a payload over it (at most 6 escaped characters a byte)


def dead_letter_payload(raw: Any) -> tuple[Any, str]:
    """The payload a dead letter can carry, and a note when it had to be cut to fit a Kafka message."""
    if not isinstance(raw, (bytes, bytearray, str)):
        return raw, ""
    size = len(raw)
    if size * 6 <= DEAD_LETTER_MAX_PAYLOAD:
        return raw, ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    if size <= DEAD_LETTER_MAX_PAYLOAD and len(json.dumps(text)) <= DEAD_LETTER_MAX_PAYLOAD:
        return raw, ""
    return raw[:DEAD_LETTER_HEAD_BYTES], f"[payload cut to its first {DEAD_LETTER_HEAD_BYTES} of {size} bytes] "
