"""Fault-test machinery: consumes a jvm stack's Settings and the fault stream, produces a namespaced pipeline (worker
subprocesses that can be killed, a paced at-least-once feeder), progress probes, and the ledger check that ends every
scenario (Elasticsearch ids, dead letters, alerts against `backtest archive`) as one summary line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from streams import topics
from streams.config import Settings
from surgewatch.runner import group_lag, indexed_count, start_worker, stop_process, topic_message_count
from tests.integration.conftest import ROOT, free_port

RESULTS = ROOT / ".surgewatch" / "faults"
COUNTS_LAG_SLACK = 5   # wake-up ticks on news.counts the detector may not have committed (as in the runner)


# ------------------------------------------------------------------------------------------------ the ledger

@dataclass
class Ledger:
    """Every input line: the distinct ids of the valid ones, and each invalid one with the reason it must get."""

    path: Path
    lines: List[bytes]
    valid_ids: Set[str]
    invalid: Dict[str, str]          # payload text -> expected dead-letter reason

    @classmethod
    def build(cls, path: Path, lines: List[bytes]) -> "Ledger":
        from processors.enrich.pipeline import parse_news_item
        from streams.records import InvalidItem
        ids: Set[str] = set()
        invalid: Dict[str, str] = {}
        for line in lines:
            try:
                ids.add(parse_news_item(line).id or "")
            except InvalidItem as exc:
                invalid[line.decode("utf-8", "replace")] = exc.reason
        return cls(path, lines, ids, invalid)


def code_digest() -> str:
    """A digest of the product's code and data files: the reference holds only for the code the workers run."""
    import hashlib
    h = hashlib.sha1()
    for folder in ("streams", "processors", "sinks", "surgewatch"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".yaml", ".yml", ".json", ".txt", ".tsv") and path.is_file():
                h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class Reference:
    """`backtest archive` of the stream, computed in a subprocess from the start (it needs no servers), so that it
    runs while the first scenario waits on its faults."""

    def __init__(self, stream: Path, out: Path) -> None:
        self.out = out
        self.digest = code_digest()
        code = ("import sys; from pathlib import Path; from surgewatch.offline import backtest_archive; "
                "print(backtest_archive(Path(sys.argv[1]), Path(sys.argv[2])))")
        self.log = out.with_suffix(".log")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(stream), str(out)], cwd=ROOT,
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        self._firing: Optional[Set[Tuple[str, str]]] = None

    def firing(self) -> Set[Tuple[str, str]]:
        if self._firing is None:
            assert self.proc.wait(1200) == 0, self.log.read_text()[-3000:]
            ref = [json.loads(x) for x in self.out.read_text().splitlines() if x.strip()]
            self._firing = {(a["key"], a["window_start"]) for a in ref if a["state"] == "firing"}
        return self._firing

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------------------------------------ the pipeline

class Pipeline:
    """One namespace (topics, group, indices) on the fault stack, its workers by number and its feeder."""

    def __init__(self, stack: Settings, tmp: Path, name: str) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name, self.tmp = name, tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.ns = stack.model_copy(update={
            "topic_prefix": f"f{tag}.", "app_id": f"fault-{name}-{tag}", "index_prefix": f"fault-{tag}",
            "enrich_batch_seconds": 0.2, "index_batch_seconds": 0.2})
        self.workers: Dict[int, subprocess.Popen[bytes]] = {}
        self.settings: Dict[int, Settings] = {}
        self.exits: List[Tuple[int, int]] = []     # (worker, return code) of exits nobody asked for
        self.feeder: Optional[Feeder] = None

    def prepare(self) -> None:
        from surgewatch.runner import prepare
        prepare(self.ns, reset=False)

    def start(self, n: int) -> None:
        s = self.settings.get(n) or self.ns.model_copy(update={
            "web_port": free_port(), "metrics_port": free_port(), "worker_data_dir": self.tmp / f"worker{n}"})
        self.settings[n] = s
        self.workers[n] = start_worker(s, self.tmp / f"worker{n}.log")

    def kill(self, n: int) -> None:
        """SIGKILL worker n (its whole process group) and reap it."""
        proc = self.workers.pop(n)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def stop(self, n: int) -> None:
        stop_process(self.workers.pop(n))

    def supervise(self) -> None:
        """Restart any worker that exited on its own (as a container restart policy would), and note it."""
        for n, proc in list(self.workers.items()):
            if proc.poll() is not None:
                self.exits.append((n, proc.returncode))
                self.start(n)

    def metrics(self, n: int) -> str:
        url = f"http://127.0.0.1:{self.settings[n].metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    def feed(self, lines: List[bytes], rate: float) -> "Feeder":
        self.feeder = Feeder(self.ns, lines, rate)
        self.feeder.start()
        return self.feeder

    def close(self) -> None:
        if self.feeder is not None:
            self.feeder.stop.set()
            self.feeder.join(60)
        for n in list(self.workers):
            self.stop(n)

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- worker{n}.log\n" + (self.tmp / f"worker{n}.log").read_text(errors="replace")[-chars:]
                         for n in sorted(self.settings))


class Feeder(threading.Thread):
    """Produces the lines to news.raw in order at about `rate` lines/s, in chunks; a chunk whose delivery fails
    (broker gone) is sent again once the broker answers: at least once, like any producer."""

    CHUNK = 100

    def __init__(self, settings: Settings, lines: List[bytes], rate: float) -> None:
        super().__init__(daemon=True, name="fault-feeder")
        self.settings, self.lines, self.rate = settings, lines, rate
        self.sent = 0
        self.resent_chunks = 0
        self.done = threading.Event()
        self.stop = threading.Event()
        self.error: Optional[BaseException] = None

    def _producer(self) -> KafkaProducer:
        return KafkaProducer(bootstrap_servers=self.settings.kafka_servers, acks="all", linger_ms=20,
                             max_block_ms=10000, request_timeout_ms=10000, delivery_timeout_ms=30000)

    def run(self) -> None:
        topic = topics.name(self.settings, topics.RAW)
        producer: Optional[KafkaProducer] = None
        t0 = time.monotonic()
        try:
            for start in range(0, len(self.lines), self.CHUNK):
                chunk = self.lines[start:start + self.CHUNK]
                while not self.stop.is_set():
                    try:
                        producer = producer or self._producer()
                        futures = [producer.send(topic, line) for line in chunk]
                        producer.flush(60)
                        for f in futures:
                            f.get(0)
                        break
                    except KafkaError:
                        self.resent_chunks += 1
                        if producer is not None:
                            producer.close(0)
                        producer = None
                        time.sleep(2)
                self.sent = start + len(chunk)
                pause = t0 + self.sent / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            if producer is not None:
                producer.close(5)
            self.done.set()


# ------------------------------------------------------------------------------------------------ probes

def committed(settings: Settings, base: str) -> Dict[int, int]:
    """The worker group's committed offsets on a topic, by partition (-1: none yet)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers, request_timeout_ms=5000)
    try:
        offsets = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    finally:
        admin.close()
    name = topics.name(settings, base)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == name}


def end_offsets(settings: Settings, base: str) -> Dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False)
    try:
        name = topics.name(settings, base)
        tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or set()]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def wait_until(probe: Callable[[], bool], timeout: float, what: str, tick: Callable[[], None] = lambda: None,
               every: float = 0.5) -> float:
    """Poll until probe() holds; returns the seconds it took; fails after `timeout`."""
    t0 = time.monotonic()
    while True:
        tick()
        try:
            if probe():
                return time.monotonic() - t0
        except (KafkaError, OSError):   # a server being restarted: ask again
            pass
        assert time.monotonic() - t0 < timeout, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(every)


def moving_again(settings: Settings, base: str, before: Dict[int, int]) -> Callable[[], bool]:
    """True once every partition of the topic has committed past `before` or is fully consumed."""
    def probe() -> bool:
        now, end = committed(settings, base), end_offsets(settings, base)
        return all(now.get(p, -1) > before.get(p, -1) or now.get(p, -1) >= end[p] for p in end)
    return probe


def settle(pipe: Pipeline, ledger: Ledger, timeout: float, quiet: float = 10.0) -> float:
    """Wait until every valid id is indexed and every invalid line dead-lettered, the feeder is done, the detector
    has taken (almost) all counts and nothing changed for `quiet` seconds; returns the seconds it took."""
    ns, state = pipe.ns, {"last": None, "since": time.monotonic()}

    def probe() -> bool:
        if pipe.feeder is not None and not pipe.feeder.done.is_set():
            return False
        now = (indexed_count(ns), topic_message_count(ns, topics.DEADLETTER), topic_message_count(ns, topics.ALERTS))
        if now != state["last"]:
            state["last"], state["since"] = now, time.monotonic()
            return False
        if now[0] < len(ledger.valid_ids) or len(dead_letters(ns)[1]) < len(ledger.invalid):
            return False
        return time.monotonic() - state["since"] >= quiet and group_lag(ns, topics.COUNTS) <= COUNTS_LAG_SLACK
    return wait_until(probe, timeout, "the pipeline to account for every input", pipe.supervise, every=1.0)


# ------------------------------------------------------------------------------------------------ the check

def read_topic(settings: Settings, base: str) -> List[Any]:
    consumer = KafkaConsumer(topics.name(settings, base), bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=4000,
                             group_id=None)
    try:
        return list(consumer)
    finally:
        consumer.close()


def lanes_out_of_order(settings: Settings) -> Dict[int, int]:
    """Per news.enriched partition, first deliveries of an item that came behind the partition's newest event time
    (re-deliveries of an item already there are not counted): what makes the detector's counts late. An in-order
    run has none."""
    from streams.records import parse_time
    out: Dict[int, int] = {}
    newest: Dict[int, float] = {}
    seen: Set[str] = set()
    for m in read_topic(settings, topics.ENRICHED):
        d = json.loads(m.value)
        if d["id"] in seen:
            continue
        seen.add(d["id"])
        t = parse_time(d["published_at"]).timestamp()
        if t < newest.get(m.partition, t):
            out[m.partition] = out.get(m.partition, 0) + 1
        newest[m.partition] = max(newest.get(m.partition, t), t)
    return out


def dead_letters(settings: Settings) -> Tuple[List[Any], Dict[str, Set[str]]]:
    """Every DeadLetter on the topic, and the reasons given per payload."""
    from streams.records import DeadLetter
    dls = [DeadLetter.loads(m.value) for m in read_topic(settings, topics.DEADLETTER)]
    reasons: Dict[str, Set[str]] = {}
    for d in dls:
        reasons.setdefault(d.payload, set()).add(d.reason)
    return dls, reasons


def es_ids(settings: Settings) -> List[str]:
    from elasticsearch.helpers import scan
    from sinks.elasticsearch import alias, es_client
    es = es_client(settings)
    es.indices.refresh(index=alias(settings, "news"))
    return [h["_id"] for h in scan(es, index=alias(settings, "news"), query={"query": {"match_all": {}}},
                                   _source=False, size=2000)]


def ledger_summary(pipe: Pipeline, ledger: Ledger, reference: Reference) -> Dict[str, Any]:
    """Items, lost, duplicated, extra documents, dead letters missing or unexpected, alerts missing / extra /
    fired twice -- the numbers every scenario asserts and reports."""
    from streams.subscribe import tail_alerts
    ns = pipe.ns
    ids = es_ids(ns)
    dls, reasons = dead_letters(ns)
    alerts = list(tail_alerts(ns, from_beginning=True, follow=False, idle_ms=4000))
    firing_ids = [a.alert_id for a in alerts if a.state == "firing"]
    live = {(a.key, a.window_start) for a in alerts if a.state == "firing"}
    ref = reference.firing()
    wrong_reason = {p: sorted(r) for p, r in reasons.items() if p in ledger.invalid and ledger.invalid[p] not in r}
    unexpected = [f"{d.stage}:{d.reason}" for d in dls if d.payload not in ledger.invalid]
    return {
        "items": len(ledger.lines), "valid": len(ledger.valid_ids), "invalid": len(ledger.invalid),
        "indexed": len(set(ids)), "lost": len(ledger.valid_ids - set(ids)), "duplicated": len(ids) - len(set(ids)),
        "extra_docs": len(set(ids) - ledger.valid_ids),
        "dead_letters_missing": len(set(ledger.invalid) - set(reasons)), "dead_letters_wrong_reason": wrong_reason,
        "dead_letters_unexpected": sorted(set(unexpected)), "dead_letter_copies": len(dls),
        "alerts_expected": len(ref), "missing_alerts": sorted(ref - live)[:20], "extra_alerts": sorted(live - ref)[:20],
        "n_missing_alerts": len(ref - live), "n_extra_alerts": len(live - ref),
        "fired_twice": len(firing_ids) - len(set(firing_ids)),
        "enriched_out_of_order": lanes_out_of_order(ns),
        "worker_exits": pipe.exits,
        "code_changed_since_reference": code_digest() != reference.digest,
        "feeder_resent_chunks": pipe.feeder.resent_chunks if pipe.feeder else 0,
    }


def report(name: str, summary: Dict[str, Any]) -> None:
    """One line `FAULT SUMMARY {json}` on stdout (visible with -s) and in .surgewatch/faults/summary.jsonl."""
    line = json.dumps({"scenario": name, **summary}, ensure_ascii=False, default=str)
    print(f"FAULT SUMMARY {line}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "summary.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def assert_ledger(summary: Dict[str, Any], pipe: Pipeline) -> None:
    """The end state every scenario must reach: nothing lost, nothing extra, alerts those of the backtest."""
    assert not summary["code_changed_since_reference"], ("the product's files changed during the run: the backtest "
                                                         "reference no longer applies; run from a clean checkout")
    problems = {k: summary[k] for k in ("lost", "duplicated", "extra_docs", "dead_letters_missing",
                                        "n_missing_alerts", "n_extra_alerts", "fired_twice") if summary[k]}
    for k in ("dead_letters_wrong_reason", "dead_letters_unexpected"):
        if summary[k]:
            problems[k] = summary[k]
    assert not problems, (problems, summary["missing_alerts"], summary["extra_alerts"], pipe.log_tail())
