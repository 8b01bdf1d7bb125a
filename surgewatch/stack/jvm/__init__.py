"""The jvm engine: consumes Settings (ports, stack and cache folders), produces a real Apache Kafka (KRaft) and a
real Elasticsearch 8 node from Maven Central as child processes, their readiness, status, stop and fault hooks."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from streams.config import Settings
from surgewatch.stack.base import StackError, StackStatus, es_healthy, kafka_ready, port_open
from surgewatch.stack.jvm import maven
from surgewatch.stack.jvm.elasticsearch import ElasticsearchNode, reachable_by_others
from surgewatch.stack.jvm.kafka import KafkaNode

log = logging.getLogger(__name__)


def _java_home(java: str) -> str:
    return str(Path(os.path.realpath(java)).parent.parent)


class JvmEngine:
    name = "jvm"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conf = maven.engine_config()
        self.run_dir = (settings.stack_dir / "jvm").resolve()
        self.cache = settings.stack_cache_dir.resolve()

    def kafka(self) -> KafkaNode:
        java, _ = maven.require_tools()
        version = self.conf["kafka"]["version"]
        libs = self.cache / f"kafka-{version}" / "libs"
        return KafkaNode(self.run_dir / "kafka", libs, self.settings.stack_kafka_port,
                         self.conf["kafka"]["heap_mb"], java)

    def _es_places(self) -> tuple[Path, Path]:
        """(cache, run folder) of Elasticsearch. Started as root, it runs as a dedicated user, who must be able to
        reach both: when a parent folder is private (a checkout under a 0700 folder), both move to a folder of their
        own in the system temp dir, and the stack dir links to it."""
        run = self.run_dir / "elasticsearch"
        if os.geteuid() != 0 or (reachable_by_others(self.cache) and reachable_by_others(self.run_dir)):
            return self.cache, run
        tag = hashlib.sha1(str(self.run_dir).encode()).hexdigest()[:10]
        base = Path(tempfile.gettempdir()) / f"surgewatch-es-{tag}"
        base.mkdir(mode=0o755, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not run.is_symlink():
            shutil.rmtree(run, ignore_errors=True)
            run.symlink_to(base / "run", target_is_directory=True)
        return base / "cache", base / "run"

    def elasticsearch(self) -> ElasticsearchNode:
        java, _ = maven.require_tools()
        es = self.conf["elasticsearch"]
        cache, run = self._es_places()
        return ElasticsearchNode(run, cache / f"elasticsearch-{es['version']}", self.settings.stack_es_port,
                                 es["heap_mb"], _java_home(java), es["user"])

    def fetch(self) -> None:
        """Resolve the jars and the node from Maven Central into the cache (a no-op once there)."""
        maven.require_tools()
        maven.kafka_libs(self.cache, self.conf["kafka"]["version"])
        es = self.conf["elasticsearch"]
        maven.elasticsearch_home(self._es_places()[0], es["version"], es["lucene_version"])

    def versions(self) -> dict[str, str]:
        return {"kafka": self.conf["kafka"]["version"], "elasticsearch": self.conf["elasticsearch"]["version"]}

    def status(self) -> StackStatus:
        kafka, es = self.kafka(), self.elasticsearch()
        pids = {k: v for k, v in (("kafka", kafka.pid()), ("elasticsearch", es.pid())) if v}
        return StackStatus(managed=True, engine=self.name, kafka=kafka.bootstrap, elasticsearch=es.url,
                           kafka_ok=kafka_ready(kafka.bootstrap), es_ok=es_healthy(es.url),
                           versions=self.versions(), pids=pids)

    def up(self, timeout: float | None = None) -> StackStatus:
        timeout = timeout or float(self.conf["startup_timeout_seconds"])
        self.fetch()
        kafka, es = self.kafka(), self.elasticsearch()
        for node, port, var in ((kafka, kafka.port, "SURGEWATCH_STACK_KAFKA_PORT"),
                                (es, es.port, "SURGEWATCH_STACK_ES_PORT")):
            if node.pid() is None:
                if port_open("127.0.0.1", port):
                    raise StackError(f"port {port} is already taken by another program: stop it or set {var}")
                log.info("starting %s on 127.0.0.1:%d", type(node).__name__, port)
                node.start()
        return self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> StackStatus:
        deadline = time.monotonic() + timeout
        st = self.status()
        while not st.healthy and time.monotonic() < deadline:
            for name, node in (("kafka", self.kafka()), ("elasticsearch", self.elasticsearch())):
                if node.pid() is None:
                    raise StackError(f"{name} exited while starting: see {node.log_file} and {node.dir}")
            time.sleep(0.5)
            st = self.status()
        if not st.healthy:
            raise StackError(f"jvm stack not healthy within {timeout:.0f}s (kafka ok={st.kafka_ok}, elasticsearch "
                             f"ok={st.es_ok}): see the logs under {self.run_dir}")
        return st

    def down(self) -> None:
        for node in (self.kafka(), self.elasticsearch()):
            if node.stop():
                log.info("stopped %s", type(node).__name__)

    def wipe(self) -> None:
        """Stop and delete the servers' data (the download cache is kept)."""
        self.down()
        run = self.run_dir / "elasticsearch"
        if run.is_symlink():
            shutil.rmtree(run.resolve(), ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
