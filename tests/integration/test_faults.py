"""Fault injection on a jvm stack of this module's own (real Kafka + Elasticsearch): consumes the 10,000-line fault
stream, produces per scenario (workers SIGKILLed, scaled out and in, broker SIGKILLed, Elasticsearch down 60 s,
Alertmanager down 60 s) the ledger check -- every valid item indexed once, every invalid one dead-lettered with its
reason, the firing alerts those of `backtest archive` -- and a `FAULT SUMMARY {json}` line."""
from __future__ import annotations

import json
import re
from collections import Counter
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import requests

from streams import topics
from streams.config import Settings
from surgewatch.runner import bundled_stream, group_lag, indexed_count, topic_message_count, worker_env
from surgewatch.stack.base import es_healthy, kafka_ready
from surgewatch.stack.jvm import JvmEngine
from tests.integration.conftest import free_port, local_settings
from tests.integration.fault_stream import COPIES, invalid_lines, write_fault_stream
from tests.integration.faultkit import (RESULTS, Ledger, Pipeline, Reference, assert_ledger, committed, ledger_summary,
                                        moving_again, read_topic, report, settle, wait_until)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
SETTLE = 1200          # seconds a scenario may take to account for every input after its last fault
OUTAGE = 60.0          # seconds Elasticsearch / Alertmanager stay down
IN_FLIGHT_S = 2.0      # seconds one receiver post already under way may take to land


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[Tuple[Settings, JvmEngine]]:
    """A jvm stack of this module's own: its broker and node get killed, so no other test may share it."""
    settings = local_settings("jvm")
    eng = JvmEngine(settings)
    eng.up()
    try:
        yield settings, eng
    finally:
        eng.down()
        eng.wipe()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    path = tmp_path_factory.mktemp("faults") / "stream.jsonl"
    write_fault_stream(bundled_stream(), path)
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    led = Ledger.build(path, lines)
    assert len(lines) >= 10_000 and len(led.invalid) >= 30
    for k in range(1, COPIES + 1):
        for bad, reason in invalid_lines(k):
            assert led.invalid[bad.decode()] == reason
    return led


@pytest.fixture(scope="module")
def reference(ledger: Ledger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    ref = Reference(ledger.path, tmp_path_factory.mktemp("reference") / "alerts.jsonl")
    yield ref
    ref.close()


@pytest.fixture
def pipeline(fault_stack: Tuple[Settings, JvmEngine], request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    name = request.node.name.removeprefix("test_")[:24]
    # logs and worker data under .surgewatch/faults/ (kept after the run, unlike pytest's rotating tmp dirs)
    pipe = Pipeline(fault_stack[0], RESULTS / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}", name)
    pipe.prepare()
    try:
        yield pipe
    finally:
        pipe.close()


def indexed_share(pipe: Pipeline, ledger: Ledger, share: float, timeout: float = 900) -> None:
    wait_until(lambda: indexed_count(pipe.ns) >= share * len(ledger.valid_ids), timeout,
               f"{share:.0%} of the items indexed", pipe.supervise, every=1.0)


def finish(name: str, pipe: Pipeline, ledger: Ledger, reference: Reference, t0: float, t_fault_end: float,
           extra: Dict[str, Any], after: Callable[[], Dict[str, Any]] = dict) -> Dict[str, Any]:
    """Wait for the pipeline to account for every input, then check and report (with `after()`, taken once it
    has); drain_s counts from the end of the last fault, total_s from the scenario's start."""
    settle(pipe, ledger, SETTLE)
    now = time.monotonic()
    summary = {**ledger_summary(pipe, ledger, reference), **extra, **after(),
               "drain_s": round(now - t_fault_end, 1), "total_s": round(now - t0, 1)}
    report(name, summary)
    assert pipe.feeder is not None and pipe.feeder.error is None, pipe.feeder.error
    return summary


@pytest.mark.timeout(2400)
def test_sigkill_one_of_three_workers_three_times(pipeline: Pipeline, ledger: Ledger, reference: Reference) -> None:
    t0 = time.monotonic()
    for n in (1, 2, 3):
        pipeline.start(n)
    pipeline.feed(ledger.lines, rate=200)
    recover: List[float] = []
    t_end = t0
    for share in (0.2, 0.4, 0.6):
        indexed_share(pipeline, ledger, share)
        before = committed(pipeline.ns, topics.RAW)
        pipeline.kill(2)
        time.sleep(3)
        pipeline.start(2)
        t_end = time.monotonic()
        recover.append(round(wait_until(moving_again(pipeline.ns, topics.RAW, before), 600,
                                        "every news.raw partition to move again", pipeline.supervise), 1))
    summary = finish("sigkill_worker_x3", pipeline, ledger, reference, t0, t_end,
                     {"workers": 3, "kills": 3, "recover_s": recover})
    assert summary["worker_exits"] == [], summary["worker_exits"]
    assert_ledger(summary, pipeline)


@pytest.mark.timeout(2400)
def test_scale_out_to_three_workers_and_back_to_one(pipeline: Pipeline, ledger: Ledger,
                                                    reference: Reference) -> None:
    t0 = time.monotonic()
    pipeline.start(1)
    pipeline.feed(ledger.lines, rate=200)
    indexed_share(pipeline, ledger, 0.25)
    before = committed(pipeline.ns, topics.RAW)
    pipeline.start(2)
    pipeline.start(3)
    t_out = time.monotonic()
    out_s = wait_until(moving_again(pipeline.ns, topics.RAW, before), 600, "news.raw moving after scale-out",
                       pipeline.supervise)
    indexed_share(pipeline, ledger, 0.6)
    before = committed(pipeline.ns, topics.RAW)
    pipeline.stop(2)
    pipeline.stop(3)
    t_in = time.monotonic()
    in_s = wait_until(moving_again(pipeline.ns, topics.RAW, before), 600, "news.raw moving after scale-in",
                      pipeline.supervise)
    summary = finish("scale_1_3_1", pipeline, ledger, reference, t0, t_in,
                     {"workers": "1->3->1", "recover_s": [round(out_s, 1), round(in_s, 1)],
                      "scale_out_at_s": round(t_out - t0, 1)})
    assert summary["worker_exits"] == [], summary["worker_exits"]
    assert_ledger(summary, pipeline)


@pytest.mark.timeout(2400)
def test_sigkill_the_kafka_broker_mid_stream(pipeline: Pipeline, ledger: Ledger, reference: Reference,
                                             fault_stack: Tuple[Settings, JvmEngine]) -> None:
    settings, eng = fault_stack
    t0 = time.monotonic()
    pipeline.start(1)
    feeder = pipeline.feed(ledger.lines, rate=60)
    wait_until(lambda: feeder.sent >= 0.4 * len(ledger.lines), 600, "the feeder at 40%", pipeline.supervise)
    assert not feeder.done.is_set(), "the stream must still be flowing when the broker dies"
    indexed_before = indexed_count(pipeline.ns)
    before = committed(pipeline.ns, topics.RAW)
    assert eng.kafka().kill()
    t_kill = time.monotonic()
    time.sleep(10)
    eng.kafka().start()
    wait_until(lambda: kafka_ready(settings.kafka_servers), 120, "the broker to answer again")
    t_up = time.monotonic()
    recover = wait_until(moving_again(pipeline.ns, topics.RAW, before), 600, "news.raw moving after the broker "
                         "restart", pipeline.supervise)
    summary = finish("sigkill_kafka", pipeline, ledger, reference, t0, t_up,
                     {"workers": 1, "broker_down_s": round(t_up - t_kill, 1), "recover_s": round(recover, 1),
                      "indexed_at_kill": indexed_before})
    assert_ledger(summary, pipeline)
    assert summary["worker_exits"] == [], summary["worker_exits"]


def metric(body: str, name: str, labels: str) -> float:
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", body, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.mark.timeout(2400)
def test_elasticsearch_down_for_a_minute(pipeline: Pipeline, ledger: Ledger, reference: Reference,
                                         fault_stack: Tuple[Settings, JvmEngine]) -> None:
    settings, eng = fault_stack
    t0 = time.monotonic()
    pipeline.start(1)
    pipeline.feed(ledger.lines, rate=200)
    indexed_share(pipeline, ledger, 0.3)
    enriched_topic = topics.name(pipeline.ns, topics.ENRICHED)
    failures_before = metric(pipeline.metrics(1), "surgewatch_es_bulk_failures_total", 'kind="request"')
    before = committed(pipeline.ns, topics.ENRICHED)
    t_down = time.monotonic()
    assert eng.elasticsearch().stop()
    max_lag = 0.0
    while time.monotonic() - t_down < OUTAGE:     # the outage as /metrics shows it
        time.sleep(5)
        pipeline.supervise()
        max_lag = max(max_lag, metric(pipeline.metrics(1), "surgewatch_consumer_lag_messages",
                                      f'topic="{enriched_topic}"'))
    body = pipeline.metrics(1)
    failures = metric(body, "surgewatch_es_bulk_failures_total", 'kind="request"') - failures_before
    eng.elasticsearch().start()
    wait_until(lambda: es_healthy(settings.elasticsearch_url), 180, "Elasticsearch healthy again")
    t_up = time.monotonic()
    recover = wait_until(moving_again(pipeline.ns, topics.ENRICHED, before), 600,
                         "news.enriched moving after Elasticsearch is back", pipeline.supervise)
    summary = finish("elasticsearch_down_60s", pipeline, ledger, reference, t0, t_up,
                     {"workers": 1, "es_down_s": round(t_up - t_down, 1), "recover_s": round(recover, 1),
                      "bulk_request_failures": failures, "max_enriched_lag_during_outage": max_lag},
                     after=lambda: {"lag_after": {b: group_lag(pipeline.ns, b) for b in (topics.RAW, topics.ENRICHED)}})
    assert failures > 0, "the outage is invisible on /metrics (surgewatch_es_bulk_failures_total)"
    assert max_lag > 0, "news.enriched lag did not show the outage on /metrics"
    assert summary["lag_after"] == {topics.RAW: 0, topics.ENRICHED: 0}
    assert summary["worker_exits"] == [], summary["worker_exits"]
    assert_ledger(summary, pipeline)


# ------------------------------------------------------------------------------------------------ Alertmanager

class Hook(BaseHTTPRequestHandler):
    """The forwarder's second receiver: records every alert body it is sent, so each delivery can be counted."""

    received: List[Dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Alertmanager:
    """Debian's Alertmanager on a fixed loopback port (a null receiver, no inhibitions): start, stop, start."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.port = tmp, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "am.yml").write_text("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([ALERTMANAGER, f"--config.file={self.tmp / 'am.yml'}",
                                      f"--storage.path={self.tmp / 'am-data'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                                     stdout=(self.tmp / "am.log").open("ab"), stderr=subprocess.STDOUT)
        wait_until(self.ready, 30, "Alertmanager ready")

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def active(self) -> Dict[str, str]:
        """Active spike alerts: key -> severity."""
        got = requests.get(f"{self.url}/api/v2/alerts", params={"filter": 'alertname="SurgewatchSpike"'},
                           timeout=5).json()
        return {a["labels"]["key"]: a["labels"]["severity"] for a in got if a["status"]["state"] == "active"}


class Forwarder:
    """`surgewatch alerts forward` as a service: restarted when it exits (the compose service's restart policy)."""

    def __init__(self, settings: Settings, am_url: str, hook_url: str, log: Path) -> None:
        self.cmd = [sys.executable, "-m", "surgewatch.cli", "alerts", "forward", "--alertmanager-url", am_url,
                    "--webhook-url", hook_url, "--firing-ttl", "120", "--per-key"]
        self.env, self.log = worker_env(settings), log
        self.exits: List[int] = []
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.cmd, env=self.env,
                                stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def supervise(self) -> None:
        if self.proc.poll() is not None:
            self.exits.append(self.proc.returncode)
            self.proc = self._start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.mark.timeout(2400)
@pytest.mark.skipif(ALERTMANAGER is None, reason="alertmanager not installed (apt-get install prometheus-alertmanager)")
def test_alertmanager_down_for_a_minute(pipeline: Pipeline, ledger: Ledger, reference: Reference) -> None:
    tmp_path = pipeline.tmp
    Hook.received = []
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    am = Alertmanager(tmp_path)
    am.start()
    fwd = Forwarder(pipeline.ns, am.url, f"http://127.0.0.1:{hook.server_address[1]}/hook", tmp_path / "fwd.log")

    def tick() -> None:
        pipeline.supervise()
        fwd.supervise()
    try:
        t0 = time.monotonic()
        pipeline.start(1)
        pipeline.feed(ledger.lines, rate=200)
        wait_until(lambda: len(Hook.received) >= 3, 900, "the first alerts delivered", tick, every=1.0)
        raised_before = topic_message_count(pipeline.ns, topics.ALERTS)
        am.stop()
        t_down = time.monotonic()
        # Alertmanager serves requests while it shuts down: the webhook post of an alert it accepted then may still
        # be under way. Deliveries count as during the outage from one in-flight post after it exited.
        time.sleep(IN_FLIGHT_S)
        delivered_before = len(Hook.received)
        while time.monotonic() - t_down < OUTAGE:
            tick()
            time.sleep(1)
        during = len(Hook.received) - delivered_before
        raised_during = topic_message_count(pipeline.ns, topics.ALERTS) - raised_before
        am.start()
        t_up = time.monotonic()
        settle(pipeline, ledger, SETTLE)
        on_topic = [json.loads(m.value) for m in read_topic(pipeline.ns, topics.ALERTS)]
        sent = [(a["alert_id"], a["state"]) for a in on_topic]
        recover = wait_until(lambda: len(Hook.received) >= len(sent), 600, "every alert delivered", tick)
        time.sleep(5)
        got = [(a["alert_id"], a["state"]) for a in Hook.received]
        # an episode may escalate twice: compare the records as multisets, not as sets
        missing_deliveries = sum((Counter(sent) - Counter(got)).values())
        extra_deliveries = sum((Counter(got) - Counter(sent)).values())
        last: Dict[str, Dict[str, Any]] = {}
        for a in on_topic:
            last[a["key"]] = a
        expected_active = {k: a["severity"] for k, a in last.items() if a["state"] != "resolved"}
        am_active: Dict[str, str] = {}

        def am_matches() -> bool:   # the forwarder re-posts active alerts every firing_ttl / 4 = 30 s
            am_active.clear()
            am_active.update(am.active())
            return am_active == expected_active
        am_ok = True
        try:
            wait_until(am_matches, 90, "Alertmanager holding the active alerts", tick, every=2.0)
        except AssertionError:
            am_ok = False
        summary = {**ledger_summary(pipeline, ledger, reference),
                   "am_down_s": round(t_up - t_down, 1), "delivered_during_outage": during,
                   "raised_during_outage": raised_during,
                   "alert_records": len(sent), "delivered": len(got),
                   "not_delivered": missing_deliveries, "delivered_twice": extra_deliveries,
                   "recover_s": round(recover, 1), "forwarder_exits": fwd.exits,
                   "am_active": len(am_active), "am_expected_active": len(expected_active),
                   "am_missing": sorted(set(expected_active) - set(am_active))[:20],
                   "am_extra": sorted(set(am_active) - set(expected_active))[:20],
                   "total_s": round(time.monotonic() - t0, 1)}
        report("alertmanager_down_60s", summary)
        assert during == 0, "delivered while Alertmanager was down"
        assert raised_during > 0, "no alert was raised while Alertmanager was down: nothing to show"
        assert summary["not_delivered"] == 0 and summary["delivered_twice"] == 0, summary
        assert am_ok, ("Alertmanager's active alerts differ from the alerts topic", summary["am_missing"],
                       summary["am_extra"])
        assert_ledger(summary, pipeline)
    finally:
        fwd.stop()
        am.stop()
        hook.shutdown()
