"""Local stack manager: starts/stops/health-checks a noida-db server (Kafka + Elasticsearch wire protocols)."""
from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from streams.config import Settings

log = logging.getLogger(__name__)

NOIDA_VERSION = "0.2.3"


class StackError(RuntimeError):
    """The local stack cannot be started or reached; the message says what to do."""


@dataclass(frozen=True)
class StackStatus:
    managed: bool          # True when surgewatch manages a local noida-db (no external servers configured)
    kafka: str
    elasticsearch: str
    kafka_ok: bool
    es_ok: bool

    @property
    def healthy(self) -> bool:
        return self.kafka_ok and self.es_ok


def _binary() -> str:
    here = Path(sys.executable).parent / "noida-db"
    if here.exists():
        return str(here)
    found = shutil.which("noida-db")
    if found:
        return found
    raise StackError(f"noida-db is not installed: run `make install` (or `pip install noida-db=={NOIDA_VERSION}`), "
                     "or point SURGEWATCH_KAFKA_BOOTSTRAP / SURGEWATCH_ES_URL at running servers")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def es_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as resp:
            body = json.loads(resp.read().decode("utf-8"))
            return isinstance(body, dict) and "version" in body
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _hostport(servers: str) -> tuple[str, int]:
    first = servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port or 9092)


class LocalStack:
    """noida-db under settings.stack_dir; does nothing when external servers are configured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = (settings.stack_dir / "noida").resolve()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [_binary(), *args, "--data-dir", str(self.data_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise StackError(f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def _running(self) -> bool:
        proc = self._run("status", check=False)
        out = proc.stdout.lower()
        return proc.returncode == 0 and "kafka" in out and "not running" not in out and "isn't running" not in out

    def status(self) -> StackStatus:
        s = self.settings
        host, port = _hostport(s.kafka_servers)
        return StackStatus(managed=s.uses_local_stack, kafka=s.kafka_servers, elasticsearch=s.elasticsearch_url,
                           kafka_ok=port_open(host, port), es_ok=es_healthy(s.elasticsearch_url))

    def up(self, timeout: float = 30.0) -> StackStatus:
        s = self.settings
        if not s.uses_local_stack:
            st = self.status()
            if not st.healthy:
                raise StackError(f"external servers not reachable: kafka {st.kafka} ok={st.kafka_ok}, "
                                 f"elasticsearch {st.elasticsearch} ok={st.es_ok}; check SURGEWATCH_KAFKA_BOOTSTRAP / "
                                 "SURGEWATCH_ES_URL")
            return st
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._running():
            # noida-db never evicts a consumer that was SIGKILLed: restart Kafka so stale members are gone.
            log.info("local stack already running; restarting kafka to drop stale group members")
            self._run("restart", "kafka")
        else:
            for port, what in ((s.stack_kafka_port, "SURGEWATCH_STACK_KAFKA_PORT"),
                               (s.stack_es_port, "SURGEWATCH_STACK_ES_PORT")):
                if port_open("127.0.0.1", port):
                    raise StackError(f"port {port} is already taken by another program: stop it or set {what}")
            self._run("up", "--only", "kafka,elasticsearch", "--host", "127.0.0.1",
                      "--kafka-port", str(s.stack_kafka_port), "--elasticsearch-port", str(s.stack_es_port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st.healthy:
                return st
            time.sleep(0.2)
        raise StackError(f"local stack did not become healthy within {timeout:.0f}s; see {self.data_dir}/noida.log")

    def down(self) -> None:
        if self.settings.uses_local_stack and self.data_dir.exists():
            self._run("down", check=False)
