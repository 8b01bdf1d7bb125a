"""The noida engine: consumes Settings, produces a local noida-db (one binary serving the Kafka protocol and the
Elasticsearch REST API), its readiness and status; pip-only, seconds to start."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from streams.config import Settings
from surgewatch.stack.base import StackError, StackStatus, es_healthy, es_version, hostport, port_open

log = logging.getLogger(__name__)

NOIDA_VERSION = "0.2.3"
RESTART_ATTEMPTS = 5


def _binary() -> str:
    here = Path(sys.executable).parent / "noida-db"
    if here.exists():
        return str(here)
    found = shutil.which("noida-db")
    if found:
        return found
    raise StackError(f"noida-db is not installed: run `make install` (or `pip install noida-db=={NOIDA_VERSION}`), "
                     "or point SURGEWATCH_KAFKA_BOOTSTRAP / SURGEWATCH_ES_URL at running servers")


class NoidaEngine:
    name = "noida"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = (settings.stack_dir / "noida").resolve()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [_binary(), *args, "--data-dir", str(self.data_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
            raise StackError(f"`noida-db {' '.join(args)}` failed ({proc.returncode}): {msg[0]}")
        return proc

    def _running(self) -> bool:
        proc = self._run("status", check=False)
        out = proc.stdout.lower()
        return proc.returncode == 0 and "kafka" in out and "not running" not in out and "isn't running" not in out

    def status(self) -> StackStatus:
        s = self.settings
        host, port = hostport(s.kafka_servers)
        es_ok = es_healthy(s.elasticsearch_url)
        versions = {"noida-db": NOIDA_VERSION}
        if es_ok and (v := es_version(s.elasticsearch_url)):
            versions["elasticsearch-api"] = v
        return StackStatus(managed=True, engine=self.name, kafka=s.kafka_servers,
                           elasticsearch=s.elasticsearch_url_shown,
                           kafka_ok=port_open(host, port), es_ok=es_ok, versions=versions)

    def _restart_kafka(self) -> None:
        """noida-db never evicts a consumer that was SIGKILLed: restart its Kafka so stale members are gone. The
        restart can fail while the previous process still holds its lock (os error 11): retry, then say so."""
        for attempt in range(RESTART_ATTEMPTS):
            proc = self._run("restart", "kafka", check=False)
            if proc.returncode == 0:
                return
            time.sleep(1.0 + attempt)
        msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise StackError(f"noida-db could not restart its Kafka ({msg[0]}): run `surgewatch stack down` and retry")

    def up(self, timeout: float = 30.0) -> StackStatus:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._running():
            log.info("local stack already running; restarting kafka to drop stale group members")
            self._restart_kafka()
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
        if self.data_dir.exists():
            self._run("down", check=False)
