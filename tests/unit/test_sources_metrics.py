"""Ingest commands export their metrics: consumes the ingest CLI's producer factory, produces a /metrics endpoint
with the producer's counters (and an ingest that still runs when the port is taken)."""
from __future__ import annotations

import socket
import urllib.request

import pytest

from streams import config
from streams.sources import cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _FakeProducer:
    def __init__(self, settings: object, *, metrics: object) -> None:
        self.metrics = metrics


def test_the_ingest_producer_serves_its_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    monkeypatch.setenv("SURGEWATCH_METRICS_PORT", str(port))
    config.get_settings.cache_clear()
    monkeypatch.setattr(cli, "RawProducer", _FakeProducer)
    try:
        producer = cli._producer()
        producer.metrics.items_out.labels(stage="ingest").inc(3)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'surgewatch_items_out_total{stage="ingest"}' in body
        with socket.socket() as taken:          # a second producer on a taken port still starts
            taken.bind(("127.0.0.1", 0))
            monkeypatch.setenv("SURGEWATCH_METRICS_PORT", str(taken.getsockname()[1]))
            taken.listen()
            config.get_settings.cache_clear()
            assert cli._producer() is not None
    finally:
        config.get_settings.cache_clear()
