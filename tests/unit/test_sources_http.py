"""HTTP ingest: body splitting (pure) and the aiohttp app on a loopback test server with a recording sink."""
from __future__ import annotations

import json
from typing import AsyncIterator, List, Optional

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.records import NewsItem
from pydantic import SecretStr

from streams.records import derive_id
from streams.sources.http import IngestPolicy, check_bind, is_loopback, make_app, namespaced_id, split_body
from streams.sources.producer import SourceError

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
    assert res.rejected[0][2].startswith("invalid_json")

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
    assert await resp.json() == {"accepted": 2, "invalid": 0, "ids": [i.id for i in sink.items]}
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


CRASHERS = [b'{"title": "t", "text": "x", "published_at": 1700000000000}',
            b'{"title": "t", "text": "x", "published_at": 1e20}', b"[" * 100_000]


@pytest.mark.parametrize("bad", CRASHERS, ids=["epoch-ms", "1e20", "deep"])
async def test_one_crashing_item_is_a_400_part_not_a_500(client_and_sink: tuple[TestClient, RecordingSink],
                                                          bad: bytes) -> None:
    client, sink = client_and_sink
    for body in (json.dumps(GOOD).encode() + b"\n" + bad + b"\n", bad):
        resp = await client.post("/items", data=body)
        assert resp.status == 400, await resp.text()
        payload = await resp.json()
        assert payload["invalid"] == 1
        assert payload["errors"][0]["reason"].split(":")[0] in ("bad_published_at", "too_deep")
    assert len(sink.items) == 1 and len(sink.raw) == 2


async def test_array_with_deep_and_odd_elements(client_and_sink: tuple[TestClient, RecordingSink]) -> None:
    client, sink = client_and_sink
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    body = json.dumps([GOOD, deep, 42, {**GOOD2, "title": "\ud800"}]).encode()
    resp = await client.post("/items", data=body)
    payload = await resp.json()
    assert resp.status == 400
    assert [(e["line"], e["reason"].split(":")[0]) for e in payload["errors"]] == [
        (2, "too_deep"), (3, "not_an_object"), (4, "not_utf8")]
    assert len(sink.items) == 1 and len(sink.raw) == 3


def test_ids_are_namespaced_per_connector() -> None:
    """A client cannot replace an item of another connector: its ids (sent or derived) are hashed with 'http'."""
    got = split_body(json.dumps([GOOD, {**GOOD2, "id": "story-1"}]).encode()).items
    assert got[0].id == namespaced_id(derive_id(GOOD["url"], "", "")) != derive_id(GOOD["url"], "", "")
    assert got[1].id == namespaced_id("story-1") != "story-1"
    again = split_body(json.dumps({**GOOD2, "id": "story-1", "title": "Corrected"}).encode()).items
    assert again[0].id == got[1].id          # a retry or a correction replaces its own item (last write wins)


@pytest.fixture
async def guarded() -> AsyncIterator[tuple[TestClient, RecordingSink]]:
    sink = RecordingSink()
    policy = IngestPolicy(token=SecretStr("s3cret-token"), max_body_bytes=4096, max_items=3)
    client = TestClient(TestServer(make_app(sink, flush=sink.flush, policy=policy)))
    await client.start_server()
    try:
        yield client, sink
    finally:
        await client.close()


async def test_token_required_when_set(guarded: tuple[TestClient, RecordingSink]) -> None:
    client, sink = guarded
    body = json.dumps(GOOD)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"},
                    {"Authorization": "Basic s3cret-token"}, {"Authorization": "Bearer s3cret-token-and-more"}):
        resp = await client.post("/items", data=body, headers=headers)
        assert resp.status == 401, headers
        assert "s3cret" not in await resp.text()
    assert sink.items == []
    resp = await client.post("/items", data=body, headers={"Authorization": "Bearer s3cret-token"})
    assert resp.status == 202 and len(sink.items) == 1
    assert (await client.get("/healthz")).status == 200          # liveness needs no token


async def test_body_and_item_limits_answer_413(guarded: tuple[TestClient, RecordingSink]) -> None:
    client, sink = guarded
    auth = {"Authorization": "Bearer s3cret-token"}
    big = json.dumps({**GOOD, "text": "x" * 5000})
    resp = await client.post("/items", data=big, headers=auth)
    assert resp.status == 413 and (await resp.json())["errors"][0]["reason"].startswith("body_too_large")

    async def chunks() -> AsyncIterator[bytes]:          # no Content-Length: aiohttp's cap answers
        for _ in range(5):
            yield b" " * 1024

    resp = await client.post("/items", data=chunks(), headers=auth)
    assert resp.status == 413
    many = "\n".join(json.dumps(GOOD2) for _ in range(4))
    resp = await client.post("/items", data=many, headers=auth)
    assert resp.status == 413 and (await resp.json())["errors"][0]["reason"].startswith("too_many_items")
    resp = await client.post("/items", data=json.dumps([GOOD2] * 4), headers=auth)
    assert resp.status == 413
    assert sink.items == [] and sink.raw == []
    resp = await client.post("/items", data=json.dumps([GOOD2] * 3), headers=auth)
    assert resp.status == 202


class FailingSink(RecordingSink):
    def flush(self) -> None:
        raise SourceError("3 record(s) not delivered to news.raw on broker-7.internal:9092: KafkaTimeoutError")


async def test_broker_failure_is_503_without_internal_addresses() -> None:
    sink = FailingSink()
    client = TestClient(TestServer(make_app(sink, flush=sink.flush)))
    await client.start_server()
    try:
        resp = await client.post("/items", data=json.dumps(GOOD))
        text = await resp.text()
    finally:
        await client.close()
    assert resp.status == 503 and "retry later" in text
    assert "broker-7" not in text and "9092" not in text


def test_refuses_non_loopback_without_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.5")
    assert not is_loopback("ingest.example")
    check_bind("127.0.0.1", IngestPolicy())
    for host in ("0.0.0.0", "::", "192.168.1.10"):
        with pytest.raises(SourceError, match="SURGEWATCH_INGEST_TOKEN"):
            check_bind(host, IngestPolicy())
        with pytest.raises(SourceError):
            check_bind(host, IngestPolicy(token=SecretStr("")))
        check_bind(host, IngestPolicy(token=SecretStr("t")))
