"""Property-based fuzzing (hypothesis, pure): whatever the bytes or JSON, parse_news_item either returns a clean
NewsItem or raises InvalidItem with a declared reason; parse_time, canonical_url and derive_id never crash."""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.enrich.pipeline import parse_news_item
from streams.records import InvalidItem, NewsItem, canonical_url, derive_id, parse_time
from streams.validate import EARLIEST_PUBLISHED, MAX_FUTURE, REASONS

# derandomized: the same examples on every run (a fuzz failure is reproducible, never flaky)
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
                | st.text())
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
field_values = (json_values | st.text(alphabet=st.characters(), max_size=60)
                | st.sampled_from(["2023-11-08T09:00:00Z", "2023-11-08", "1700000000", "", " ", "\x1b[31m",
                                   "https://example.org/a", "http://[::1", "javascript:x", "<script>x</script>"])
                | st.integers(min_value=-10**20, max_value=10**20) | st.just(1700000000000) | st.just(1e20))
item_dicts = st.fixed_dictionaries(
    {"title": field_values, "text": field_values, "published_at": field_values},
    optional={"id": field_values, "url": field_values, "source": field_values, "language": field_values,
              "__faust": json_values, "extra": json_values})


def check(raw: Any) -> None:
    """The property: a clean NewsItem, or InvalidItem with a declared reason (never the catch-all)."""
    try:
        got = parse_news_item(raw)
    except InvalidItem as exc:
        assert exc.reason in REASONS, f"{exc.reason}: {exc}"
        return
    assert isinstance(got, NewsItem) and got.id
    for value in (got.title, got.text, got.id, got.url or "", got.source or "", got.language or ""):
        assert not CONTROL.search(value.replace("\n", "").replace("\t", ""))
    when = parse_time(got.published_at)
    assert EARLIEST_PUBLISHED <= when <= datetime.now(timezone.utc) + MAX_FUTURE
    assert NewsItem.loads(got.dumps()).id == got.id           # it serialises and round-trips


@FUZZ
@given(st.binary(max_size=512))
def test_any_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(json_values)
def test_any_json_value(value: Any) -> None:
    check(json.dumps(value).encode("utf-8", "surrogatepass"))


@FUZZ
@given(item_dicts)
def test_any_item_shaped_object(payload: dict) -> None:
    check(json.dumps(payload).encode("utf-8", "surrogatepass"))
    check(payload)                                             # the already decoded form too


@FUZZ
@given(st.text(max_size=200), st.text(max_size=200), st.text(max_size=80))
def test_any_text_in_a_valid_item(title: str, text: str, source: str) -> None:
    check(json.dumps({"title": title, "text": text, "source": source, "published_at": "2023-11-08T09:00:00Z"}))


@FUZZ
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=3))
def test_bytes_spliced_into_a_valid_item(junk: bytes, where: int) -> None:
    good = b'{"title": "Aid", "text": "Body", "published_at": "2023-11-08T09:00:00Z"}'
    cut = [1, 10, 30, len(good) - 1][where]
    check(good[:cut] + junk + good[cut:])


@FUZZ
@given(json_scalars | st.datetimes() | st.text(alphabet="0123456789-+:TZ. ", max_size=40))
def test_parse_time_raises_only_invalid_item(value: Any) -> None:
    try:
        got = parse_time(value)
    except InvalidItem as exc:
        assert exc.reason == "bad_published_at"
    else:
        assert got.tzinfo is not None and not (isinstance(value, float) and math.isnan(value))


@FUZZ
@given(st.text(max_size=120), st.text(max_size=40), st.text(max_size=40))
def test_canonical_url_and_derive_id_never_crash(url: str, title: str, text: str) -> None:
    assert isinstance(canonical_url(url), str)
    assert len(derive_id(url or None, title, text)) == 20
