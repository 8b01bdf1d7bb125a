"""Integration fixtures: a real local stack (noida-db: Kafka + Elasticsearch wire protocols) or the servers named by
SURGEWATCH_KAFKA_BOOTSTRAP / SURGEWATCH_ES_URL; every test gets unique topic / group / index names."""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from streams.config import Settings
from streams.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """Session-wide servers. Local: a fresh noida-db on free ports under .surgewatch/test, stopped at the end."""
    external = bool(os.environ.get("SURGEWATCH_KAFKA_BOOTSTRAP") or os.environ.get("SURGEWATCH_ES_URL"))
    if external:
        settings = Settings(_env_file=None)
        LocalStack(settings).up()
        yield settings
        return
    settings = Settings(_env_file=None, stack_dir=ROOT / ".surgewatch" / f"test-{uuid.uuid4().hex[:6]}",
                        stack_kafka_port=free_port(), stack_es_port=free_port())
    st = LocalStack(settings)
    st.up()
    try:
        yield settings
    finally:
        st.down()


@pytest.fixture
def ns(stack: Settings, tmp_path: Path) -> Settings:
    """Settings with a unique namespace: topic prefix, app id (consumer group), index prefix, ports, data dir."""
    tag = uuid.uuid4().hex[:8]
    return stack.model_copy(update={
        "topic_prefix": f"t{tag}.", "app_id": f"sw-{tag}", "index_prefix": f"sw-{tag}",
        "worker_data_dir": tmp_path / "worker", "web_port": free_port(), "metrics_port": free_port(),
        "enrich_batch_seconds": 0.2, "index_batch_seconds": 0.2,
    })
