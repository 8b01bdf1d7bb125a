"""enrich_news agent: consumes news.raw (bytes), produces EnrichedItem on news.enriched or DeadLetter on news.deadletter."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from streams.stage import StageContext
from streams.deadletter import send_dead_letter
from streams.records import InvalidItem, NewsItem, parse_time
from streams.validate import dead_letter_payload

from processors.enrich.pipeline import build_enriched, parse_news_item

log = logging.getLogger(__name__)
STAGE = "enrich"


def _lane(event: Any, partitions: int) -> int | None:
    part = getattr(getattr(event, "message", None), "partition", None)
    return None if part is None else int(part) % partitions


def register(ctx: StageContext) -> Any:
    settings, metrics = ctx.settings, ctx.metrics
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagger")
    state: dict[str, Any] = {}
    # news volume per tag for dashboards: counts in the current wall-clock bucket, top-N per dimension only
    volume: dict[str, Counter[str]] = {"region": Counter(), "community": Counter(), "topic": Counter()}
    volume_hour = [int(time.time() // settings.bucket_seconds)]

    def load() -> Any:
        from processors.enrich.dedup import StoryClusterer
        from processors.enrich.tagging import Tagger
        state["tagger"] = Tagger.load(spacy_model=settings.spacy_model, taxonomy_dir=settings.taxonomy_dir)
        state["clusterer"] = StoryClusterer()
        return state["tagger"]

    def tag(items: list[NewsItem]) -> list[Any]:
        tagger = state.get("tagger") or load()
        return tagger.tag_batch(items)

    @ctx.app.agent(ctx.raw, name="enrich_news")
    async def enrich_news(stream: Any) -> None:
        # noack_take + ack after the batch is handled: Faust's take_events acks a batch even when the worker is
        # stopped in the middle of it, which loses those items; unacked items are re-delivered after a restart.
        async for events in stream.noack_take(settings.enrich_batch_size, within=settings.enrich_batch_seconds):
            await handle(events)
            for ev in events:
                await stream.ack(ev)

    async def dead_letter(reason: str, error: str, ev: Any) -> None:
        """Dead-letter one event with its reason (counted by send_dead_letter); a payload too big is cut to fit."""
        payload, note = dead_letter_payload(ev.value)
        await send_dead_letter(ctx.deadletter, metrics, STAGE, reason, note + error, payload, ev)

    async def handle(events: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        valid: list[tuple[Any, NewsItem]] = []
        for ev in events:
            metrics.items_in.labels(stage=STAGE).inc()
            try:
                valid.append((ev, parse_news_item(ev.value)))
            except Exception as exc:  # noqa: BLE001 - per event, whatever it raised: dead-letter, count, carry on
                reason = exc.reason if isinstance(exc, InvalidItem) else "unexpected_error"
                await dead_letter(reason, str(exc) or repr(exc), ev)
        if not valid:
            return
        try:
            results = await loop.run_in_executor(executor, tag, [it for _, it in valid])
        except Exception:  # noqa: BLE001 - one bad item must not sink the batch: retry one by one
            log.exception("batch tagging failed; tagging %d items one by one", len(valid))
            results = []
            for ev, item in valid:
                try:
                    results.extend(await loop.run_in_executor(executor, tag, [item]))
                except Exception as exc:  # noqa: BLE001
                    results.append(exc)
        for (ev, item), res in zip(valid, results):
            if isinstance(res, Exception):
                await dead_letter("tagging_error", repr(res), ev)
                continue
            try:
                story, keys = state["clusterer"].assign(item.id, item.title, item.text)
                enriched = build_enriched(item, res, story, dup_keys=keys)
            except Exception as exc:  # noqa: BLE001
                await dead_letter("enrich_error", repr(exc), ev)
                continue
            # same partition number as the raw item: each news.enriched partition keeps its news.raw partition's
            # order, which the spike detector's event-time ordering relies on (one lane per partition)
            await ctx.enriched.send(key=enriched.id.encode("utf-8"), value=enriched.dumps(),
                                    partition=_lane(ev, settings.topic_partitions))
            metrics.items_out.labels(stage=STAGE).inc()
            for dim, tags in (("region", enriched.regions), ("community", enriched.communities),
                              ("topic", enriched.topics)):
                if tags:
                    metrics.tags.labels(dimension=dim).inc(len(tags))
                    volume[dim].update({t.id for t in tags})
            metrics.event_lag_seconds.labels(stage=STAGE).observe(
                max(0.0, time.time() - parse_time(item.published_at).timestamp()))
        hour = int(time.time() // settings.bucket_seconds)
        if hour != volume_hour[0]:
            volume_hour[0] = hour
            for c in volume.values():
                c.clear()
        for dim, c in volume.items():
            metrics.set_top_tags(dim, c)
        elapsed = time.perf_counter() - t0
        for _ in events:
            metrics.processing_seconds.labels(stage=STAGE).observe(elapsed / len(events))
        metrics.last_item_timestamp.labels(stage=STAGE).set(time.time())

    return enrich_news
