"""Alert forwarder: consumes Incident records from the incidents topic (or, per key, Alert records from the alerts
topic) in a consumer group that commits after delivery, produces deliveries to Alertmanager and/or a webhook --
one notification per incident when it opens, escalates or resolves -- and re-posts active alerts before they
expire."""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Type, Union

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import kafka_clients, topics
from streams.codec import decode
from streams.config import Settings
from streams.deadletter import make_dead_letter
from streams.records import Alert, Incident, iso

from sinks.alerting.alertmanager import post_alertmanager
from sinks.alerting.http import DeliveryError, RetryPolicy
from sinks.alerting.mapping import (RESOLVED, Subscription, incident_to_alertmanager, incident_webhook_payload,
                                    to_alertmanager, webhook_payload)
from sinks.alerting.webhook import post_webhook

logger = logging.getLogger(__name__)
STAGE = "forward"


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

    async def deliver_incident(self, incident: Incident, now: Optional[datetime] = None) -> bool:
        """Notify one incident revision if it is a notification for the subscription; True when it was sent."""
        notice = self.subscription.notice(incident)
        if notice is None:
            self.skipped += 1
            return False
        now = now or datetime.now(timezone.utc)
        if self.alertmanager_url:
            am_alerts = incident_to_alertmanager(incident, notice, now, self.firing_ttl)
            await post_alertmanager(self.session, self.alertmanager_url, am_alerts, self.retry)
            if notice == RESOLVED:
                self.active.pop(incident.incident_id, None)
            else:
                self.active[incident.incident_id] = am_alerts[:1]
        if self.webhook_url:
            await post_webhook(self.session, self.webhook_url, incident_webhook_payload(incident, notice), self.retry)
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


DeadLetterFn = Callable[[str, str, TopicPartition, Any], Awaitable[None]]


async def _log_only(reason: str, error: str, tp: TopicPartition, rec: Any) -> None:
    logger.error("%s at %s[%d]@%d: %s", reason, tp.topic, tp.partition, rec.offset, error)


async def handle_batch(fwd: Forwarder, book: OffsetBook, batches: Dict[TopicPartition, List[Any]],
                       record_type: Type[Union[Alert, Incident]] = Alert,
                       dead_letter: DeadLetterFn = _log_only) -> None:
    """Deliver every record in offset order per partition, recording each handled offset in book. An undecodable
    record (`bad_record`), one the receiver rejects for good (`receiver_rejected`) or one that breaks the mapping
    (`forward_error`) is dead-lettered before its offset counts as handled; a DeliveryError (retries exhausted)
    propagates with the records before it recorded."""
    for tp, records in batches.items():
        for rec in records:
            try:
                record = decode(record_type, rec.value)
            except Exception as exc:  # noqa: BLE001 - InvalidItem or anything the codec raised on a forged record
                await dead_letter("bad_record", str(exc) or repr(exc), tp, rec)
                book.handled(tp, rec.offset)
                continue
            try:
                if isinstance(record, Incident):
                    await fwd.deliver_incident(record)
                else:
                    await fwd.deliver(record)
            except DeliveryError:
                raise
            except ValueError as exc:  # permanent rejection of this one record
                await dead_letter("receiver_rejected", str(exc), tp, rec)
            except Exception as exc:  # noqa: BLE001 - an odd record must not put the forwarder in a restart loop
                await dead_letter("forward_error", repr(exc), tp, rec)
            book.handled(tp, rec.offset)


def kafka_dead_letters(settings: Settings, producer: AIOKafkaProducer) -> DeadLetterFn:
    """Dead letters of the forwarder (stage `forward`) on the dead-letter topic, each sent and acknowledged before
    its offset may be committed."""
    target = topics.name(settings, topics.DEADLETTER)

    async def send(reason: str, error: str, tp: TopicPartition, rec: Any) -> None:
        await _log_only(reason, error, tp, rec)
        dl = make_dead_letter(STAGE, reason, error, rec.value, tp.topic, tp.partition, rec.offset)
        await producer.send_and_wait(target, dl.dumps())
    return send


async def _commit(consumer: AIOKafkaConsumer, book: OffsetBook) -> None:
    offsets = book.take()
    if offsets:
        await consumer.commit(offsets)


async def _forward_loop(consumer: AIOKafkaConsumer, fwd: Forwarder, stop: asyncio.Event,
                        record_type: Type[Union[Alert, Incident]], dead_letter: DeadLetterFn = _log_only) -> None:
    book = OffsetBook()
    pinned: Set[TopicPartition] = set()
    refresh_every = max(fwd.firing_ttl.total_seconds() / 4, 5.0)
    last_refresh = time.monotonic()
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=1000, max_records=200)
        await pin_new_partitions(consumer, pinned, batches)
        try:
            await handle_batch(fwd, book, batches, record_type, dead_letter)
        finally:  # also when retries are exhausted: what was delivered before stays delivered
            await _commit(consumer, book)
        if time.monotonic() - last_refresh >= refresh_every:
            await fwd.refresh()
            last_refresh = time.monotonic()


async def run_forwarder(settings: Settings, forwarder_kwargs: Dict[str, Any], group_id: str,
                        from_beginning: bool = True, stop: Optional[asyncio.Event] = None,
                        incidents: bool = False) -> None:
    """Consume the alerts topic -- with `incidents`, the incidents topic: one notification per incident -- (auto-commit
    off) and commit each offset only after its record is handled.

    A new group starts at the oldest alert (from_beginning, the default) or at the newest, and commits that
    start at once: a restart never jumps past an alert it has not delivered.
    """
    topic = topics.name(settings, topics.INCIDENTS if incidents else topics.ALERTS)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_servers, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest", **kafka_clients.aiokafka(settings),
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
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all",
                                **kafka_clients.aiokafka(settings))
    try:
        await consumer.start()
        await producer.start()
        logger.info("forwarding %s from %s (group %s)", topic, settings.kafka_servers, group_id)
        async with aiohttp.ClientSession() as session:
            await _forward_loop(consumer, Forwarder(session=session, **forwarder_kwargs), stop,
                                Incident if incidents else Alert, kafka_dead_letters(settings, producer))
    finally:
        await consumer.stop()
        await producer.stop()
        for sig in handled:
            loop.remove_signal_handler(sig)
