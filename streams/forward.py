"""Alert forwarder: consumes Alert records from the alerts topic, produces Alertmanager v2 alerts and generic webhook POSTs."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import aiohttp
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from tenacity import (AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_exponential,
                      wait_random)

from streams import topics
from streams.config import Settings, get_settings
from streams.records import Alert, iso, parse_time

logger = logging.getLogger(__name__)

ALERTNAME = "SurgewatchSpike"
SEVERITIES: Tuple[str, ...] = ("low", "medium", "high", "critical")
RESOLVED = "resolved"
ESCALATED = "escalated"
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_RESERVED_LABELS = frozenset({"alertname", "key", "severity"})


class DeliveryError(RuntimeError):
    """A receiver answered with an error status or could not be reached."""


# --------------------------------------------------------------------------------------------------
# pure functions: filtering and mapping (no I/O)
# --------------------------------------------------------------------------------------------------

def severity_rank(severity: str) -> int:
    """Position of a severity in low < medium < high < critical; unknown severities raise ValueError."""
    try:
        return SEVERITIES.index(severity.strip().lower())
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}") from None


@dataclass(frozen=True)
class Subscription:
    """Which alerts to forward: keys starting with any prefix (none = every key) at or above min_severity."""

    key_prefixes: Tuple[str, ...] = ()
    min_severity: str = "low"

    def __post_init__(self) -> None:
        severity_rank(self.min_severity)  # validate early

    def matches(self, alert: Alert) -> bool:
        if self.key_prefixes and not any(alert.key.startswith(p) for p in self.key_prefixes):
            return False
        try:
            rank = severity_rank(alert.severity)
        except ValueError:
            logger.warning("alert %s has unknown severity %r; forwarding it", alert.alert_id, alert.severity)
            return True
        # a resolution is always forwarded for a subscribed key: the receiver may hold the firing alert
        # raised at a higher severity before the episode calmed down
        return alert.state == RESOLVED or rank >= severity_rank(self.min_severity)


def label_name(dimension: str) -> str:
    """A dimension name as a valid Prometheus/Alertmanager label name."""
    name = _LABEL_NAME.sub("_", dimension.strip()) or "dimension"
    if name[0].isdigit():
        name = "_" + name
    if name in _RESERVED_LABELS:
        name = "dim_" + name
    return name


def alert_labels(alert: Alert, severity: Optional[str] = None) -> Dict[str, str]:
    """Identity labels of an alert in Alertmanager: alertname, key, severity and one label per dimension."""
    labels = {"alertname": ALERTNAME, "key": alert.key, "severity": severity or alert.severity}
    for dim, value in sorted((alert.dimensions or {}).items()):
        if value:
            labels[label_name(dim)] = str(value)
    return labels


def _article_lines(alert: Alert, max_articles: int) -> str:
    lines = []
    for art in list(alert.top_articles or [])[:max_articles]:
        title = art.title if hasattr(art, "title") else str(art.get("title", ""))  # type: ignore[union-attr]
        source = art.source if hasattr(art, "source") else art.get("source")  # type: ignore[union-attr]
        url = art.url if hasattr(art, "url") else art.get("url")  # type: ignore[union-attr]
        line = "- " + " ".join(title.split())
        if source:
            line += f" ({source})"
        if url:
            line += f" {url}"
        lines.append(line)
    return "\n".join(lines)


def alert_annotations(alert: Alert, max_articles: int = 5) -> Dict[str, str]:
    """Human-readable annotations: summary, observed/expected, score, window, Kibana link, top articles."""
    ann = {
        "summary": (f"News surge on {alert.key}: {alert.observed:g} observed vs {alert.expected:.1f} expected "
                    f"({alert.severity}, {alert.state})"),
        "observed": f"{alert.observed:g}",
        "expected": f"{alert.expected:.2f}",
        "score": f"{alert.score:.2f}",
        "state": alert.state,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "alert_id": alert.alert_id,
    }
    if alert.kibana_url:
        ann["kibana_url"] = alert.kibana_url
    articles = _article_lines(alert, max_articles)
    if articles:
        ann["top_articles"] = articles
    if alert.co_tags:
        ann["co_tags"] = ", ".join(alert.co_tags[:10])
    return ann


def to_alertmanager(alert: Alert, now: datetime, firing_ttl: timedelta = timedelta(hours=1),
                    max_articles: int = 5) -> List[Dict[str, Any]]:
    """Alertmanager v2 postable alerts for one Alert state change.

    firing/escalated: endsAt = now + firing_ttl (the forwarder re-posts active alerts before it passes);
    resolved: endsAt = the alert's window end (or now), which resolves the episode at every severity.
    An escalation also resolves the same key at lower severities, so one episode shows once.
    """
    starts = parse_time(alert.window_start)
    annotations = alert_annotations(alert, max_articles)
    base: Dict[str, Any] = {"annotations": annotations, "startsAt": iso(starts)}
    if alert.kibana_url and alert.kibana_url.startswith(("http://", "https://")):
        base["generatorURL"] = alert.kibana_url
    if alert.state == RESOLVED:
        ends = max(parse_time(alert.window_end), starts) if alert.window_end else now
        ends = min(ends, now)
        # resolve at every severity: the episode may have been raised at any of them
        return [dict(base, labels=alert_labels(alert, sev), endsAt=iso(max(ends, starts))) for sev in SEVERITIES]
    out = [dict(base, labels=alert_labels(alert), endsAt=iso(now + firing_ttl))]
    try:
        rank = severity_rank(alert.severity)
    except ValueError:
        return out
    if alert.state == ESCALATED:
        out += [dict(base, labels=alert_labels(alert, sev), endsAt=iso(max(now, starts)))
                for sev in SEVERITIES[:rank]]
    return out


def webhook_payload(alert: Alert) -> Dict[str, Any]:
    """The generic webhook body: the Alert as plain JSON (without faust's type tags)."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "__faust"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(json.loads(alert.dumps()))


def decode_alert(value: Optional[bytes]) -> Alert:
    """One alerts-topic message value to an Alert; raises ValueError on anything else."""
    if value is None:
        raise ValueError("empty message")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    missing = [f for f in ("alert_id", "key", "window_start", "state", "severity") if f not in data]
    if missing:
        raise ValueError("missing fields: " + ", ".join(missing))
    return Alert.from_data(data)


# --------------------------------------------------------------------------------------------------
# delivery (I/O)
# --------------------------------------------------------------------------------------------------

@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and total time."""

    attempts: int = 8
    max_seconds: float = 120.0
    initial: float = 0.5
    maximum: float = 15.0

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_seconds),
            wait=wait_exponential(multiplier=self.initial, max=self.maximum) + wait_random(0, self.initial),
            retry=retry_if_exception_type((DeliveryError, aiohttp.ClientError, asyncio.TimeoutError)),
            reraise=True,
        )


async def _post_json(session: aiohttp.ClientSession, url: str, body: Any, timeout: float) -> None:
    async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        if resp.status >= 300:
            text = (await resp.text())[:300]
            if 400 <= resp.status < 500 and resp.status not in (408, 429):
                # the receiver rejected this payload: retrying cannot help
                raise ValueError(f"{url} rejected the payload: HTTP {resp.status}: {text}")
            raise DeliveryError(f"{url} answered HTTP {resp.status}: {text}")


async def post_alertmanager(session: aiohttp.ClientSession, base_url: str, alerts: Sequence[Dict[str, Any]],
                            retry: Optional[RetryPolicy] = None, timeout: float = 10.0) -> None:
    """POST alerts to Alertmanager's /api/v2/alerts, retrying transient failures with backoff."""
    if not alerts:
        return
    url = base_url.rstrip("/") + "/api/v2/alerts"
    async for attempt in (retry or RetryPolicy()).retrying():
        with attempt:
            await _post_json(session, url, list(alerts), timeout)


async def post_webhook(session: aiohttp.ClientSession, url: str, payload: Dict[str, Any],
                       retry: Optional[RetryPolicy] = None, timeout: float = 10.0) -> None:
    """POST one alert as JSON to a generic webhook, retrying transient failures with backoff."""
    async for attempt in (retry or RetryPolicy()).retrying():
        with attempt:
            await _post_json(session, url, payload, timeout)


@dataclass
class Forwarder:
    """Delivers Alerts to Alertmanager and/or a webhook and re-posts active alerts before they expire."""

    session: aiohttp.ClientSession
    subscription: Subscription = field(default_factory=Subscription)
    alertmanager_url: Optional[str] = None
    webhook_url: Optional[str] = None
    firing_ttl: timedelta = timedelta(hours=1)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    active: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)  # key -> last posted AM alerts
    forwarded: int = 0
    skipped: int = 0

    async def deliver(self, alert: Alert, now: Optional[datetime] = None) -> bool:
        """Forward one alert if the subscription matches; True when it was sent."""
        if not self.subscription.matches(alert):
            self.skipped += 1
            return False
        now = now or datetime.now(timezone.utc)
        if self.alertmanager_url:
            am_alerts = to_alertmanager(alert, now, self.firing_ttl)
            await post_alertmanager(self.session, self.alertmanager_url, am_alerts, self.retry)
            if alert.state == RESOLVED:
                self.active.pop(alert.key, None)
            else:
                self.active[alert.key] = am_alerts[:1]
        if self.webhook_url:
            await post_webhook(self.session, self.webhook_url, webhook_payload(alert), self.retry)
        self.forwarded += 1
        return True

    async def refresh(self, now: Optional[datetime] = None) -> int:
        """Re-post every active alert with a fresh endsAt so Alertmanager keeps it firing."""
        if not self.alertmanager_url or not self.active:
            return 0
        ends = iso((now or datetime.now(timezone.utc)) + self.firing_ttl)
        batch = [dict(a, endsAt=ends) for alerts in self.active.values() for a in alerts]
        await post_alertmanager(self.session, self.alertmanager_url, batch, self.retry)
        return len(batch)


@dataclass
class OffsetBook:
    """Next offset to commit per partition: a record counts as handled once delivered, filtered out or rejected."""

    pending: Dict[TopicPartition, int] = field(default_factory=dict)

    def handled(self, tp: TopicPartition, offset: int) -> None:
        self.pending[tp] = max(self.pending.get(tp, 0), offset + 1)

    def take(self) -> Dict[TopicPartition, int]:
        out, self.pending = self.pending, {}
        return out


def start_offset(committed: Optional[int], first_fetched: Optional[int], position: Optional[int]) -> Optional[int]:
    """Offset to pin for a partition the group has never committed: the first record already fetched, else the
    consumer's reset position; None when the group has a committed offset (nothing to pin)."""
    if committed is not None:
        return None
    return first_fetched if first_fetched is not None else position


async def pin_new_partitions(consumer: AIOKafkaConsumer, pinned: Set[TopicPartition],
                             batches: Dict[TopicPartition, List[Any]]) -> None:
    """Commit the start of every newly assigned partition without a committed offset, so that a restart before
    the first delivery resumes there instead of applying auto_offset_reset again (which, at "latest", would
    skip everything produced in between)."""
    for tp in consumer.assignment() - pinned:
        records = batches.get(tp) or []
        offset = start_offset(await consumer.committed(tp), records[0].offset if records else None,
                              None if records else await consumer.position(tp))
        if offset is not None:
            await consumer.commit({tp: offset})
            logger.info("new group: %s[%d] starts at offset %d", tp.topic, tp.partition, offset)
        pinned.add(tp)


async def handle_batch(fwd: Forwarder, book: OffsetBook, batches: Dict[TopicPartition, List[Any]]) -> None:
    """Deliver every record in offset order per partition, recording each handled offset in book; a
    DeliveryError (retries exhausted) propagates with the records before it recorded."""
    for tp, records in batches.items():
        for rec in records:
            try:
                alert = decode_alert(rec.value)
            except ValueError as exc:
                logger.error("skipping undecodable alert at %s[%d]@%d: %s", tp.topic, tp.partition, rec.offset, exc)
                book.handled(tp, rec.offset)
                continue
            try:
                await fwd.deliver(alert)
            except ValueError as exc:  # permanent rejection of this one alert
                logger.error("receiver rejected alert %s at %s[%d]@%d: %s",
                             alert.alert_id, tp.topic, tp.partition, rec.offset, exc)
            book.handled(tp, rec.offset)


async def _commit(consumer: AIOKafkaConsumer, book: OffsetBook) -> None:
    offsets = book.take()
    if offsets:
        await consumer.commit(offsets)


async def _forward_loop(consumer: AIOKafkaConsumer, fwd: Forwarder, stop: asyncio.Event) -> None:
    book = OffsetBook()
    pinned: Set[TopicPartition] = set()
    refresh_every = max(fwd.firing_ttl.total_seconds() / 4, 5.0)
    last_refresh = time.monotonic()
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=1000, max_records=200)
        await pin_new_partitions(consumer, pinned, batches)
        try:
            await handle_batch(fwd, book, batches)
        finally:  # also when retries are exhausted: what was delivered before stays delivered
            await _commit(consumer, book)
        if time.monotonic() - last_refresh >= refresh_every:
            await fwd.refresh()
            last_refresh = time.monotonic()


async def run_forwarder(settings: Settings, forwarder_kwargs: Dict[str, Any], group_id: str,
                        from_beginning: bool = True, stop: Optional[asyncio.Event] = None) -> None:
    """Consume the alerts topic (auto-commit off) and commit each offset only after its alert is handled.

    A new group starts at the oldest alert (from_beginning, the default) or at the newest, and commits that
    start at once: a restart never jumps past an alert it has not delivered.
    """
    topic = topics.name(settings, topics.ALERTS)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_servers, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: List[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # docker stop / Ctrl-C: leave the group after the current batch
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signal support
            pass
    try:
        await consumer.start()
        logger.info("forwarding %s from %s (group %s)", topic, settings.kafka_servers, group_id)
        async with aiohttp.ClientSession() as session:
            await _forward_loop(consumer, Forwarder(session=session, **forwarder_kwargs), stop)
    finally:
        await consumer.stop()
        for sig in handled:
            loop.remove_signal_handler(sig)


def register(alerts_app: typer.Typer) -> None:
    """Add `surgewatch alerts forward` to the alerts command group."""

    @alerts_app.command("forward")
    def forward(
        alertmanager_url: Optional[str] = typer.Option(None, "--alertmanager-url",
                                                       help="Alertmanager base URL, e.g. http://alertmanager:9093"),
        webhook_url: Optional[str] = typer.Option(None, "--webhook-url", help="Generic webhook receiving alert JSON"),
        key_prefix: List[str] = typer.Option([], "--key-prefix",
                                             help="Forward only keys starting with this (repeatable)"),
        min_severity: str = typer.Option("low", "--min-severity", help="low | medium | high | critical"),
        from_beginning: bool = typer.Option(True, "--from-beginning/--from-latest",
                                            help="Where a group without committed offsets starts: the oldest "
                                                 "alert (default) or the newest; the start is committed at once"),
        group_id: Optional[str] = typer.Option(None, "--group-id",
                                               help="Consumer group (default: <app_id>-alert-forwarder)"),
        firing_ttl: float = typer.Option(3600.0, "--firing-ttl",
                                         help="Seconds a firing alert stays active without a re-post"),
    ) -> None:
        """Forward spike alerts to Alertmanager (/api/v2/alerts) and/or a webhook; commit after delivery."""
        if not alertmanager_url and not webhook_url:
            raise typer.BadParameter("give --alertmanager-url and/or --webhook-url")
        try:
            subscription = Subscription(tuple(key_prefix), min_severity)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--min-severity") from exc
        settings = get_settings()
        kwargs = dict(subscription=subscription, alertmanager_url=alertmanager_url, webhook_url=webhook_url,
                      firing_ttl=timedelta(seconds=firing_ttl))
        try:
            asyncio.run(run_forwarder(settings, kwargs, group_id or f"{settings.app_id}-alert-forwarder",
                                      from_beginning))
        except KeyboardInterrupt:
            pass
        except DeliveryError as exc:
            logger.error("giving up after retries: %s (the undelivered alert stays uncommitted: a restart resumes "
                         "at it)", exc)
            raise typer.Exit(2) from exc
        except KafkaError as exc:
            typer.echo(f"error: cannot consume alerts from Kafka at {settings.kafka_servers} ({exc}); start the "
                       "local stack with `surgewatch stack up` or set SURGEWATCH_KAFKA_BOOTSTRAP", err=True)
            raise typer.Exit(2) from exc
