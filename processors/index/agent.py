"""index_news agent: consumes EnrichedItem from news.enriched, produces documents in the news alias (bulk, _id = item id)."""
from __future__ import annotations

import logging
import time
from typing import Any

from sinks.elasticsearch import BulkWriter, alias, async_client
from streams.batches import handle_in_batches
from streams.codec import decode
from streams.deadletter import send_dead_letter
from streams.records import EnrichedItem, InvalidItem
from streams.stage import StageContext

from processors.index.documents import news_document

log = logging.getLogger(__name__)
STAGE = "index"


def register(ctx: StageContext) -> Any:
    settings, metrics = ctx.settings, ctx.metrics
    target = alias(settings, "news")
    holder: dict[str, BulkWriter] = {}
    ctx.acks.watch(ctx.enriched, "index_news")

    @ctx.app.agent(ctx.enriched, name="index_news")
    async def index_news(stream: Any) -> None:
        # each event is acked only after the bulk request that holds it succeeded (see streams/batches.py)
        await handle_in_batches(stream, settings.index_batch_size, settings.index_batch_seconds, handle, ctx.acks)

    async def handle(events: list[Any]) -> None:
        t0 = time.perf_counter()
        writer = holder.get("w")
        if writer is None:
            writer = holder["w"] = BulkWriter(async_client(settings), metrics, max_retries=None, label=target)
        docs: list[tuple[str, dict[str, Any]]] = []
        by_id: dict[str, Any] = {}
        for ev in events:
            metrics.items_in.labels(stage=STAGE).inc()
            try:
                item = decode(EnrichedItem, ev.value)
                docs.append((item.id, news_document(item)))
                by_id[item.id] = ev
            except InvalidItem as exc:
                await send_dead_letter(ctx.deadletter, metrics, STAGE, exc.reason, str(exc), ev.value, ev)
            except Exception as exc:  # noqa: BLE001 - one bad record never stops the stage
                await send_dead_letter(ctx.deadletter, metrics, STAGE, "bad_record", repr(exc), ev.value, ev)
        if not docs:
            return
        result = await writer.write(target, docs)
        for doc_id, err in result.failed.items():
            ev = by_id[doc_id]
            await send_dead_letter(ctx.deadletter, metrics, STAGE, "es_rejected", err, ev.value, ev)
        metrics.items_out.labels(stage=STAGE).inc(len(result.ok))
        elapsed = time.perf_counter() - t0
        for _ in events:
            metrics.processing_seconds.labels(stage=STAGE).observe(elapsed / len(events))
        metrics.last_item_timestamp.labels(stage=STAGE).set(time.time())

    return index_news
