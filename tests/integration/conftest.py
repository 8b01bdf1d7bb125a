"""Integration fixtures: real servers for the wire-protocol tests -- the local stack of SURGEWATCH_STACK_ENGINE (jvm:
real Apache Kafka + Elasticsearch; noida: the noida-db stand-in) or the servers named by SURGEWATCH_KAFKA_BOOTSTRAP /
SURGEWATCH_ES_URL; every test gets unique topic / group / index names."""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from streams.config import Settings
from surgewatch.stack import LocalStack, StackStatus

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".surgewatch" / "cache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _external() -> bool:
    return bool(os.environ.get("SURGEWATCH_KAFKA_BOOTSTRAP") or os.environ.get("SURGEWATCH_ES_URL"))


def local_settings(engine: str | None = None) -> Settings:
    """A fresh local stack of `engine` (default: SURGEWATCH_STACK_ENGINE) on free ports under .surgewatch/test-*."""
    base = Settings(_env_file=None, stack_dir=ROOT / ".surgewatch" / f"test-{uuid.uuid4().hex[:6]}",
                    stack_cache_dir=CACHE, stack_kafka_port=free_port(), stack_es_port=free_port())
    return base.model_copy(update={"stack_engine": engine}) if engine else base


_SEEN: list[StackStatus] = []


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """Session-wide servers, started once and stopped at the end (local), or checked (external)."""
    settings = Settings(_env_file=None) if _external() else local_settings()
    st = LocalStack(settings)
    _SEEN.append(st.up())
    try:
        yield settings
    finally:
        if not _external():
            st.down()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for st in _SEEN:
        terminalreporter.write_line(f"integration servers used: {st.line()}")


@pytest.fixture
def ns(stack: Settings, tmp_path: Path) -> Settings:
    """Settings with a unique namespace: topic prefix, app id (consumer group), index prefix, ports, data dir."""
    tag = uuid.uuid4().hex[:8]
    return stack.model_copy(update={
        "topic_prefix": f"t{tag}.", "app_id": f"sw-{tag}", "index_prefix": f"sw-{tag}",
        "worker_data_dir": tmp_path / "worker", "web_port": free_port(), "metrics_port": free_port(),
        "enrich_batch_seconds": 0.2, "index_batch_seconds": 0.2,
    })
