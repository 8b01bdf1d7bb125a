"""enrich_news agent: consumes news.raw (bytes), produces EnrichedItem on news.enriched or DeadLetter on news.deadletter."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from streams.batches import handle_in_batches
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


class _Enricher:
    """Tags a batch of raw events and sends each to news.enriched or news.deadletter, with its metrics."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx, self.settings, self.metrics = ctx, ctx.settings, ctx.metrics
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagger")
        self.state: dict[str, Any] = {}
        # news volume per tag for dashboards: counts in the current wall-clock bucket, top-N per dimension only
        self.volume: dict[str, Counter[str]] = {"region": Counter(), "community": Counter(), "topic": Counter()}
        self.volume_hour = int(time.time() // self.settings.bucket_seconds)

    def load(self) -> Any:
        from processors.enrich.dedup import StoryClusterer
        from processors.enrich.tagging import Tagger
        if "tagger" not in self.state:
            t0 = time.perf_counter()
            s = self.settings
            if s.tagger_process:
                from processors.enrich.tagger_process import ProcessTagger
                tagger: Any = ProcessTagger(s.spacy_model, s.taxonomy_dir, s.tagger_cache_dir)
                tagger.start()
            else:
                tagger = Tagger.load(spacy_model=s.spacy_model, taxonomy_dir=s.taxonomy_dir,
                                     cache_dir=s.tagger_cache_dir)
            self.state["tagger"], self.state["clusterer"] = tagger, StoryClusterer()
            log.info("tagger loaded in %.1f s (%s)", time.perf_counter() - t0,
                     "a child process" if s.tagger_process else "a thread of this worker")
        return self.state["tagger"]

    def tag(self, items: list[NewsItem]) -> list[Any]:
        tagger = self.state.get("tagger") or self.load()
        return tagger.tag_batch(items)

    async def dead_letter(self, reason: str, error: str, ev: Any) -> None:
        """Dead-letter one event with its reason (counted by send_dead_letter); a payload too big is cut to fit."""
        payload, note = dead_letter_payload(ev.value)
        await send_dead_letter(self.ctx.deadletter, self.metrics, STAGE, reason, note + error, payload, ev)

    async def handle(self, events: list[Any]) -> None:
        t0 = time.perf_counter()
        valid = await self._parse(events)
        if valid:
            results = await self._tag_all([it for _, it in valid])
            for (ev, item), res in zip(valid, results):
                if isinstance(res, Exception):
                    await self.dead_letter("tagging_error", repr(res), ev)
                else:
                    await self._emit(ev, item, res)
            self._publish_volume()
            elapsed = time.perf_counter() - t0
            for _ in events:
                self.metrics.processing_seconds.labels(stage=STAGE).observe(elapsed / len(events))
            self.metrics.last_item_timestamp.labels(stage=STAGE).set(time.time())

    async def _parse(self, events: list[Any]) -> list[tuple[Any, NewsItem]]:
        valid: list[tuple[Any, NewsItem]] = []
        for ev in events:
            self.metrics.items_in.labels(stage=STAGE).inc()
            try:
                valid.append((ev, parse_news_item(ev.value)))
            except Exception as exc:  # noqa: BLE001 - per event, whatever it raised: dead-letter, count, carry on
                reason = exc.reason if isinstance(exc, InvalidItem) else "unexpected_error"
                await self.dead_letter(reason, str(exc) or repr(exc), ev)
        return valid

    async def _tag_all(self, items: list[NewsItem]) -> list[Any]:
        """A TagResult per item, or the exception tagging that item raised."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, self.tag, items)
        except Exception:  # noqa: BLE001 - one bad item must not sink the batch: retry one by one
            log.exception("batch tagging failed; tagging %d items one by one", len(items))
        results: list[Any] = []
        for item in items:
            try:
                results.extend(await loop.run_in_executor(self.executor, self.tag, [item]))
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results

    async def _emit(self, ev: Any, item: NewsItem, res: Any) -> None:
        try:
            story, keys = self.state["clusterer"].assign(item.id, item.title, item.text)
            enriched = build_enriched(item, res, story, dup_keys=keys)
        except Exception as exc:  # noqa: BLE001
            await self.dead_letter("enrich_error", repr(exc), ev)
            return
        # same partition number as the raw item: each news.enriched partition keeps its news.raw partition's
        # order, which the spike detector's event-time ordering relies on (one lane per partition)
        await self.ctx.enriched.send(key=enriched.id.encode("utf-8"), value=enriched.dumps(),
                                     partition=_lane(ev, self.settings.topic_partitions))
        self.metrics.items_out.labels(stage=STAGE).inc()
        for dim, tags in (("region", enriched.regions), ("community", enriched.communities),
                          ("topic", enriched.topics)):
            if tags:
                self.metrics.tags.labels(dimension=dim).inc(len(tags))
                self.volume[dim].update({t.id for t in tags})
        self.metrics.event_lag_seconds.labels(stage=STAGE).observe(
            max(0.0, time.time() - parse_time(item.published_at).timestamp()))

    def _publish_volume(self) -> None:
        hour = int(time.time() // self.settings.bucket_seconds)
        if hour != self.volume_hour:
            self.volume_hour = hour
            for c in self.volume.values():
                c.clear()
        for dim, c in self.volume.items():
            self.metrics.set_top_tags(dim, c)


def register(ctx: StageContext) -> Any:
    enricher = _Enricher(ctx)
    ctx.acks.watch(ctx.raw, "enrich_news")

    @ctx.app.agent(ctx.raw, name="enrich_news")
    async def enrich_news(stream: Any) -> None:
        # each event is acked only after its batch is handled: a stop or crash mid-batch re-delivers it
        await handle_in_batches(stream, ctx.settings.enrich_batch_size, ctx.settings.enrich_batch_seconds,
                                enricher.handle, ctx.acks)

    ctx.warmups.append(enricher.load)   # a worker loads the tagger before it joins (an agent test: in its first batch)
    return enrich_news
