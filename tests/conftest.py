"""Suite-wide pytest hooks: consumes the environment, produces the report header naming the integration servers
(engine and versions) every test log starts with."""
from __future__ import annotations

import os

import pytest

from streams.config import Settings


def _external() -> bool:
    return bool(os.environ.get("SURGEWATCH_KAFKA_BOOTSTRAP") or os.environ.get("SURGEWATCH_ES_URL"))


def pytest_report_header(config: pytest.Config) -> str:
    if _external():
        return "integration servers: external (SURGEWATCH_KAFKA_BOOTSTRAP / SURGEWATCH_ES_URL)"
    engine = Settings(_env_file=None).stack_engine
    if engine == "jvm":
        from surgewatch.stack.jvm import maven
        conf = maven.engine_config()
        return (f"integration stack engine: jvm (Apache Kafka {conf['kafka']['version']}, Elasticsearch "
                f"{conf['elasticsearch']['version']})")
    from surgewatch.stack.noida import NOIDA_VERSION
    return f"integration stack engine: noida (noida-db {NOIDA_VERSION}, a stand-in)"
