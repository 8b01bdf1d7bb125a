"""Agent tests (Faust test_context, in-memory channels, no broker): the agents loop, call the pure code and route
each event to the right output — enriched, dead-letter with reason — without ever stopping on a bad one."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import faust
import pytest

from streams.stage import StageContext
from streams.config import Settings
from streams.metrics import Metrics
from streams.codec import decode
from streams.records import DeadLetter, EnrichedItem, ItemCounts, Tag


def make_ctx(name: str) -> StageContext:
    app = faust.App(name, broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    return StageContext(settings=Settings(_env_file=None, enrich_batch_seconds=0.05), metrics=Metrics(), app=app,
                        raw=app.channel(), enriched=app.channel(), counts=app.channel(), deadletter=app.channel(),
                        alerts=app.channel())


def subscribe(channel: Any) -> Any:
    """A subscribed reader of an in-memory channel (only iterator clones receive what is sent)."""
    return channel.__aiter__()


async def drain(reader: Any, n: int, timeout: float = 30.0) -> list[Any]:
    out = []
    channel = reader
    for _ in range(n):
        ev = await channel.get(timeout=timeout)
        out.append(ev.value)
    return out


async def test_enrich_agent_tags_good_items_and_dead_letters_bad_ones() -> None:
    from processors.enrich.agent import register
    ctx = make_ctx("t-enrich")
    agent = register(ctx)
    enriched_out, dead_out = subscribe(ctx.enriched), subscribe(ctx.deadletter)
    good = {"title": "Muslims in Grozny collect aid for Gaza", "text": "Chechnya's muftiate opened a fund.",
            "published_at": "2023-11-08T09:00:00Z", "url": "https://example.org/a"}
    async with agent.test_context() as tc:
        await tc.put(b"{broken", wait=False)
        await tc.put(json.dumps(good).encode(), wait=False)
        await tc.put(json.dumps({"title": "x"}).encode(), wait=False)
        dead = [DeadLetter.loads(v) for v in await drain(dead_out, 2, timeout=180)]   # the tagger loads first
        enriched = [EnrichedItem.loads(v) for v in await drain(enriched_out, 1, timeout=180)]
    assert sorted(d.reason for d in dead) == ["invalid_json", "missing_field"]
    assert all(d.stage == "enrich" for d in dead)
    assert dead[0].payload in ("{broken", '{"title": "x"}')
    item = enriched[0]
    assert item.language == "en"
    region_ids = {t.id for t in item.regions} | {a for t in item.regions for a in t.ancestors}
    assert "region:ru-ce" in region_ids
    from processors.enrich.dedup import dup_keys
    assert item.dup_keys == dup_keys(good["title"], good["text"]) != []   # the same in any process
    assert ctx.metrics.registry.get_sample_value("surgewatch_items_in_total", {"stage": "enrich"}) == 3
    assert ctx.metrics.registry.get_sample_value("surgewatch_items_out_total", {"stage": "enrich"}) == 1
    assert ctx.metrics.registry.get_sample_value("surgewatch_dead_letters_total",
                                                 {"stage": "enrich", "reason": "invalid_json"}) == 1


async def test_count_agent_sends_one_message_with_every_key_of_the_item() -> None:
    from processors.spikes.keys import count_events, expand
    ctx = make_ctx("t-count")
    # only the count agent is exercised: build it the way register() does, without the detector table
    from processors.spikes import agent as spikes_agent
    item = EnrichedItem(id="a1", title="t", text="x", published_at="2023-11-08T09:00:00Z", language="en",
                        regions=[Tag(id="region:ru-ce", name="Chechnya", confidence=0.9, ancestors=["region:ru"])],
                        communities=[Tag(id="community:muslims", name="Muslims", confidence=0.9)],
                        dup_keys=["0a1b2c3d4e5f", "1a1b2c3d4e5f"])
    expected = {e.key for e in count_events(item)}
    count_agent = spikes_agent.register_counter(ctx)
    counts_out, dead_out = subscribe(ctx.counts), subscribe(ctx.deadletter)
    async with count_agent.test_context() as tc:
        await tc.put(item.dumps(), wait=False)
        await tc.put(b"garbage", wait=False)
        messages = [decode(ItemCounts, v) for v in await drain(counts_out, 1)]
        dead = [DeadLetter.loads(v) for v in await drain(dead_out, 1)]
    events = expand(messages[0])
    assert messages[0].item_id == "a1"
    assert [e.key for e in events] == [e.key for e in count_events(item)] and {e.key for e in events} == expected
    assert all(e.dup_keys == ["0a1b2c3d4e5f", "1a1b2c3d4e5f"] for e in events)
    assert "all" in expected and "region:ru" in expected and "region:ru-ce" in expected
    assert dead[0].reason == "bad_record"
