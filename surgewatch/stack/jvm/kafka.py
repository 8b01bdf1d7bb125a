"""The jvm engine's Kafka: consumes the broker jars and a port, produces one KRaft node (combined broker and
controller, single-node replication settings, bounded heap) whose data, log and pid live in its run folder."""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from surgewatch.stack import processes
from surgewatch.stack.base import StackError

MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"

SINGLE_NODE = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "10",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "true",
    "num.partitions": "1",
    "log.retention.check.interval.ms": "60000",
}

LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SCRAM = "SCRAM-SHA-512"


class KafkaNode:
    """`sasl_port` and `scram_users` (name -> password) add a SASL_PLAINTEXT listener with SCRAM-SHA-512 users, made
    when the storage is formatted: the shape of a secured cluster, for the clients' security settings."""

    def __init__(self, run_dir: Path, libs: Path, port: int, heap_mb: int, java: str, sasl_port: int | None = None,
                 scram_users: dict[str, str] | None = None) -> None:
        self.dir, self.libs, self.port, self.heap_mb, self.java = run_dir.resolve(), libs, port, heap_mb, java
        self.sasl_port, self.scram_users = sasl_port, dict(scram_users or {})
        self.properties = self.dir / "server.properties"
        self.pid_file = self.dir / "kafka.pid"
        self.log_file = self.dir / "kafka.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return processes.read_pid(self.pid_file)

    def _classpath(self) -> str:
        return str(self.libs / "*")

    def _configure(self) -> None:
        """Write server.properties once (the controller port is picked then and kept); rewrite the client port."""
        old = dict(line.split("=", 1) for line in self.properties.read_text().splitlines()
                   if "=" in line) if self.properties.exists() else {}
        cport = old.get("controller.quorum.voters", "").rpartition(":")[2] or str(free_port())
        conf = {**SINGLE_NODE, "log.dirs": str(self.dir / "data"),
                "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{cport}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
                "controller.quorum.voters": f"1@127.0.0.1:{cport}", **self._sasl_listener(cport)}
        self.dir.mkdir(parents=True, exist_ok=True)
        self.properties.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        (self.dir / "log4j.properties").write_text(LOG4J.format(log=self.dir / "server.log"))

    def _sasl_listener(self, cport: str) -> dict[str, str]:
        if self.sasl_port is None:
            return {}
        return {"listeners": f"PLAINTEXT://127.0.0.1:{self.port},SASL_PLAINTEXT://127.0.0.1:{self.sasl_port},"
                             f"CONTROLLER://127.0.0.1:{cport}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                                        f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                                                  "CONTROLLER:PLAINTEXT",
                "sasl.enabled.mechanisms": SCRAM,
                f"listener.name.sasl_plaintext.{SCRAM.lower()}.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"}

    def _format(self) -> None:
        if (self.dir / "data" / "meta.properties").exists():
            return
        base = [self.java, f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}", "-cp", self._classpath()]
        cluster_id = subprocess.run([*base, STORAGE_TOOL, "random-uuid"], capture_output=True, text=True,
                                    timeout=120).stdout.strip()
        users = [arg for name, password in self.scram_users.items()
                 for arg in ("--add-scram", f"{SCRAM}=[name={name},password={password}]")]
        proc = subprocess.run([*base, STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(self.properties), *users],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or not cluster_id:
            out = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
            cause = next((ln for ln in out if "Exception" in ln or "Error" in ln), out[-1])   # not the stack trace
            raise StackError(f"Kafka storage format failed: {cause.strip()[:300]}")

    def start(self) -> int:
        self._configure()
        self._format()
        cmd = [self.java, f"-Xms{self.heap_mb // 2}m", f"-Xmx{self.heap_mb}m", "-XX:+UseG1GC",
               "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
               f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}", f"-Dkafka.logs.dir={self.dir}",
               "-cp", self._classpath(), MAIN, str(self.properties)]
        return processes.start(cmd, self.pid_file, self.log_file)

    def stop(self) -> bool:
        return processes.stop(self.pid_file, grace=30.0)

    def kill(self) -> bool:
        return processes.kill(self.pid_file)
