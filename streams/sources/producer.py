"""Raw producer: consumes validated NewsItems or unparsed input bytes, produces Kafka records on news.raw."""
from __future__ import annotations

import logging
import socket
import threading
from typing import Optional, Protocol, Tuple

from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams import topics
from streams import kafka_clients
from streams.config import Settings
from streams.metrics import Metrics
from streams.deadletter import make_dead_letter
from streams.records import NewsItem
from streams.validate import MAX_MESSAGE_BYTES, dead_letter_payload

log = logging.getLogger(__name__)

STAGE = "ingest"


class SourceError(RuntimeError):
    """An ingestion connector cannot do its job; the message says what to fix."""


class RawSink(Protocol):
    """Where connectors put items: a RawProducer in production, any object with these methods in tests."""

    def send_item(self, item: NewsItem) -> None: ...

    def send_raw(self, payload: bytes, key: Optional[bytes] = None) -> None: ...


def item_key(item: NewsItem) -> Optional[bytes]:
    """Kafka key of a NewsItem: its id (UTF-8), so copies of one item land on one partition."""
    return item.id.encode("utf-8") if item.id else None


def item_value(item: NewsItem) -> bytes:
    """Kafka value of a NewsItem: the faust Record JSON (what the enrich agent deserialises)."""
    return item.dumps()


def oversize_dead_letter(payload: bytes) -> Optional[bytes]:
    """None when the payload fits a message on news.raw; else the DeadLetter record (stage ingest) to send instead."""
    if len(payload) <= MAX_MESSAGE_BYTES:
        return None
    head, note = dead_letter_payload(payload)
    error = f"{note}message has {len(payload)} bytes (max {MAX_MESSAGE_BYTES})"
    return make_dead_letter(STAGE, "too_large", error, head).dumps()


class DeliveryErrors:
    """Records the broker did not acknowledge, reported once by the next flush (errbacks run on kafka's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self._pending = 0
        self._last: Optional[BaseException] = None

    def record(self, exc: BaseException) -> None:
        with self._lock:
            self.total += 1
            self._pending += 1
            self._last = exc

    def take(self) -> Tuple[int, Optional[BaseException]]:
        """Failures since the last take, and the last error; resets both (a transient error is reported once)."""
        with self._lock:
            pending, last = self._pending, self._last
            self._pending, self._last = 0, None
            return pending, last


class RawProducer:
    """kafka-python producer bound to the raw topic (acks=all, small linger, no compression).

    Invalid input is sent too, unchanged, so the enrich stage dead-letters it with its reason:
    nothing that reaches a connector is lost silently.
    """

    def __init__(self, settings: Settings, *, metrics: Optional[Metrics] = None,
                 max_block_ms: int = 10_000, linger_ms: int = 5,
                 bootstrap_timeout_ms: int = 10_000) -> None:
        self.settings = settings
        self.topic = topics.name(settings, topics.RAW)
        self.metrics = metrics
        self.deadletter_topic = topics.name(settings, topics.DEADLETTER)
        self.sent = 0
        self.dead_lettered = 0
        self._errors = DeliveryErrors()
        servers = [s.strip() for s in settings.kafka_servers.split(",") if s.strip()]
        self._servers = servers
        kafka_log = logging.getLogger("kafka")
        level = kafka_log.level
        kafka_log.setLevel(logging.CRITICAL)  # bootstrap retries log a screenful; we report one line ourselves
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=servers,
                acks="all",
                linger_ms=linger_ms,
                compression_type=None,
                max_block_ms=max_block_ms,
                request_timeout_ms=max(max_block_ms, 5_000),
                bootstrap_timeout_ms=bootstrap_timeout_ms,
                client_id="surgewatch-ingest",
                **kafka_clients.kafka_python(settings),
            )
        except KafkaError as exc:  # kafka-python 3 raises KafkaTimeoutError("Unable to bootstrap ...")
            raise SourceError(unreachable_message(settings)) from exc
        finally:
            kafka_log.setLevel(level)
        log.debug("raw producer connected to %s, topic %s", settings.kafka_servers, self.topic)

    def send_item(self, item: NewsItem) -> None:
        """Send one validated item, keyed by its id."""
        self._send(item_value(item), item_key(item))

    def send_raw(self, payload: bytes, key: Optional[bytes] = None) -> None:
        """Send input bytes unchanged (e.g. a line that failed validation) for the enrich stage to dead-letter.

        Input too big for a Kafka message cannot travel that way: it goes straight to the dead-letter topic
        (stage ingest, reason too_large, its first bytes as payload).
        """
        dead_letter = oversize_dead_letter(payload)
        if dead_letter is None:
            self._send(payload, key)
            return
        self._send(dead_letter, None, topic=self.deadletter_topic)
        self.dead_lettered += 1
        if self.metrics is not None:
            self.metrics.dead_letters.labels(stage=STAGE, reason="too_large").inc()
        log.warning("input of %d bytes is too large for %s: dead-lettered on %s", len(payload), self.topic,
                    self.deadletter_topic)

    @property
    def failed(self) -> int:
        """Records not delivered in this producer's life."""
        return self._errors.total

    def _send(self, value: bytes, key: Optional[bytes], topic: Optional[str] = None) -> None:
        topic = topic or self.topic
        try:
            future = self._producer.send(topic, value=value, key=key)
        except KafkaError as exc:
            raise SourceError(f"cannot send to {topic} on {self.settings.kafka_servers}: {exc}; "
                              f"check SURGEWATCH_KAFKA_BOOTSTRAP and that the topic exists (`surgewatch setup` creates it)") from exc
        future.add_errback(self._on_error)
        if topic != self.topic:
            return
        self.sent += 1
        if self.metrics is not None:
            self.metrics.items_out.labels(stage=STAGE).inc()

    def connected(self, timeout: float = 1.0) -> bool:
        """True when a bootstrap broker accepts a TCP connection (a cheap liveness probe for /healthz)."""
        for server in self._servers:
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port or 9092)), timeout=timeout):
                    return True
            except (OSError, ValueError):
                continue
        return False

    def _on_error(self, exc: BaseException) -> None:
        self._errors.record(exc)
        log.error("record not delivered to %s: %s", self.topic, exc)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Block until every sent record is acknowledged (acks=all); raise SourceError if any was not.

        Each failure is reported by one flush only: after a transient broker error the next batch can succeed.
        """
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            self._errors.take()
            raise SourceError(f"Kafka did not acknowledge records on {self.topic}: {exc}") from exc
        failed, last = self._errors.take()
        if failed:
            raise SourceError(f"{failed} record(s) not delivered to {self.topic} on "
                              f"{self.settings.kafka_servers}: {last}")

    def close(self, timeout: Optional[float] = None) -> None:
        """Flush and close the connection."""
        try:
            self._producer.flush(timeout=timeout)
        finally:
            self._producer.close(timeout=timeout)

    def __enter__(self) -> "RawProducer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unreachable_message(settings: Settings) -> str:
    """One line telling the user which broker was tried and how to point at another one."""
    if settings.kafka_bootstrap:
        return (f"no Kafka broker reachable at {settings.kafka_servers} "
                f"(from SURGEWATCH_KAFKA_BOOTSTRAP): check the address and that the broker is up")
    return (f"no Kafka broker reachable at {settings.kafka_servers} (local stack default): "
            f"start the local stack or set SURGEWATCH_KAFKA_BOOTSTRAP=host:port")
