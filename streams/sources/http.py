"""HTTP ingest: consumes POST /items bodies (one JSON object, a JSON array or NDJSON), produces NewsItems to news.raw."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from aiohttp import web

from streams.records import InvalidItem, NewsItem
from streams.sources.producer import RawSink, SourceError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
SINK_KEY: web.AppKey[RawSink] = web.AppKey("sink", RawSink)  # type: ignore[type-abstract]
FLUSH_KEY: web.AppKey[Optional[Callable[[], None]]] = web.AppKey("flush", object)  # type: ignore[arg-type]


@dataclass
class BodyResult:
    """Validated items and rejected parts of one request body, each rejected part with its original bytes."""

    items: List[NewsItem] = field(default_factory=list)
    rejected: List[Tuple[int, bytes, str]] = field(default_factory=list)  # (line number, raw bytes, reason)


def _validate(payload: Any) -> NewsItem:
    return NewsItem.from_payload(payload)


def split_body(body: bytes) -> BodyResult:
    """Validate a body: a JSON object (one item), a JSON array of objects, or NDJSON (one object a line).

    A body that parses as one JSON value is taken whole; otherwise each non-blank line is one item.
    Rejected parts are numbered from 1 (line number for NDJSON, element position for an array).
    """
    result = BodyResult()
    try:
        whole = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        whole = None
        is_whole = False
    else:
        is_whole = True
    if is_whole and isinstance(whole, list):
        for n, element in enumerate(whole, start=1):
            try:
                result.items.append(_validate(element))
            except InvalidItem as exc:
                result.rejected.append((n, json.dumps(element, ensure_ascii=False).encode("utf-8"), str(exc)))
        return result
    if is_whole:
        try:
            result.items.append(_validate(whole))
        except InvalidItem as exc:
            result.rejected.append((1, body.strip(), str(exc)))
        return result
    for n, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result.items.append(_validate(json.loads(line)))
        except InvalidItem as exc:
            result.rejected.append((n, line, str(exc)))
        except (ValueError, UnicodeDecodeError) as exc:
            result.rejected.append((n, line, f"not_json: {exc}"))
    return result


def _deliver(sink: RawSink, result: BodyResult, flush: Optional[Callable[[], None]]) -> None:
    for item in result.items:
        sink.send_item(item)
    for _n, raw, _reason in result.rejected:
        sink.send_raw(raw)
    if flush is not None:
        flush()


async def post_items(request: web.Request) -> web.Response:
    """202 {accepted, invalid} when every part is valid; 400 with reasons otherwise (bad parts still sent raw)."""
    body = await request.read()
    if not body.strip():
        return web.json_response({"accepted": 0, "invalid": 0, "errors": [{"line": 0, "reason": "empty body"}]},
                                 status=400)
    result = split_body(body)
    sink = request.app[SINK_KEY]
    flush = request.app[FLUSH_KEY]
    loop = asyncio.get_running_loop()
    try:
        # kafka-python blocks (metadata, flush with acks=all): keep it off the event loop
        await loop.run_in_executor(None, _deliver, sink, result, flush)
    except SourceError as exc:
        log.error("ingest failed: %s", exc)
        return web.json_response({"error": str(exc)}, status=503)
    payload: Dict[str, Any] = {"accepted": len(result.items), "invalid": len(result.rejected)}
    if result.rejected:
        payload["errors"] = [{"line": n, "reason": reason} for n, _raw, reason in result.rejected]
        payload["note"] = "invalid parts were forwarded unchanged and will appear in the dead-letter topic"
        return web.json_response(payload, status=400)
    return web.json_response(payload, status=202)


async def healthz(request: web.Request) -> web.Response:
    """200 when the producer reports a broker connection (or cannot tell), else 503."""
    sink = request.app[SINK_KEY]
    check = getattr(sink, "connected", None)
    ok = True if check is None else bool(await asyncio.get_running_loop().run_in_executor(None, check))
    return web.json_response({"status": "ok" if ok else "kafka unreachable"}, status=200 if ok else 503)


def make_app(sink: RawSink, flush: Optional[Callable[[], None]] = None,
             max_body_bytes: int = MAX_BODY_BYTES) -> web.Application:
    """The aiohttp application: POST /items, GET /healthz."""
    app = web.Application(client_max_size=max_body_bytes)
    app[SINK_KEY] = sink
    app[FLUSH_KEY] = flush
    app.router.add_post("/items", post_items)
    app.router.add_get("/healthz", healthz)
    return app


def serve(sink: RawSink, host: str = "127.0.0.1", port: int = 8088, flush: Optional[Callable[[], None]] = None,
          print_fn: Optional[Callable[..., None]] = None) -> None:
    """Run the ingest server until interrupted."""
    web.run_app(make_app(sink, flush), host=host, port=port, print=print_fn, access_log=log)
