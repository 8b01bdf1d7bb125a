"""Bad input (pure, no broker): every case of the bad-input table gets its dead-letter reason from parse_news_item,
and the enrich agent dead-letters each, counts it and keeps going (Faust test_context, in-memory channels).

`python tests/unit/test_bad_input.py` prints the table (case -> reason) as Markdown."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, List, Tuple

import pytest

from processors.enrich.pipeline import parse_news_item
from streams.records import InvalidItem
from streams.validate import REASONS, dead_letter_payload

GOOD = {"title": "Aid convoy leaves Grozny", "text": "Volunteers collected aid.", "published_at": "2023-11-08T09:00:00Z"}


def item(**changes: Any) -> bytes:
    payload = {**GOOD, **changes}
    return json.dumps({k: v for k, v in payload.items() if v is not ...}).encode("utf-8")


def without(field: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != field}).encode("utf-8")


def nested(depth: int) -> bytes:
    return item(extra=json.loads("[" * depth + "]" * depth))


IN_TWO_DAYS = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()

# (case, raw message, reason)
CASES: List[Tuple[str, bytes, str]] = [
    ("not JSON", b"breaking: not json", "invalid_json"),
    ("truncated JSON object", b'{"title": "Aid convoy", "text": ', "invalid_json"),
    ("empty message", b"", "invalid_json"),
    ("JSON array", b"[" + item() + b"]", "not_an_object"),
    ("JSON number", b"42", "not_an_object"),
    ("JSON string", b'"Aid convoy leaves Grozny"', "not_an_object"),
    ("JSON null", b"null", "not_an_object"),
    ("missing title", without("title"), "missing_field"),
    ("missing text", without("text"), "missing_field"),
    ("missing published_at", without("published_at"), "missing_field"),
    ("null published_at", item(published_at=None), "missing_field"),
    ("blank title and text", item(title="  ", text="\n"), "empty_item"),
    ("title is a number", item(title=5), "bad_type"),
    ("text is an object", item(text={"body": "x"}), "bad_type"),
    ("url is a list", item(url=["https://example.org/a"]), "bad_type"),
    ("id is a number", item(id=17), "bad_type"),
    ("published_at blank", item(published_at=" "), "bad_published_at"),
    ("published_at is true", item(published_at=True), "bad_published_at"),
    ("published_at is a list", item(published_at=[2023, 11, 8]), "bad_published_at"),
    ("published_at unparseable", item(published_at="yesterday"), "bad_published_at"),
    ("published_at 2023-13-45", item(published_at="2023-13-45T25:61:00Z"), "bad_published_at"),
    ("published_at epoch milliseconds 1700000000000", item(published_at=1700000000000), "bad_published_at"),
    ("published_at 1e20", b'{"title": "t", "text": "x", "published_at": 1e20}', "bad_published_at"),
    ("published_at NaN", b'{"title": "t", "text": "x", "published_at": NaN}', "bad_published_at"),
    ("published_at Infinity", b'{"title": "t", "text": "x", "published_at": -Infinity}', "bad_published_at"),
    ("published_at 9999-12-31T23:59:59-01:00 (overflows UTC)", item(published_at="9999-12-31T23:59:59-01:00"),
     "bad_published_at"),
    ("published_at far future (2999)", item(published_at="2999-01-01T00:00:00Z"), "bad_published_at"),
    ("published_at two days ahead", item(published_at=IN_TWO_DAYS), "bad_published_at"),
    ("published_at ancient (1066)", item(published_at="1066-10-14T09:00:00Z"), "bad_published_at"),
    ("published_at negative epoch (1900 and before)", item(published_at=-2208988801), "bad_published_at"),
    ("invalid UTF-8", b"\xff\xfe" + item(), "not_utf8"),
    ("invalid UTF-8 inside a string", item(title="x").replace(b'"x"', b'"\xc3\x28"'), "not_utf8"),
    ("lone surrogate escape in title", item(title="\ud800"), "not_utf8"),
    ("NUL byte in the message", item(title="a\x00b").replace(b"\\u0000", b"\x00"), "nul_byte"),
    ("NUL byte after the object", item() + b"\x00", "nul_byte"),
    ("10 MB message", item(text="x" * (10 * 1024 * 1024)), "too_large"),
    ("1 MB title", item(title="T" * (1024 * 1024)), "too_large"),
    ("200,000-character text", item(text="word " * 40_000), "too_large"),
    ("301-character id", item(id="a" * 301), "too_large"),
    ("`[` x 100,000 (RecursionError in json)", b"[" * 100_000, "too_deep"),
    ("`{\"a\":` x 5,000 then 1", b'{"a":' * 5000 + b"1" + b"}" * 5000, "too_deep"),
    ("nested 17 levels inside an item", nested(17), "too_deep"),
    ("url javascript:", item(url="javascript:alert(1)"), "bad_url"),
    ("url without a scheme", item(url="example.org/news/1"), "bad_url"),
    ("url with an unbalanced IPv6 bracket", item(url="http://[::1/news"), "bad_url"),
    ("id with spaces", item(id="a b"), "bad_id"),
]


def table() -> str:
    rows = ["| case | reason |", "|---|---|"] + [f"| {case} | `{reason}` |" for case, _raw, reason in CASES]
    return "\n".join(rows)


@pytest.mark.parametrize("case,raw,reason", CASES, ids=[c for c, _r, _s in CASES])
def test_bad_input_case_gets_its_reason(case: str, raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidItem) as exc:
        parse_news_item(raw)
    assert exc.value.reason == reason, f"{case}: {exc.value}"
    assert str(exc.value).startswith(reason)


def test_every_reason_of_the_table_is_a_declared_reason() -> None:
    assert {reason for _c, _r, reason in CASES} == set(REASONS)


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert parse_news_item(nested(15)).title == GOOD["title"]


def test_html_and_script_are_kept_as_text() -> None:
    raw = item(title="<b>Aid</b> <script>alert(1)</script>", text="<img src=x onerror=alert(1)> [link=http://x]y[/link]")
    got = parse_news_item(raw)
    assert got.title == "<b>Aid</b> <script>alert(1)</script>"
    assert got.text == "<img src=x onerror=alert(1)> [link=http://x]y[/link]"


def test_html_reaches_the_index_document_verbatim() -> None:
    from processors.index.documents import news_document
    from streams.records import EnrichedItem

    title = "<script>alert(1)</script> [link=https://evil.example]x[/link]"
    doc = news_document(EnrichedItem(id="x", title=title, text="<b>b</b>", published_at="2023-11-08T00:00:00Z",
                                     language="en"))
    assert (doc["title"], doc["text"]) == (title, "<b>b</b>")


def test_kibana_objects_never_render_stored_text_as_markup() -> None:
    """Kibana's default string format escapes HTML; no field may use a format that renders it (url, html)."""
    from pathlib import Path

    objects = [json.loads(line) for line in (Path(__file__).resolve().parents[2] / "deploy/kibana/saved_objects.ndjson")
               .read_text("utf-8").splitlines() if line.strip()]
    views = [o for o in objects if o.get("type") == "index-pattern"]
    assert views
    for view in views:
        formats = view["attributes"].get("fieldFormatMap") or {}
        formats = json.loads(formats) if isinstance(formats, str) else formats
        assert all(f.get("id") not in ("url", "html", "markdown") for f in formats.values()), view["id"]
    assert not [o["id"] for o in objects if "markdown" in json.dumps(o.get("attributes", {})).lower()]


def test_terminal_escapes_and_control_characters_are_stripped() -> None:
    raw = item(title="\x1b[2J\x1b[31mAid\x1b[0m \x1b]8;;https://evil.example\x07convoy\x1b]8;;\x07\x07\x9b1m",
               text="line one\r\nline\ttwo\x00\x08\x7f", source="Outlet\nNews", id="id-\x1b[1m1")
    got = parse_news_item(raw)
    assert got.title == "Aid convoy"
    assert got.text == "line one\nline\ttwo"
    assert got.source == "Outlet News"
    assert got.id == "id-1"


def test_dates_inside_the_bounds_are_kept() -> None:
    assert parse_news_item(item(published_at="1900-01-01T00:00:00Z")).published_at == "1900-01-01T00:00:00Z"
    soon = datetime.now(timezone.utc) + timedelta(hours=20)
    assert parse_news_item(item(published_at=soon.timestamp())).published_at.startswith(soon.strftime("%Y-%m-%d"))
    assert parse_news_item(item(published_at=1700000000)).published_at == "2023-11-14T22:13:20Z"


def test_same_id_with_different_content_keeps_the_id() -> None:
    """Last write wins: both versions keep the client's id, so the later one replaces the indexed document."""
    first = parse_news_item(item(id="story-1", title="First version"))
    second = parse_news_item(item(id="story-1", title="Corrected version", text="New body."))
    assert first.id == second.id == "story-1"
    assert (first.title, second.title) == ("First version", "Corrected version")


def test_dead_letter_payload_is_cut_only_when_it_cannot_fit_a_message() -> None:
    small = item()
    assert dead_letter_payload(small) == (small, "")
    russian = item(text="ж" * 90_000)                         # 180 KB, 540 KB escaped: fits
    assert dead_letter_payload(russian) == (russian, "")
    cut, note = dead_letter_payload(b"x" * (10 * 1024 * 1024))
    assert len(cut) == 128 * 1024 and "of 10485760 bytes" in note
    cut, note = dead_letter_payload(("ж" * 200_000).encode())  # 400 KB, 1.2 MB escaped: cut
    assert len(cut) == 128 * 1024 and note


def _agent_ctx() -> Any:
    import faust

    from streams.config import Settings
    from streams.metrics import Metrics
    try:
        from streams.stage import StageContext
    except ModuleNotFoundError:  # before the stage context moved out of streams.app
        from streams.app import StageContext  # type: ignore[no-redef]

    app = faust.App("t-bad-input", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    return StageContext(settings=Settings(_env_file=None, enrich_batch_seconds=0.05), metrics=Metrics(), app=app,
                        raw=app.channel(), enriched=app.channel(), counts=app.channel(), deadletter=app.channel(),
                        alerts=app.channel())


async def test_enrich_agent_dead_letters_every_case_counts_it_and_keeps_running() -> None:
    from processors.enrich.agent import register
    from streams.records import DeadLetter

    ctx = _agent_ctx()
    agent = register(ctx)
    dead_out = ctx.deadletter.__aiter__()
    got: List[DeadLetter] = []
    async with agent.test_context() as tc:
        for _round in range(2):                 # a second round: the agent is still consuming after the first
            for _case, raw, _reason in CASES:
                await tc.put(raw, wait=False)
            for _ in CASES:
                got.append(DeadLetter.loads((await dead_out.get(timeout=30)).value))
    expected = [reason for _c, _r, reason in CASES] * 2
    assert sorted(d.reason for d in got) == sorted(expected)
    assert all(d.stage == "enrich" for d in got)
    assert all(len(d.dumps()) < 1_000_000 for d in got)     # each dead letter fits a Kafka message
    metrics = ctx.metrics
    assert metrics.registry.get_sample_value("surgewatch_items_in_total", {"stage": "enrich"}) == len(expected)
    for reason in set(expected):
        count = metrics.registry.get_sample_value("surgewatch_dead_letters_total", {"stage": "enrich", "reason": reason})
        assert count == expected.count(reason), reason


if __name__ == "__main__":
    print(table())
