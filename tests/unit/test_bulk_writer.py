"""BulkWriter retry logic against a scripted client (no I/O): consumes scripted bulk answers, produces assertions on
what is retried (no answer, 429/5xx for the request or a document) and what is reported rejected (4xx)."""
from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError as TransportConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from sinks.elasticsearch import bulk
from sinks.elasticsearch.bulk import BulkWriter
from streams.metrics import Metrics


def api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "127.0.0.1", 9200))
    return ApiError("scripted", meta, {"error": "scripted"})


class ScriptedES:
    """Answers each bulk call with the next scripted step: an exception to raise, or one status per document."""

    def __init__(self, steps: List[Any]) -> None:
        self.steps, self.calls = steps, []  # type: ignore[var-annotated]

    async def bulk(self, operations: List[Any], refresh: bool) -> dict:
        ids = [op["index"]["_id"] for op in operations[::2]]
        self.calls.append(ids)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return {"items": [{"index": {"_id": i, "status": s, **({"error": "x"} if s >= 300 else {})}}
                          for i, s in zip(ids, step)]}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(_: float) -> None:
        return None
    monkeypatch.setattr(bulk.asyncio, "sleep", instant)


def write(es: ScriptedES, n: int, max_retries: int | None = None) -> Any:
    metrics = Metrics()
    docs = [(f"d{i}", {"n": i}) for i in range(n)]
    return asyncio.run(BulkWriter(es, metrics, max_retries=max_retries).write("idx", docs)), metrics  # type: ignore


def counter(metrics: Metrics, kind: str) -> float:
    return metrics.es_bulk_failures.labels(kind=kind)._value.get()


def test_documents_answered_503_or_429_are_retried_not_rejected() -> None:
    es = ScriptedES([[201, 503, 429, 400], [201, 503], [200]])
    result, metrics = write(es, 4)
    assert sorted(result.ok) == ["d0", "d1", "d2"] and list(result.failed) == ["d3"]
    assert es.calls == [["d0", "d1", "d2", "d3"], ["d1", "d2"], ["d2"]]
    assert counter(metrics, "document_retried") == 3 and counter(metrics, "document") == 1


def test_a_request_without_answer_or_with_503_is_retried() -> None:
    es = ScriptedES([TransportConnectionError("refused"), api_error(503), api_error(429), [201, 201]])
    result, metrics = write(es, 2)
    assert result.ok == ["d0", "d1"] and not result.failed
    assert counter(metrics, "request") == 3


def test_a_request_answered_4xx_is_not_retried() -> None:
    es = ScriptedES([api_error(400)])
    with pytest.raises(ApiError):
        write(es, 1)
    assert len(es.calls) == 1


def test_bounded_retries_report_what_is_still_unavailable() -> None:
    es = ScriptedES([[503, 201], [503]])
    result, _ = write(es, 2, max_retries=1)
    assert result.ok == ["d1"] and list(result.failed) == ["d0"]
    with pytest.raises(TransportConnectionError):
        write(ScriptedES([TransportConnectionError("a"), TransportConnectionError("b")]), 1, max_retries=1)
