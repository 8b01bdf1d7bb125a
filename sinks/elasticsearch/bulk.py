"""Bulk writer: consumes documents with ids, produces idempotent Elasticsearch bulk requests; reports per-item errors."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch, ConnectionError as ESConnectionError, TransportError

from streams.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class BulkResult:
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)   # doc id -> error (document rejected: dead-letter it)


class BulkWriter:
    """Writes batches with `_id` (re-processing overwrites, never duplicates). Retries the whole request on
    connection/5xx errors with backoff (the batch stays unacknowledged meanwhile); returns per-document rejections."""

    def __init__(self, es: AsyncElasticsearch, metrics: Metrics, max_retries: int | None = 8, label: str = "") -> None:
        """max_retries=None retries an unreachable cluster forever (a stage's batch then waits, unacknowledged)."""
        self.es = es
        self.metrics = metrics
        self.max_retries = max_retries
        self.label = label          # the `index` metric label: the alias written to, never a concrete index name

    async def write(self, index: str, docs: list[tuple[str, dict[str, Any]]]) -> BulkResult:
        if not docs:
            return BulkResult()
        ops: list[dict[str, Any]] = []
        for doc_id, doc in docs:
            ops.append({"index": {"_index": index, "_id": doc_id}})
            ops.append(doc)
        delay = 0.5
        attempt = 0
        while True:
            t0 = time.perf_counter()
            try:
                resp = await self.es.bulk(operations=ops, refresh=False)
                self.metrics.es_bulk_seconds.observe(time.perf_counter() - t0)
                break
            except (ESConnectionError, TransportError) as exc:
                self.metrics.es_bulk_failures.labels(kind="request").inc()
                if self.max_retries is not None and attempt >= self.max_retries:
                    raise
                attempt += 1
                log.warning("bulk request to %s failed (%s); retry %d in %.1fs", index, exc, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        result = BulkResult()
        for item in resp["items"]:
            op = item.get("index") or next(iter(item.values()))
            status = op.get("status", 500)
            if 200 <= status < 300:
                result.ok.append(op["_id"])
            else:
                err = op.get("error")
                result.failed[op["_id"]] = f"{status}: {err}"
        if result.failed:
            self.metrics.es_bulk_failures.labels(kind="document").inc(len(result.failed))
        self.metrics.indexed.labels(index=self.label or index).inc(len(result.ok))
        return result
