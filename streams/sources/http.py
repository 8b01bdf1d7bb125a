"""HTTP ingest: consumes POST /items bodies (one JSON object, a JSON array or NDJSON), produces NewsItems to news.raw."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from aiohttp import web
from pydantic import SecretStr

from streams.records import InvalidItem, NewsItem
from streams.sources.producer import RawSink, SourceError
from streams.validate import from_decoded, parse_raw

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_ITEMS = 1000
ID_NAMESPACE = "http"          # ids of items posted here live in their own namespace (see namespaced_id)
SINK_KEY: web.AppKey[RawSink] = web.AppKey("sink", RawSink)  # type: ignore[type-abstract]
FLUSH_KEY: web.AppKey[Optional[Callable[[], None]]] = web.AppKey("flush", object)  # type: ignore[arg-type]
POLICY_KEY: web.AppKey["IngestPolicy"] = web.AppKey("policy", object)  # type: ignore[arg-type]
UNAVAILABLE = "the broker did not accept the items; nothing of this request is guaranteed stored: retry later"


@dataclass(frozen=True)
class IngestPolicy:
    """Who may post and how much: a bearer token (None = no auth), body and item limits."""

    token: Optional[SecretStr] = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_items: int = MAX_ITEMS

    @property
    def has_token(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value())

    def authorized(self, header: Optional[str]) -> bool:
        """True without a token; else when the Authorization header is `Bearer <token>` (constant-time compare)."""
        if self.token is None or not self.has_token:
            return True
        scheme, _, given = (header or "").partition(" ")
        expected = self.token.get_secret_value().encode("utf-8")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8"), expected)


@dataclass
class BodyResult:
    """Validated items and rejected parts of one request body, each rejected part with its original bytes."""

    items: List[NewsItem] = field(default_factory=list)
    rejected: List[Tuple[int, bytes, str]] = field(default_factory=list)  # (line number, raw bytes, reason)
    parts: int = 0


def namespaced_id(item_id: str) -> str:
    """The id an item posted over HTTP is stored under: a hash of the namespace and its own (or derived) id.

    So a client can replace only what was posted over HTTP under the same id (a retry, a correction: the last
    write wins), never an item from another connector (RSS, replay, a producer writing to news.raw).
    """
    return hashlib.sha1(f"{ID_NAMESPACE}\n{item_id}".encode("utf-8")).hexdigest()[:20]


def _in_namespace(item: NewsItem) -> NewsItem:
    data = item.asdict()
    data.pop("__faust", None)
    data["id"] = namespaced_id(item.id or "")
    return NewsItem(**data)


def _whole(body: bytes) -> Tuple[bool, Any]:
    """(True, value) when the body is one JSON value; (False, None) otherwise (NDJSON, or not JSON at all)."""
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False, None


def count_parts(body: bytes) -> int:
    """How many items a body holds (array elements, else non-blank lines), without validating them."""
    is_whole, whole = _whole(body)
    if is_whole:
        return len(whole) if isinstance(whole, list) else 1
    return sum(1 for line in body.splitlines() if line.strip())


def _take(result: BodyResult, n: int, raw: Union[bytes, Callable[[], bytes]], parse: Callable[[], NewsItem]) -> None:
    try:
        result.items.append(_in_namespace(parse()))
    except InvalidItem as exc:
        try:
            original = raw() if callable(raw) else raw
        except Exception:  # noqa: BLE001 - e.g. an element nested too deep to encode again
            original = b""
        result.rejected.append((n, original, str(exc)))


def split_body(body: bytes) -> BodyResult:
    """Validate a body: a JSON object (one item), a JSON array of objects, or NDJSON (one object a line).

    A body that parses as one JSON value is taken whole; otherwise each non-blank line is one item.
    Rejected parts are numbered from 1 (line number for NDJSON, element position for an array).
    Never raises: anything wrong with a part is that part's reason.
    """
    result = BodyResult()
    is_whole, whole = _whole(body)
    if is_whole and isinstance(whole, list):
        for n, element in enumerate(whole, start=1):
            _take(result, n, lambda e=element: json.dumps(e).encode("utf-8"), lambda e=element: from_decoded(e))
        result.parts = len(whole)
        return result
    if is_whole:
        _take(result, 1, body.strip(), lambda: parse_raw(body))
        result.parts = 1
        return result
    for n, line in enumerate(body.splitlines(), start=1):
        if line.strip():
            result.parts += 1
            _take(result, n, line, lambda raw=line: parse_raw(raw))
    return result


def _deliver(sink: RawSink, result: BodyResult, flush: Optional[Callable[[], None]]) -> None:
    for item in result.items:
        sink.send_item(item)
    for _n, raw, _reason in result.rejected:
        sink.send_raw(raw)
    if flush is not None:
        flush()


def _error(status: int, reason: str, **extra: Any) -> web.Response:
    return web.json_response({"accepted": 0, "invalid": 0, "errors": [{"line": 0, "reason": reason}], **extra},
                             status=status)


async def _read_body(request: web.Request, policy: IngestPolicy) -> Union[bytes, web.Response]:
    if request.content_length is not None and request.content_length > policy.max_body_bytes:
        return _error(413, f"body_too_large: {request.content_length} bytes (max {policy.max_body_bytes})")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body_too_large: more than {policy.max_body_bytes} bytes")


async def post_items(request: web.Request) -> web.Response:
    """202 {accepted, invalid, ids} when every part is valid; 400 with reasons otherwise (bad parts still sent raw).

    401 without the bearer token (when one is set), 413 over the body or item limit, 503 when the broker fails.
    """
    policy = request.app[POLICY_KEY]
    if not policy.authorized(request.headers.get("Authorization")):
        return web.json_response({"error": "unauthorized: send Authorization: Bearer <SURGEWATCH_INGEST_TOKEN>"},
                                 status=401, headers={"WWW-Authenticate": 'Bearer realm="surgewatch-ingest"'})
    body = await _read_body(request, policy)
    if isinstance(body, web.Response):
        return body
    if not body.strip():
        return _error(400, "empty body")
    parts = count_parts(body)
    if parts > policy.max_items:
        return _error(413, f"too_many_items: {parts} items (max {policy.max_items} a request)")
    result = split_body(body)
    loop = asyncio.get_running_loop()
    try:
        # kafka-python blocks (metadata, flush with acks=all): keep it off the event loop
        await loop.run_in_executor(None, _deliver, request.app[SINK_KEY], result, request.app[FLUSH_KEY])
    except SourceError as exc:
        log.error("ingest failed: %s", exc)          # the details (broker addresses) stay in the log
        return web.json_response({"error": UNAVAILABLE}, status=503)
    payload: Dict[str, Any] = {"accepted": len(result.items), "invalid": len(result.rejected),
                               "ids": [i.id for i in result.items]}
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


def make_app(sink: RawSink, flush: Optional[Callable[[], None]] = None, max_body_bytes: int = MAX_BODY_BYTES,
             policy: Optional[IngestPolicy] = None) -> web.Application:
    """The aiohttp application: POST /items, GET /healthz."""
    policy = policy or IngestPolicy(max_body_bytes=max_body_bytes)
    # aiohttp's own cap a little above ours, so that our handler answers the 413 (with a JSON body)
    app = web.Application(client_max_size=policy.max_body_bytes + 1)
    app[SINK_KEY] = sink
    app[FLUSH_KEY] = flush
    app[POLICY_KEY] = policy
    app.router.add_post("/items", post_items)
    app.router.add_get("/healthz", healthz)
    return app


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1); False for 0.0.0.0, :: and anything else."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, policy: IngestPolicy) -> None:
    """Refuse to listen beyond loopback without a token (anyone who can reach the port could post)."""
    if not is_loopback(host) and not policy.has_token:
        raise SourceError(f"refusing to listen on {host} without a token: set SURGEWATCH_INGEST_TOKEN, "
                          f"or bind 127.0.0.1")


def serve(sink: RawSink, host: str = "127.0.0.1", port: int = 8088, flush: Optional[Callable[[], None]] = None,
          print_fn: Optional[Callable[..., None]] = None, policy: Optional[IngestPolicy] = None) -> None:
    """Run the ingest server until interrupted (SourceError when the address needs a token and none is set)."""
    policy = policy or IngestPolicy()
    check_bind(host, policy)
    web.run_app(make_app(sink, flush, policy=policy), host=host, port=port, print=print_fn, access_log=log)
