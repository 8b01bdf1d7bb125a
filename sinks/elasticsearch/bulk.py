"""Bulk writer: consumes documents with ids, produces idempotent Elasticsearch bulk requests; reports per-item errors."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, ConnectionError as ESConnectionError, TransportError

from streams.metrics import Metrics

log = logging.getLogger(__name__)
Docs = list[tuple[str, dict[str, Any]]]


@dataclass
class BulkResult:
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)   # doc id -> error (document rejected: dead-letter it)


def transient(status: int) -> bool:
    """Statuses that say "not now" (too many requests, shards unavailable, node starting), not "never"."""
    return status == 429 or status >= 500


def _status(exc: Exception) -> int:
    """The HTTP status of a failed request; 0 for no answer at all (connection refused, timeout)."""
    return int(getattr(exc, "status_code", 0) or 0) if isinstance(exc, ApiError) else 0


class BulkWriter:
    """Writes batches with `_id` (re-processing overwrites, never duplicates). Retries the whole request on
    connection errors and 429/5xx answers, and the documents Elasticsearch answers 429/5xx for (shards not yet
    allocated after a restart, a full write queue), with backoff; the batch stays unacknowledged meanwhile.
    Returns the documents rejected for good (4xx: mapping errors and the like)."""

    def __init__(self, es: AsyncElasticsearch, metrics: Metrics, max_retries: int | None = 8, label: str = "") -> None:
        """max_retries=None retries an unreachable cluster forever (a stage's batch then waits, unacknowledged)."""
        self.es = es
        self.metrics = metrics
        self.max_retries = max_retries
        self.label = label          # the `index` metric label: the alias written to, never a concrete index name

    def _may_retry(self, attempt: int) -> bool:
        return self.max_retries is None or attempt < self.max_retries

    async def _bulk(self, index: str, docs: Docs, attempt: int) -> tuple[dict[str, Any], int]:
        """One bulk request, retried while the cluster is unreachable or answers 429/5xx; (response, attempts)."""
        ops: list[dict[str, Any]] = []
        for doc_id, doc in docs:
            ops.append({"index": {"_index": index, "_id": doc_id}})
            ops.append(doc)
        while True:
            t0 = time.perf_counter()
            try:
                resp = await self.es.bulk(operations=ops, refresh=False)
                self.metrics.es_bulk_seconds.observe(time.perf_counter() - t0)
                return dict(resp), attempt
            except (ESConnectionError, TransportError, ApiError) as exc:
                status = _status(exc)
                if isinstance(exc, ApiError) and not transient(status):
                    raise
                self.metrics.es_bulk_failures.labels(kind="request").inc()
                if not self._may_retry(attempt):
                    raise
                attempt += 1
                await self._backoff(index, f"request failed ({exc})", attempt)

    async def _backoff(self, index: str, why: str, attempt: int) -> None:
        delay = min(0.5 * 2 ** (attempt - 1), 30.0)
        log.warning("bulk write to %s: %s; retry %d in %.1fs", index, why, attempt, delay)
        await asyncio.sleep(delay)

    async def write(self, index: str, docs: Docs) -> BulkResult:
        result = BulkResult()
        pending, attempt = list(docs), 0
        while pending:
            resp, attempt = await self._bulk(index, pending, attempt)
            again: Docs = []
            for (doc_id, doc), item in zip(pending, resp["items"]):
                op = item.get("index") or next(iter(item.values()))
                status = int(op.get("status", 500))
                if 200 <= status < 300:
                    result.ok.append(doc_id)
                elif transient(status) and self._may_retry(attempt):
                    again.append((doc_id, doc))
                else:
                    result.failed[doc_id] = f"{status}: {op.get('error')}"
            if again:
                self.metrics.es_bulk_failures.labels(kind="document_retried").inc(len(again))
                attempt += 1
                await self._backoff(index, f"{len(again)} of {len(pending)} documents answered 429/5xx", attempt)
            pending = again
        if result.failed:
            self.metrics.es_bulk_failures.labels(kind="document").inc(len(result.failed))
        self.metrics.indexed.labels(index=self.label or index).inc(len(result.ok))
        return result
