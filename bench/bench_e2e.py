"""End-to-end benchmark on the jvm engine (real Kafka + Elasticsearch): consumes at least 20,000 real-length articles
(../shared's Reuters dev, repeated with fresh ids; else the bundled stream repeated), produces items/s end to end with
1 and 2 workers, the tagger alone on the same items, ingest -> searchable and item -> alert latency at half load,
worker RSS and the CPU share of broker, Elasticsearch and workers; a table and bench/results.json."""
from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kafka import KafkaProducer

from streams import topics
from streams.config import Settings
from surgewatch.runner import bundled_stream, group_lag, indexed_count, prepare, start_worker, stop_process

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED", ROOT.parent / "shared"))
REUTERS = SHARED / "corpora" / "reuters21578" / "dev.jsonl"
RESULTS = ROOT / "bench" / "results.json"
MIN_ITEMS = int(os.environ.get("SURGEWATCH_BENCH_ITEMS", "20000"))
LATENCY_SECONDS = 60.0
FLOORS = {"e2e_1w_vs_tagger": 0.8, "e2e_2w_vs_1w": 1.5, "detector_stream_vs_in_process": 0.5,
          "p99_searchable_s": 2.0, "p99_alert_s": 1.0, "worker_rss_mb": 600.0}


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reuters_base() -> list[dict[str, Any]]:
    out = []
    for line in REUTERS.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        text = f"{r.get('dateline') or ''} {r.get('body') or ''}".strip()
        out.append({"title": r["title"] or text[:80], "text": text, "published_at": r["date"] + "Z",
                    "source": "reuters"})
    return out


def _bundled_base() -> list[dict[str, Any]]:
    from processors.enrich.pipeline import parse_news_item
    from streams.records import InvalidItem
    out = []
    for line in bundled_stream().read_bytes().splitlines():
        try:
            item = parse_news_item(line)
        except InvalidItem:
            continue
        out.append({"title": item.title, "text": item.text, "published_at": item.published_at,
                    "source": item.source})
    return out


def bench_items(n: int) -> tuple[list[bytes], str]:
    """At least n NewsItems (JSON lines) with fresh ids; every repetition of the base is its own story set."""
    base, name = (_reuters_base(), "reuters-dev") if REUTERS.exists() else (_bundled_base(), "bundled")
    lines, rep = [], 0
    while len(lines) < n:
        for i, d in enumerate(base):
            lines.append(json.dumps({**d, "id": f"b{rep}-{i}", "url": f"https://bench.example/{rep}/{i}"}).encode())
        rep += 1
    return lines[:n], name


def tagger_rate(lines: list[bytes]) -> float:
    """The enrich stage's real work alone, in this process: validate + tag in batches of the stage's size."""
    from processors.enrich.pipeline import parse_news_item
    from processors.enrich.tagging import Tagger
    tagger = Tagger.load()
    items = [parse_news_item(line) for line in lines]
    batch = Settings(_env_file=None).enrich_batch_size
    t0 = time.perf_counter()
    for i in range(0, len(items), batch):
        tagger.tag_batch(items[i:i + batch])
    return len(items) / (time.perf_counter() - t0)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of every live process in its process group (the stack starts each server in
    a session of its own; Elasticsearch's server is a child of its launcher)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            f = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(entry.name) == pid or int(f[2]) == pid:
            total += (int(f[11]) + int(f[12])) / tick
    return total


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _rss_mb(pid: int) -> float:
    """Peak RSS of a worker: its own plus its children's (the tagger process)."""
    return _hwm_mb(pid) + sum(_hwm_mb(c) for c in _children(pid))


@dataclass
class Run:
    items_per_s: float
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    namespace: Any = field(default=None, repr=False)


def _produce(settings: Settings, lines: list[bytes], rate: float | None = None,
             sent_at: dict[str, float] | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all", linger_ms=5,
                             batch_size=256 * 1024)
    topic = topics.name(settings, topics.RAW)
    t0 = time.monotonic()
    for n, line in enumerate(lines):
        if rate:
            delay = t0 + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        key = json.loads(line)["id"].encode()
        producer.send(topic, line, key=key)
        if sent_at is not None:
            sent_at[key.decode()] = time.time()
    producer.flush()
    producer.close()


def _namespace(base: Settings) -> Settings:
    tag = uuid.uuid4().hex[:6]
    return base.model_copy(update={"topic_prefix": f"bench{tag}.", "app_id": f"bench-{tag}",
                                   "index_prefix": f"bench-{tag}", "worker_data_dir": base.stack_dir / f"w-{tag}",
                                   "log_level": "INFO"})


def _workers(settings: Settings, n: int) -> list[Any]:
    procs = []
    for i in range(n):
        s = settings.model_copy(update={"web_port": settings.web_port + i, "metrics_port": 0,
                                        "worker_data_dir": settings.worker_data_dir / str(i)})
        procs.append(start_worker(s, settings.stack_dir / f"{settings.app_id}-{i}.log"))
    return procs


def _wait_ready(settings: Settings, procs: list[Any], timeout: float = 300.0, tagger: bool = True) -> None:
    """Every worker log says its agents started and its tagger is loaded (the enrich agent loads it when it starts)."""
    logs = [settings.stack_dir / f"{settings.app_id}-{i}.log" for i in range(len(procs))]
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        texts = [p.read_bytes() if p.exists() else b"" for p in logs]
        if all(b"Worker ready" in t and (b"tagger loaded" in t or not tagger) for t in texts):
            return
        time.sleep(0.5)
    raise RuntimeError(f"workers not ready within {timeout:.0f}s: see {logs[0]}")


def _wait_done(settings: Settings, valid: int, timeout: float) -> float:
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if indexed_count(settings) >= valid and group_lag(settings, topics.COUNTS) <= 5:
            return time.monotonic()
        time.sleep(0.5)
    raise RuntimeError(f"pipeline did not finish {valid} items within {timeout:.0f}s")


def run_throughput(base: Settings, engine: Any, lines: list[bytes], n_workers: int) -> Run:
    settings = _namespace(base)
    prepare(settings, reset=False)
    procs = _workers(settings, n_workers)
    pids = {"broker": engine.kafka().pid(), "elasticsearch": engine.elasticsearch().pid()}
    try:
        _wait_ready(settings, procs)   # workers joined the group and loaded the tagger before the clock starts
        cpu0 = {k: _cpu_seconds(v) for k, v in pids.items() if v} | {"workers": sum(_cpu_seconds(p.pid) for p in procs)}
        t0 = time.monotonic()
        _produce(settings, lines)
        t1 = _wait_done(settings, len(lines), timeout=3600)
        cpu1 = {k: _cpu_seconds(v) for k, v in pids.items() if v} | {"workers": sum(_cpu_seconds(p.pid) for p in procs)}
        cpu = {k: round(cpu1[k] - cpu0[k], 1) for k in cpu1}
        rss = max(_rss_mb(p.pid) for p in procs)
    finally:
        for p in procs:
            stop_process(p)
    return Run(items_per_s=len(lines) / (t1 - t0), seconds=round(t1 - t0, 1), cpu=cpu, rss_mb=round(rss),
               namespace=settings)


def _counts_messages(settings: Settings) -> list[Any]:
    """Every ItemCounts message on the namespace's news.counts, in the detector's order."""
    from kafka import KafkaConsumer
    from streams.codec import decode
    from streams.records import ItemCounts, parse_time
    consumer = KafkaConsumer(topics.name(settings, topics.COUNTS), bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    counts = [decode(ItemCounts, m.value) for m in consumer if m.key != b"__tick__"]
    consumer.close()
    return sorted(counts, key=lambda c: (parse_time(c.published_at), c.item_id))


def detector_in_process(counts: list[Any]) -> float:
    """Count events/s of a SpikeProcessor over a dict, on the same items (one process_item each, as the agent)."""
    from processors.spikes.keys import expand
    from processors.spikes.processor import SpikeProcessor
    batches = [expand(c) for c in counts]
    proc = SpikeProcessor({})
    n, t0 = 0, time.perf_counter()
    for batch in batches:
        proc.process_item(batch)
        n += len(batch)
    return n / (time.perf_counter() - t0)


def detector_agent_path(counts: list[Any], settings: Settings) -> float:
    """Count events/s of the detector agent's own per-message path over the same messages, without Kafka or Faust:
    decode and expand, the event-time reorderer, the processor, offset-ordered acks and the write-back flush, each
    table write JSON-serialised as Faust does for the changelog. Its gap to the stream rate is the plumbing."""
    import asyncio
    from types import SimpleNamespace

    from processors.spikes.agent import Detection
    from streams.codec import encode
    from streams.metrics import Metrics

    class Serialising(dict):
        def __setitem__(self, key: str, value: Any) -> None:
            json.dumps(value)
            super().__setitem__(key, value)

    async def discard(*_: Any) -> None:
        return None

    det = Detection(SimpleNamespace(settings=settings, metrics=Metrics(), incidents=object()), Serialising())
    det.outputs = SimpleNamespace(emit=discard, emit_incidents=discard)
    events = [SimpleNamespace(key=c.item_id.encode(), value=encode(c), message=SimpleNamespace(partition=0, offset=n))
              for n, c in enumerate(counts)]

    async def run() -> None:
        for ev in events:
            await det.on_event(ev, True)

    t0 = time.perf_counter()
    asyncio.run(run())
    return sum(len(c.keys) for c in counts) / (time.perf_counter() - t0)


def _items_out(port: int) -> float:
    import urllib.request
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith('surgewatch_items_out_total{stage="spikes"}'):
            return float(line.split()[-1])
    return 0.0


def _detect_workers(settings: Settings, n: int) -> tuple[list[Any], list[int]]:
    procs, ports = [], []
    for i in range(n):
        port = _free_port()
        s = settings.model_copy(update={"stages": "detect", "metrics_port": port, "web_port": _free_port(),
                                        "worker_data_dir": settings.worker_data_dir / f"det{i}"})
        procs.append(start_worker(s, settings.stack_dir / f"{settings.app_id}-{i}.log"))
        ports.append(port)
    return procs, ports


def _drain_span(ports: list[int], messages: int) -> float:
    """Seconds between 5% and 95% of `messages` handled by the detect workers (their /metrics, every 0.2 s)."""
    marks: dict[float, float] = {}
    t_end = time.monotonic() + 1800
    while time.monotonic() < t_end and 0.95 not in marks:
        done = sum(_items_out(p) for p in ports) / messages
        for q in (0.05, 0.95):
            if done >= q and q not in marks:
                marks[q] = time.monotonic()
        time.sleep(0.2)
    return marks.get(0.95, float("nan")) - marks.get(0.05, float("nan"))


def detector_on_stream(settings: Settings, counts: list[Any]) -> dict[str, float]:
    """A detector-only worker (own group, empty state) drains the counts a throughput run left on news.counts:
    count events/s between 5% and 95% of its messages handled, so neither its start nor the event-time
    reorderer's idle wait for the last ones counts."""
    det = settings.model_copy(update={"app_id": f"{settings.app_id}-det"})
    procs, ports = _detect_workers(det, 1)
    events = sum(len(c.keys) for c in counts)
    try:
        _wait_ready(det, procs, tagger=False)
        span = _drain_span(ports, len(counts))
    finally:
        for p in procs:
            stop_process(p)
    return {"count_events": events, "messages": len(counts), "events_per_s": round(0.9 * events / span, 1)}


def detector_lanes(base: Settings, counts: list[Any], lanes: int, workers: int) -> dict[str, Any]:
    """The same counts, split into `lanes` news.counts partitions of a fresh namespace (each lane: the volume key
    and the keys it owns), drained by `workers` detect-only workers: count events/s of the items' keys (each
    counted once) between 5% and 95% of the lane messages handled."""
    from processors.spikes.keys import split_counts
    from streams.codec import encode
    settings = _namespace(base).model_copy(update={"counts_partitions": lanes})
    prepare(settings, reset=False)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all", linger_ms=5,
                             batch_size=256 * 1024)
    messages = 0
    for c in counts:
        for part, share in split_counts(c, lanes):
            producer.send(topics.name(settings, topics.COUNTS), encode(share), key=c.item_id.encode(),
                          partition=part)
            messages += 1
    producer.flush()
    producer.close()
    procs, ports = _detect_workers(settings, workers)
    events = sum(len(c.keys) for c in counts)
    try:
        _wait_ready(settings, procs, tagger=False)
        span = _drain_span(ports, messages)
    finally:
        for p in procs:
            stop_process(p)
    return {"lanes": lanes, "workers": workers, "messages": messages, "events_per_s": round(0.9 * events / span, 1)}


def _poll_searchable(settings: Settings, sent_at: dict[str, float], sample: list[str], out: list[float],
                     stop: threading.Event) -> None:
    from sinks.elasticsearch import alias, es_client
    es = es_client(settings)
    pending = list(sample)
    while pending and not stop.is_set():
        ready = [k for k in pending if k in sent_at]
        if ready:
            hits = es.search(index=alias(settings, "news"), query={"ids": {"values": ready}}, size=len(ready),
                             source=False)["hits"]["hits"]
            now = time.time()
            for h in hits:
                out.append(now - sent_at[h["_id"]])
                pending.remove(h["_id"])
        time.sleep(0.05)


def latency_items() -> list[bytes]:
    """The bundled stream with fresh ids: it has surges that alert within a minute's worth of items (the first
    minute of the Reuters replay alerts on nothing: its items are spread over 40 days)."""
    base = _bundled_base()
    return [json.dumps({**d, "id": f"l-{i}", "url": f"https://bench.example/l/{i}"}).encode()
            for i, d in enumerate(base)]


def run_latency(base: Settings, lines: list[bytes], rate: float) -> dict[str, Any]:
    """At a fixed offered load: ingest -> searchable for every 20th item, and item -> alert for every alert."""
    settings = _namespace(base)
    prepare(settings, reset=False)
    procs = _workers(settings, 1)
    n = min(len(lines), int(rate * LATENCY_SECONDS))
    chunk = lines[:n]
    sent_at: dict[str, float] = {}
    searchable: list[float] = []
    sample = [json.loads(line)["id"] for line in chunk[::20]]
    stop = threading.Event()
    try:
        _wait_ready(settings, procs)
        poller = threading.Thread(target=_poll_searchable, args=(settings, sent_at, sample, searchable, stop))
        poller.start()
        _produce(settings, chunk, rate=rate, sent_at=sent_at)
        _wait_done(settings, n, timeout=900)
        stop.set()
        poller.join(30)
        alert_lat = _alert_latencies(_alerts_with_send_time(settings), sent_at)
    finally:
        for p in procs:
            stop_process(p)
    return {"offered_items_per_s": round(rate, 1), "items": n, "searchable_s": _pcts(searchable),
            "alert_s": _pcts(alert_lat), "alerts": len(alert_lat)}


def _alerts_with_send_time(settings: Settings, idle_ms: int = 3000) -> Iterator[tuple[Any, float]]:
    """Every alert on the namespace's alerts topic with the wall-clock time the worker produced it (the Kafka
    message's CreateTime, set by the worker's producer on this machine's clock). An Alert's own `created_at` is
    event time (the detector's watermark: the items' published_at, years before the run), so it cannot be set
    against the wall-clock send times."""
    from kafka import KafkaConsumer
    from streams.codec import decode
    from streams.records import Alert
    consumer = KafkaConsumer(topics.name(settings, topics.ALERTS), bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=idle_ms)
    try:
        for m in consumer:
            yield decode(Alert, m.value), m.timestamp / 1000.0
    finally:
        consumer.close()


def _alert_latencies(alerts: Iterator[tuple[Any, float]], sent_at: dict[str, float]) -> list[float]:
    """Per firing alert: the time its message was produced minus the send time of the newest of its articles sent
    before it (the item that tipped the key over, or the closest to it among the alert's top articles)."""
    out = []
    for a, produced in alerts:
        if a.state != "firing":
            continue
        sent = [sent_at[x.id] for x in a.top_articles if x.id in sent_at and sent_at[x.id] <= produced]
        if sent:
            out.append(produced - max(sent))
    return out


def _pcts(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    qs = statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99
    return {"n": len(values), "p50": round(statistics.median(values), 3), "p99": round(qs[98], 3)}


def main() -> int:
    from surgewatch.stack.jvm import JvmEngine
    lines, source = bench_items(MIN_ITEMS)
    base = Settings(_env_file=None, stack_engine="jvm", stack_dir=ROOT / ".surgewatch" / "bench",
                    stack_cache_dir=ROOT / ".surgewatch" / "cache", stack_kafka_port=_free_port(),
                    stack_es_port=_free_port(), web_port=_free_port())
    engine = JvmEngine(base)
    engine.up()
    try:
        if os.environ.get("SURGEWATCH_BENCH_LATENCY_AT"):          # the latency run alone, at this many items/s
            print(json.dumps(run_latency(base, latency_items(), float(os.environ["SURGEWATCH_BENCH_LATENCY_AT"]))))
            return 0
        tag_rate = tagger_rate(lines)
        one = run_throughput(base, engine, lines, 1)
        counts = _counts_messages(one.namespace)
        detector = {"in_process_events_per_s": round(detector_in_process(counts), 1),
                    "agent_path_events_per_s": round(detector_agent_path(counts, one.namespace), 1),
                    **detector_on_stream(one.namespace, counts),
                    "lanes": [detector_lanes(base, counts, 2, w) for w in (1, 2)]}
        if os.environ.get("SURGEWATCH_BENCH_ONE_WORKER_ONLY"):      # quick before/after of one change
            print(f"tagger {tag_rate:.1f} items/s; 1 worker {_run_dict(one)}; detector {detector}")
            return 0
        two = run_throughput(base, engine, lines, 2)
        latency = run_latency(base, latency_items(), rate=one.items_per_s / 2)
    finally:
        engine.wipe()
    res = {"engine": engine.versions(), "source": source, "items": len(lines), "tagger_items_per_s": round(tag_rate, 1),
           "cores": os.cpu_count(), "e2e_1w": _run_dict(one, len(lines)), "e2e_2w": _run_dict(two, len(lines)), "latency_half_load": latency, "detector": detector}
    checks = {"e2e_1w_vs_tagger": one.items_per_s / tag_rate, "e2e_2w_vs_1w": two.items_per_s / one.items_per_s,
              "detector_stream_vs_in_process": detector["events_per_s"] / detector["in_process_events_per_s"],
              "p99_searchable_s": latency["searchable_s"].get("p99", float("inf")),
              "p99_alert_s": latency["alert_s"].get("p99", float("inf")), "worker_rss_mb": one.rss_mb}
    res["floors"] = {k: {"value": round(v, 3), "floor": FLOORS[k],
                         "met": v <= FLOORS[k] if k.startswith("p99") or k.endswith("_mb") else v >= FLOORS[k]}
                     for k, v in checks.items()}
    RESULTS.write_text(json.dumps(res, indent=2))
    _print(res)
    return 0


def _run_dict(run: Run, items: int | None = None) -> dict[str, Any]:
    """A run's figures; with `items`, also CPU ms per item per process kind and the CPU bound: the rate at which
    this machine's cores would be busy all the time with that much work per item."""
    out = {k: v for k, v in run.__dict__.items() if k != "namespace"}
    if items:
        out["cpu_ms_per_item"] = {k: round(1000 * v / items, 2) for k, v in run.cpu.items()}
        out["cpu_bound_items_per_s"] = round((os.cpu_count() or 1) * items / max(sum(run.cpu.values()), 1e-9), 1)
    return out


def _print(res: dict[str, Any]) -> None:
    print(f"source={res['source']} items={res['items']} engine={res['engine']}")
    print(f"tagger alone {res['tagger_items_per_s']} items/s; e2e 1 worker {res['e2e_1w']['items_per_s']:.1f} items/s "
          f"({res['e2e_1w']['seconds']} s, cpu s {res['e2e_1w']['cpu']}, worker rss {res['e2e_1w']['rss_mb']} MB); "
          f"2 workers {res['e2e_2w']['items_per_s']:.1f} items/s (cpu s {res['e2e_2w']['cpu']})")
    print(f"latency at {res['latency_half_load']['offered_items_per_s']} items/s: ingest->searchable "
          f"{res['latency_half_load']['searchable_s']}, item->alert {res['latency_half_load']['alert_s']}")
    for name in ("e2e_1w", "e2e_2w"):
        r = res[name]
        print(f"{name}: cpu ms/item {r['cpu_ms_per_item']}; cpu bound on {res['cores']} cores "
              f"{r['cpu_bound_items_per_s']} items/s, measured {r['items_per_s']:.1f}")
    d = res["detector"]
    print(f"detector: {d['events_per_s']} count events/s on the stream ({d['count_events']} events in "
          f"{d['messages']} messages), {d['in_process_events_per_s']} in process, "
          f"{d.get('agent_path_events_per_s')} through the agent's own code without Kafka or Faust")
    for lane in d.get("lanes", []):
        print(f"detector, {lane['lanes']} news.counts partitions on {lane['workers']} worker(s): "
              f"{lane['events_per_s']} count events/s ({lane['messages']} lane messages)")
    print(f"{'check':<32}{'value':>10}{'floor':>10}  met")
    for k, v in res["floors"].items():
        print(f"{k:<32}{v['value']:>10}{v['floor']:>10}  {'yes' if v['met'] else 'NO'}")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
