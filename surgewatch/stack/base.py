"""Local stack contract: consumes server URLs, produces readiness probes, StackStatus and StackError (one-line,
actionable failures) shared by every engine."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


class StackError(RuntimeError):
    """The local stack cannot be started or reached; the message says what to do."""


@dataclass(frozen=True)
class StackStatus:
    managed: bool          # True when surgewatch manages local servers (no external servers configured)
    engine: str            # "noida", "jvm" or "external"
    kafka: str
    elasticsearch: str
    kafka_ok: bool
    es_ok: bool
    versions: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.kafka_ok and self.es_ok

    def line(self) -> str:
        versions = " ".join(f"{k}={v}" for k, v in sorted(self.versions.items()))
        pids = " ".join(f"{k}_pid={v}" for k, v in sorted(self.pids.items()))
        return (f"engine={self.engine} managed={self.managed} kafka {self.kafka} ok={self.kafka_ok}  "
                f"elasticsearch {self.elasticsearch} ok={self.es_ok}  {versions} {pids}").rstrip()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hostport(servers: str) -> tuple[str, int]:
    first = servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port or 9092)


def _get_json(url: str, timeout: float) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def es_healthy(url: str, timeout: float = 2.0) -> bool:
    """Elasticsearch answers `_cluster/health` with status yellow or green."""
    body = _get_json(url.rstrip("/") + "/_cluster/health", timeout)
    return bool(body) and body.get("status") in ("yellow", "green")


def es_version(url: str, timeout: float = 2.0) -> str:
    """The version of the node answering (from `_nodes/_local`), or '' when it does not say."""
    body = _get_json(url.rstrip("/") + "/_nodes/_local", timeout) or {}
    for node in (body.get("nodes") or {}).values():
        if isinstance(node, dict) and node.get("version"):
            return str(node["version"])
    return ""


def kafka_ready(servers: str, timeout: float = 3.0, options: dict[str, Any] | None = None) -> bool:
    """A Kafka metadata call succeeds and names at least one broker (`options`: the clients' security settings)."""
    host, port = hostport(servers)
    if not port_open(host, port):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError
    try:
        admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=int(timeout * 1000),
                                 client_id="surgewatch-stack", **(options or {}))
    except (KafkaError, OSError, ValueError):
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        admin.close()
