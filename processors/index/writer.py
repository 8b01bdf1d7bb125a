"""Bulk writer: consumes documents with ids, produces idempotent Elasticsearch bulk requests; reports per-item errors."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch, ConnectionError as ESConnectionError, TransportError

from streams.config import Settings
from streams.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class BulkResult:
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)   # doc id -> error (document rejected: dead-letter it)


def async_client(settings: Settings) -> AsyncElasticsearch:
    auth = None
    if settings.es_username:
        auth = (settings.es_username, settings.es_password.get_secret_value())
    return AsyncElasticsearch(settings.elasticsearch_url, basic_auth=auth, verify_certs=settings.es_verify_certs,
                              request_timeout=30)


class BulkWriter:
    """Writes batches with `_id` (re-processing overwrites, never duplicates). Retries the whole request on
    connection/5xx errors with backoff (the batch stays unacknowledged meanwhile); returns per-document rejections."""

    def __init__(self, es: AsyncElasticsearch, metrics: Metrics, max_retries: int = 8) -> None:
        self.es = es
        self.metrics = metrics
        self.max_retries = max_retries

    async def write(self, index: str, docs: list[tuple[str, dict[str, Any]]]) -> BulkResult:
        if not docs:
            return BulkResult()
        ops: list[dict[str, Any]] = []
        for doc_id, doc in docs:
            ops.append({"index": {"_index": index, "_id": doc_id}})
            ops.append(doc)
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            t0 = time.perf_counter()
            try:
                resp = await self.es.bulk(operations=ops, refresh=False)
                self.metrics.es_bulk_seconds.observe(time.perf_counter() - t0)
                break
            except (ESConnectionError, TransportError) as exc:
                self.metrics.es_bulk_failures.labels(kind="request").inc()
                if attempt == self.max_retries:
                    raise
                log.warning("bulk request to %s failed (%s); retry %d in %.1fs", index, exc, attempt + 1, delay)
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
        self.metrics.indexed.labels(index=index.split("-v")[0]).inc(len(result.ok))
        return result
