"""Orchestration for `surgewatch demo` / `run`: consumes Settings and an NDJSON stream, produces a running local
pipeline (stack, setup, worker subprocess, replay) and, for the demo, a summary of what each stage did."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams import kafka_clients, topics
from streams.config import ConfigError, Settings

log = logging.getLogger(__name__)

DEMO_OVERRIDES = {"topic_prefix": "demo.", "index_prefix": "surgewatch-demo", "app_id": "surgewatch-demo"}


def bundled_stream() -> Path:
    return Path(str(resources.files("streams.sample").joinpath("news.jsonl")))


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def topic_message_count(settings: Settings, base: str) -> int:
    """Messages in a topic (sum of end offsets minus beginning offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False,
                             **kafka_clients.kafka_python(settings))
    try:
        name = topics.name(settings, base)
        parts = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in parts]
        if not tps:
            return 0
        end = consumer.end_offsets(tps)
        begin = consumer.beginning_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    finally:
        consumer.close()


def group_lag(settings: Settings, base: str) -> int:
    """Messages of a topic not yet committed by the worker's consumer group (its app id)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, group_id=settings.app_id,
                             enable_auto_commit=False, **kafka_clients.kafka_python(settings))
    try:
        name = topics.name(settings, base)
        tps = [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or set())]
        if not tps:
            return 0
        end = consumer.end_offsets(tps)
        begin = consumer.beginning_offsets(tps)
        return sum(end[tp] - max(consumer.committed(tp) or begin[tp], begin[tp]) for tp in tps)
    finally:
        consumer.close()


def indexed_count(settings: Settings, kind: str = "news") -> int:
    from sinks.elasticsearch import alias, es_client
    es = es_client(settings)
    es.indices.refresh(index=alias(settings, kind))
    return int(es.count(index=alias(settings, kind))["count"])


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child worker use exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"SURGEWATCH_{name.upper()}"] = str(value)
    return env


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "surgewatch.cli", "worker"], env=worker_env(settings),
                            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def prepare(settings: Settings, reset: bool, own_namespace: bool = False) -> None:
    """Start the stack (when local), optionally wipe this namespace, then create topics and indices. On an external
    cluster only a namespace of our own (the demo's) may be wiped."""
    from sinks.elasticsearch import delete_indices, ensure_indices
    from streams.setup import delete_consumer_group, delete_topics_with_prefix, ensure_topics
    from surgewatch.stack import LocalStack
    if reset and not settings.uses_local_stack and not own_namespace:
        raise ConfigError("refusing to wipe topics and indices on an external cluster (SURGEWATCH_KAFKA_BOOTSTRAP / "
                          "SURGEWATCH_ES_URL are set): run without --reset")
    LocalStack(settings).up()
    if reset:
        # this namespace's topics by name (the prefix may be empty), the worker's changelogs, its group, indices
        delete_topics_with_prefix(settings, [topics.name(settings, spec.base) for spec in topics.topic_specs(settings)]
                                  + [settings.app_id + "-"])
        delete_consumer_group(settings, settings.app_id)
        delete_indices(settings)
        remove_worker_data(settings)
        time.sleep(1.0)
    ensure_topics(settings)
    ensure_indices(settings)


WORKER_MARKER = ".surgewatch-worker"   # every worker writes it into its data dir (surgewatch/worker.py)


def worker_data_removable(settings: Settings) -> bool:
    """A reset deletes the worker data dir only when it is inside the stack dir or holds a worker's marker file: a
    mistyped SURGEWATCH_WORKER_DATA_DIR (`~`, `/`) is never removed."""
    path = settings.worker_data_dir.resolve()
    return (not path.exists() or path.is_relative_to(settings.stack_dir.resolve())
            or (path / WORKER_MARKER).is_file())


def remove_worker_data(settings: Settings) -> None:
    if not worker_data_removable(settings):
        raise ConfigError(f"refusing to delete SURGEWATCH_WORKER_DATA_DIR={settings.worker_data_dir}: it is outside "
                          f"the stack dir and holds no {WORKER_MARKER} file; point it at a worker's data dir")
    shutil.rmtree(settings.worker_data_dir, ignore_errors=True)


COUNTS_LAG_SLACK = 5    # wake-up ticks the worker sends to news.counts and may not have committed yet


def demo_settings(base: Settings) -> Settings:
    """The demo's own namespace (topics demo.*, indices surgewatch-demo-*), wiped at each demo start."""
    return base.model_copy(update={**DEMO_OVERRIDES, "worker_data_dir": base.stack_dir / "demo-worker"})


def wait_for_pipeline(settings: Settings, items_in: int, timeout: float, t0: float,
                      proc: subprocess.Popen[bytes] | None = None, quiet_seconds: float = 10.0) -> dict[str, Any]:
    """Poll the sinks until indexed + dead-lettered covers every input, the spike detector has committed (almost)
    all of news.counts (it holds events until every partition has passed them) and nothing changed for
    `quiet_seconds`."""
    last_change, last_seen = time.monotonic(), None
    out: dict[str, Any] = {}
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            out["error"] = f"worker exited with {proc.returncode}"
            break
        now = (indexed_count(settings), topic_message_count(settings, topics.DEADLETTER),
               topic_message_count(settings, topics.ALERTS), topic_message_count(settings, topics.ENRICHED))
        if now != last_seen:
            last_seen, last_change = now, time.monotonic()
            log.info("progress: indexed=%d dead_lettered=%d alerts=%d enriched=%d of %d", now[0], now[1],
                     now[2], now[3], items_in)
        if now[0] + now[1] >= items_in and time.monotonic() - last_change > quiet_seconds:
            lag = group_lag(settings, topics.COUNTS)
            if lag <= COUNTS_LAG_SLACK:
                break
            log.info("progress: spike detector has %d count events to go", lag)
        time.sleep(1)
    indexed, dead, alerts, enriched = last_seen or (0, 0, 0, 0)
    out.update(indexed=indexed, dead_lettered=dead, alerts=alerts, enriched=enriched)
    return out


def run_demo(settings: Settings, stream: str | None, timeout: float) -> tuple[dict[str, Any], bool]:
    """Wipe the namespace, start a worker, replay the stream as fast as possible, wait, stop; summary + ok flag."""
    from streams.sources.producer import RawProducer
    from streams.sources.replay import replay
    path = Path(stream) if stream else bundled_stream()
    items_in = count_lines(path)
    t0 = time.monotonic()
    prepare(settings, reset=True, own_namespace=True)
    proc = start_worker(settings, settings.stack_dir / f"{settings.app_id}-worker.log")
    summary: dict[str, Any] = {"items_in": items_in}
    try:
        producer = RawProducer(settings)
        try:
            stats = replay(path, producer, 0)
        finally:
            producer.close()
        summary["sent"] = stats.sent + stats.invalid
        summary.update(wait_for_pipeline(settings, items_in, timeout, t0, proc))
        summary.update(alert_episodes=_episodes(settings), seconds=round(time.monotonic() - t0, 1))
    finally:
        stop_process(proc)
    ok = (summary.get("indexed", 0) + summary.get("dead_lettered", 0) == items_in and summary.get("alerts", 0) >= 1
          and summary.get("enriched", 0) >= 1 and "error" not in summary)
    return summary, ok


def _episodes(settings: Settings) -> int:
    from streams.subscribe import tail_alerts
    return len({a.alert_id for a in tail_alerts(settings, from_beginning=True, follow=False, idle_ms=2000)})


def run_forever(settings: Settings, stream: str | None, speedup: float, reset: bool = False) -> None:
    from streams.sources.producer import RawProducer
    from streams.sources.replay import replay
    from streams.subscribe import print_alert, tail_alerts
    path = Path(stream) if stream else bundled_stream()
    prepare(settings, reset=reset)
    procs = [start_worker(settings, settings.stack_dir / "worker.log")]
    prom = start_local_prometheus(settings)
    if prom is not None:
        procs.append(prom)
    print(f"worker metrics: http://{settings.metrics_host}:{settings.metrics_port}/metrics  "
          f"(log: {settings.stack_dir}/worker.log)", flush=True)
    if prom is not None:
        print("prometheus: http://127.0.0.1:9090  (scraping the worker)", flush=True)
    print(f"replaying {path} ... alerts appear below as they fire; Ctrl-C stops everything", flush=True)

    def feed() -> None:
        producer = RawProducer(settings)
        try:
            st = replay(path, producer, speedup)
            print(f"replay done: {st.sent} sent, {st.invalid} invalid (dead-lettered)", flush=True)
        finally:
            producer.close()

    threading.Thread(target=feed, daemon=True).start()
    try:
        for alert in tail_alerts(settings, from_beginning=False, follow=True):
            print_alert(alert)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            stop_process(p)
        if settings.uses_local_stack:
            print(f"stopped the worker; the local stack ({settings.stack_engine}) keeps running with its data, so the "
                  "next run starts fast: `surgewatch stack down` (or `make stack-down`) stops it", flush=True)


def start_local_prometheus(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start Debian's prometheus scraping the local worker, when installed and the port is free."""
    from surgewatch.stack import port_open
    binary = shutil.which("prometheus")
    config = Path("deploy/prometheus/prometheus-local.yml")
    if not binary or not config.exists() or port_open("127.0.0.1", 9090):
        return None
    data = settings.stack_dir / "prometheus"
    data.mkdir(parents=True, exist_ok=True)
    fh = open(settings.stack_dir / "prometheus.log", "ab")
    return subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
                             "--web.listen-address=127.0.0.1:9090"], stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)
