"""HTTP ingest: body splitting (pure) and the aiohttp app on a loopback test server with a recording sink."""
from __future__ import annotations

import json
from typing import AsyncIterator, List, Optional

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.records import NewsItem
from streams.sources.http import make_app, split_body

GOOD = {"title": "Rally in Kazan", "text": "People gathered.", "published_at": "2023-11-08T10:00:00Z",
        "url": "https://x.example/a"}
GOOD2 = {"title": "Aid from Grozny", "text": "Trucks left.", "published_at": "2023-11-09T10:00:00Z"}


class RecordingSink:
    def __init__(self) -> None:
        self.items: List[NewsItem] = []
        self.raw: List[bytes] = []
        self.flushes = 0
        self.up = True

    def send_item(self, item: NewsItem) -> None:
        self.items.append(item)

    def send_raw(self, payload: bytes, key: Optional[bytes] = None) -> None:
        self.raw.append(payload)

    def flush(self) -> None:
        self.flushes += 1

    def connected(self) -> bool:
        return self.up


def test_split_body_object_array_and_ndjson() -> None:
    one = split_body(json.dumps(GOOD).encode())
    assert [i.title for i in one.items] == ["Rally in Kazan"] and one.rejected == []

    arr = split_body(json.dumps([GOOD, {"title": "x"}, GOOD2]).encode())
    assert [i.title for i in arr.items] == ["Rally in Kazan", "Aid from Grozny"]
    assert [(n, reason) for n, _raw, reason in arr.rejected] == [(2, "missing_field: text, published_at")]

    nd = b"\n".join([json.dumps(GOOD).encode(), b"", b"{broken", json.dumps(GOOD2).encode()])
    res = split_body(nd)
    assert len(res.items) == 2
    assert [(n, raw) for n, raw, _ in res.rejected] == [(3, b"{broken")]
    assert res.rejected[0][2].startswith("not_json")

    bad_one = split_body(b'{"title": "t", "text": "x", "published_at": "soon"}\n')
    assert bad_one.items == [] and bad_one.rejected[0][2].startswith("bad_published_at")


@pytest.fixture
async def client_and_sink() -> AsyncIterator[tuple[TestClient, RecordingSink]]:
    sink = RecordingSink()
    client = TestClient(TestServer(make_app(sink, flush=sink.flush)))
    await client.start_server()
    try:
        yield client, sink
    finally:
        await client.close()


async def test_post_valid_items_returns_202(client_and_sink: tuple[TestClient, RecordingSink]) -> None:
    client, sink = client_and_sink
    body = json.dumps(GOOD) + "\n" + json.dumps(GOOD2) + "\n"
    resp = await client.post("/items", data=body, headers={"Content-Type": "application/x-ndjson"})
    assert resp.status == 202
    assert await resp.json() == {"accepted": 2, "invalid": 0}
    assert [i.title for i in sink.items] == ["Rally in Kazan", "Aid from Grozny"]
    assert sink.raw == [] and sink.flushes == 1


async def test_post_with_bad_items_returns_400_and_forwards_them_raw(
        client_and_sink: tuple[TestClient, RecordingSink]) -> None:
    client, sink = client_and_sink
    body = json.dumps(GOOD) + "\nnot json\n" + json.dumps({"title": "t", "text": "x"}) + "\n"
    resp = await client.post("/items", data=body)
    assert resp.status == 400
    payload = await resp.json()
    assert payload["accepted"] == 1 and payload["invalid"] == 2
    assert [e["line"] for e in payload["errors"]] == [2, 3]
    assert payload["errors"][1]["reason"] == "missing_field: published_at"
    assert len(sink.items) == 1
    assert sink.raw == [b"not json", json.dumps({"title": "t", "text": "x"}).encode()]


async def test_empty_body_and_healthz(client_and_sink: tuple[TestClient, RecordingSink]) -> None:
    client, sink = client_and_sink
    resp = await client.post("/items", data=b"  \n")
    assert resp.status == 400 and sink.items == [] and sink.raw == []
    assert (await client.get("/healthz")).status == 200
    sink.up = False
    resp = await client.get("/healthz")
    assert resp.status == 503 and (await resp.json())["status"] == "kafka unreachable"
