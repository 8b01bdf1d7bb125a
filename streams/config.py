"""Settings: consumes SURGEWATCH_* environment variables (and .env), produces one frozen Settings object."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message says which SURGEWATCH_* variable to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SURGEWATCH_", env_file=".env", extra="ignore", frozen=True)

    # servers
    kafka_bootstrap: str = Field("", description="Kafka bootstrap servers host:port[,host:port]; empty = local stack")
    es_url: str = Field("", description="Elasticsearch URL; empty = local stack")
    es_username: str = Field("", description="Elasticsearch user (empty = no auth)")
    es_password: SecretStr = Field(SecretStr(""), description="Elasticsearch password")
    es_verify_certs: bool = Field(True, description="Verify Elasticsearch TLS certificates")
    es_api_key: SecretStr = Field(SecretStr(""), description="Elasticsearch API key (base64 'id:key' as ES returns it; "
                                  "used instead of user/password)")
    es_ca_certs: str = Field("", description="CA bundle (PEM file) that signed the Elasticsearch certificate")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol of every client (worker, sources, forwarder, CLI)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism (with SASL_PLAINTEXT / SASL_SSL)")
    kafka_sasl_username: str = Field("", description="SASL user (with SASL_PLAINTEXT / SASL_SSL)")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password (with SASL_PLAINTEXT / SASL_SSL)")
    kafka_ssl_cafile: str = Field("", description="CA bundle (PEM) for the brokers' certificates (SSL / SASL_SSL; "
                                  "empty = the system's)")
    kafka_ssl_certfile: str = Field("", description="Client certificate (PEM) for mutual TLS (SSL / SASL_SSL)")
    kafka_ssl_keyfile: str = Field("", description="Client key (PEM) for mutual TLS (SSL / SASL_SSL)")
    kibana_url: str = Field("http://localhost:5601", description="Kibana base URL used in alert links")

    # local stack
    stack_engine: Literal["noida", "jvm"] = Field("noida", description="Local stack engine: noida (noida-db, pip-only, "
                                                  "seconds to start) or jvm (real Apache Kafka + Elasticsearch from "
                                                  "Maven Central; needs java and mvn)")
    stack_dir: Path = Field(Path(".surgewatch"), description="Folder for the local stack's data, logs and pid")
    stack_cache_dir: Path = Field(Path(".surgewatch/cache"), description="Folder for the jvm engine's downloaded "
                                  "jars and Elasticsearch node (kept across runs)")
    stack_kafka_port: int = Field(19092, description="Local stack Kafka port")
    stack_es_port: int = Field(19200, description="Local stack Elasticsearch port")

    # topics and indices
    topic_prefix: str = Field("", description="Prefix for every topic name (shared clusters)")
    topic_partitions: int = Field(4, ge=1, description="Partitions of news.raw / news.enriched / news.deadletter")
    counts_partitions: int = Field(1, ge=1, le=64, description="Partitions of news.counts = spike detector lanes: "
                                   "each owns a share of the count keys (all count the overall volume), so up to "
                                   "this many workers share detection; with more than 1 an incident grouper merges "
                                   "them (news.lanes). Changing it needs fresh detector state")
    topic_replication: int = Field(1, ge=1, description="Replication factor of created topics")
    topic_retention_ms: int = Field(7 * 24 * 3600 * 1000, description="retention.ms of created topics")
    topic_retention_bytes: int = Field(256 * 1024 * 1024, description="retention.bytes per partition of created topics")
    index_prefix: str = Field("surgewatch", description="Elasticsearch index / alias prefix")

    # worker
    app_id: str = Field("surgewatch", description="Faust application id (consumer group and changelog prefix)")
    worker_data_dir: Path = Field(Path(".surgewatch/worker"), description="Faust data dir (table state)")
    web_host: str = Field("127.0.0.1", description="Faust web server bind host")
    web_port: int = Field(6066, description="Faust web server port")
    metrics_port: int = Field(9108, description="Prometheus /metrics port of the worker (0 = off)")
    metrics_host: str = Field("127.0.0.1", description="Prometheus /metrics bind host")
    stages: str = Field("enrich,index,spikes", description="Comma-separated stages this worker runs: enrich, index, "
                        "spikes (= count + detect: news.enriched -> news.counts, news.counts -> alerts)")
    enrich_batch_size: int = Field(32, ge=1, description="Items tagged per nlp.pipe batch")
    enrich_batch_seconds: float = Field(0.25, gt=0, description="Max wait to fill an enrich batch")
    index_batch_size: int = Field(200, ge=1, description="Documents per Elasticsearch bulk request")
    index_batch_seconds: float = Field(0.25, gt=0, description="Max wait to fill a bulk request")
    tagger_process: bool = Field(True, description="Run the tagger in a child process of the worker (its own core); "
                                 "false: in a thread of the worker, sharing its interpreter lock")
    spacy_model: str = Field("en_core_web_sm", description="Installed spaCy pipeline for English NER")
    taxonomy_dir: Path | None = Field(None, description="Folder with a custom taxonomy (default: the bundled one)")
    tagger_cache_dir: Path = Field(Path(".surgewatch/tagger-cache"), description="Folder for the tagger's built "
                                   "gazetteer, one file per hash of its sources, taxonomy files and package versions "
                                   "(any change rebuilds it; safe to delete)")

    # spikes
    bucket_seconds: int = Field(3600, ge=60, description="Count bucket size for spike detection (seconds)")
    allowed_lateness_seconds: int = Field(6 * 3600, ge=0, description="How late an item may arrive and still count")
    reorder_idle_seconds: float = Field(15.0, gt=0, description="The spike detector orders counts by event time "
                                        "across news.enriched partitions; a partition silent this long (wall clock) "
                                        "stops holding the others back")

    # ingestion (ingest-http)
    ingest_token: SecretStr = Field(SecretStr(""), description="Bearer token that POST /items of `ingest-http` "
                                    "requires (empty = no token, and then it binds a loopback address only)")
    ingest_max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest POST /items body in bytes "
                                       "(413 above)")
    ingest_max_items: int = Field(1000, ge=1, description="Most items in one POST /items body (413 above)")

    log_level: str = Field("INFO", description="Python logging level")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _strip_kafka(cls, v: str) -> str:
        v = v.strip()
        if v.startswith("kafka://"):
            v = v[len("kafka://"):]
        return v

    @property
    def kafka_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.stack_kafka_port}"

    @property
    def elasticsearch_url(self) -> str:
        return self.es_url or f"http://127.0.0.1:{self.stack_es_port}"

    @property
    def elasticsearch_url_shown(self) -> str:
        """The Elasticsearch URL as logs and errors may show it: user info (user:password@) and query removed."""
        parts = urlsplit(self.elasticsearch_url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @property
    def uses_local_stack(self) -> bool:
        return not self.kafka_bootstrap and not self.es_url

    @property
    def stage_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.stages.split(",") if s.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process; raise ConfigError naming the variable on a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "SURGEWATCH_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration, set:\n  " + "\n  ".join(lines)) from exc
