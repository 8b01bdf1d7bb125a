"""Raw producer: consumes validated NewsItems or unparsed input bytes, produces Kafka records on news.raw."""
from __future__ import annotations

import logging
import socket
from typing import Optional, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams import topics
from streams.config import Settings
from streams.metrics import Metrics
from streams.records import NewsItem

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
        self.sent = 0
        self.failed = 0
        self._last_error: Optional[BaseException] = None
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
        """Send input bytes unchanged (e.g. a line that failed validation) for the enrich stage to dead-letter."""
        self._send(payload, key)

    def _send(self, value: bytes, key: Optional[bytes]) -> None:
        try:
            future = self._producer.send(self.topic, value=value, key=key)
        except KafkaError as exc:
            raise SourceError(f"cannot send to {self.topic} on {self.settings.kafka_servers}: {exc}; "
                              f"check SURGEWATCH_KAFKA_BOOTSTRAP and that the topic exists (`surgewatch setup` creates it)") from exc
        future.add_errback(self._on_error)
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
        self.failed += 1
        self._last_error = exc
        log.error("record not delivered to %s: %s", self.topic, exc)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Block until every sent record is acknowledged (acks=all); raise SourceError if any was not."""
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise SourceError(f"Kafka did not acknowledge records on {self.topic}: {exc}") from exc
        if self.failed:
            raise SourceError(f"{self.failed} record(s) not delivered to {self.topic} on "
                              f"{self.settings.kafka_servers}: {self._last_error}")

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
