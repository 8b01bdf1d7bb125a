"""Topic setup: consumes Settings, produces the surgewatch topics on Kafka (idempotent)."""
from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams import kafka_clients, topics
from streams.config import Settings

log = logging.getLogger(__name__)


def admin(settings: Settings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=settings.kafka_servers, client_id=f"{settings.app_id}-admin",
                                request_timeout_ms=15000, **kafka_clients.kafka_python(settings))
    except KafkaError as exc:
        raise RuntimeError(f"cannot reach Kafka at {settings.kafka_servers} ({exc}); start the local stack with "
                           "`surgewatch stack up` or set SURGEWATCH_KAFKA_BOOTSTRAP") from exc


def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic that does not exist yet; return the names created."""
    cli = admin(settings)
    try:
        existing = set(cli.list_topics())
        wanted = []
        for spec in topics.topic_specs(settings):
            full = topics.name(settings, spec.base)
            if full in existing:
                continue
            wanted.append(NewTopic(name=full, num_partitions=spec.partitions,
                                   replication_factor=settings.topic_replication,
                                   topic_configs={"retention.ms": str(settings.topic_retention_ms),
                                                  "retention.bytes": str(settings.topic_retention_bytes)}))
        created = []
        for nt in wanted:
            try:
                cli.create_topics([nt])
                created.append(nt.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        cli.close()


def delete_consumer_group(settings: Settings, group: str) -> bool:
    """Delete a consumer group and its committed offsets (the demo's fresh start: offsets of deleted topics would
    otherwise outlive them on brokers that keep them). False when there was no such group."""
    cli = admin(settings)
    try:
        if group not in {g["group_id"] for g in cli.list_groups()}:
            return False
        cli.delete_groups([group])
        return True
    finally:
        cli.close()


def delete_topics_with_prefix(settings: Settings, prefixes: list[str]) -> list[str]:
    """Delete topics whose names start with any prefix (used by the demo to start from zero)."""
    cli = admin(settings)
    try:
        doomed = [t for t in cli.list_topics() if any(t.startswith(p) for p in prefixes)]
        if doomed:
            cli.delete_topics(doomed)
        return doomed
    finally:
        cli.close()
