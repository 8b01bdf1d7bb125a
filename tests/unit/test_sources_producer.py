"""Raw producer: key/value encoding (pure) and the one-line error when no broker answers (closed loopback port)."""
from __future__ import annotations

import socket

import pytest

from streams.config import Settings
from streams.records import NewsItem
from streams.records import DeadLetter
from streams.sources.producer import (DeliveryErrors, RawProducer, SourceError, item_key, item_value,
                                      oversize_dead_letter, unreachable_message)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_item_key_and_value_round_trip() -> None:
    item = NewsItem.from_payload({"title": "t", "text": "x", "published_at": "2023-11-08T10:00:00+03:00",
                                  "url": "https://a.example/1"})
    assert item_key(item) == item.id.encode()  # type: ignore[union-attr]
    back = NewsItem.loads(item_value(item))
    assert back == item and back.published_at == "2023-11-08T07:00:00Z"


def test_unreachable_message_names_the_variable() -> None:
    explicit = unreachable_message(Settings(_env_file=None, kafka_bootstrap="kafka.internal:9092"))
    assert "kafka.internal:9092" in explicit and "SURGEWATCH_KAFKA_BOOTSTRAP" in explicit and "\n" not in explicit
    local = unreachable_message(Settings(_env_file=None, kafka_bootstrap="", stack_kafka_port=19999))
    assert "127.0.0.1:19999" in local and "SURGEWATCH_KAFKA_BOOTSTRAP" in local


def test_no_broker_raises_source_error() -> None:
    settings = Settings(_env_file=None, kafka_bootstrap=f"127.0.0.1:{closed_port()}")
    with pytest.raises(SourceError, match="SURGEWATCH_KAFKA_BOOTSTRAP"):
        RawProducer(settings, bootstrap_timeout_ms=1000)


def test_delivery_errors_are_reported_once_then_reset() -> None:
    """A transient broker error fails one flush; the next batch is judged on its own (the failed flag resets)."""
    errors = DeliveryErrors()
    assert errors.take() == (0, None)
    boom = TimeoutError("broker went away")
    errors.record(boom)
    errors.record(boom)
    assert errors.take() == (2, boom)
    assert errors.take() == (0, None)            # reset: the next flush succeeds when its records were delivered
    assert errors.total == 2


def test_input_too_big_for_a_message_becomes_an_ingest_dead_letter() -> None:
    assert oversize_dead_letter(b'{"title": "t"}') is None
    dl = DeadLetter.loads(oversize_dead_letter(b"x" * (10 * 1024 * 1024)))  # type: ignore[arg-type]
    assert (dl.stage, dl.reason) == ("ingest", "too_large")
    assert "10485760 bytes" in dl.error and len(dl.payload) == 128 * 1024
