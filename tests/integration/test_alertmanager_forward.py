"""Real Alertmanager behind the forwarder: consumes Alerts through the alert sink's posting code, produces
assertions on Alertmanager's API (GET /api/v2/alerts) and on the webhooks its shipped routes notify."""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import aiohttp
import pytest
import requests
import yaml
from aiohttp import web

from sinks.alerting import alertmanager as am_alerter
from sinks.alerting import forwarder
from sinks.alerting import http
from sinks.alerting import mapping
from sinks.alerting import webhook
from streams.records import Alert, ArticleRef

ROOT = Path(__file__).resolve().parents[2]
AM_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
FAST = http.RetryPolicy(attempts=4, max_seconds=10, initial=0.05, maximum=0.2)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ALERTMANAGER is None, reason="alertmanager not installed (apt-get install prometheus-alertmanager)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """A loopback HTTP receiver recording every JSON body POSTed to it, by path; can fail on demand."""

    def __init__(self) -> None:
        self.received: List[Tuple[str, Any]] = []
        self.fail_next: List[int] = []  # status codes to answer before succeeding
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="try again")
        self.received.append((request.path, body))
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


@pytest.fixture
async def sink() -> Any:
    s = Sink()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def alertmanager(tmp_path: Path, sink: Sink) -> Iterator[str]:
    """A real Alertmanager with the shipped routes/inhibitions and the receivers the compose job renders from
    ALERT_WEBHOOK_URL (pointed at the loopback sink, one path per receiver); group waits are shortened,
    clustering is off (no 0.0.0.0:9094 listener)."""
    sys.path.insert(0, str(ROOT / "deploy" / "setup"))
    try:
        from receivers import render
    finally:
        sys.path.pop(0)
    cfg = render(yaml.safe_load(AM_CONFIG.read_text()), {"ALERT_WEBHOOK_URL": f"{sink.url}/{{receiver}}"})

    def shorten(route: Dict[str, Any]) -> None:
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    shorten(cfg["route"])
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(cfg))
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen([ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
                             f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()[-2000:]
            try:
                if requests.get(f"{url}/-/ready", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "alertmanager did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def make_alert(key: str = "region:dagestan", severity: str = "high", state: str = "firing", **over: Any) -> Alert:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    base: Dict[str, Any] = dict(
        alert_id=f"{key}@test", key=key, dimensions=dict(p.split(":", 1) for p in key.split("|")),
        window_start=(now - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        window_end=now.isoformat().replace("+00:00", "Z"), state=state, observed=21, expected=3.5, score=6.1,
        severity=severity,
        top_articles=[ArticleRef(id="a1", title="Rally in Makhachkala", url="https://example.org/a1", source="ex")],
        kibana_url="http://localhost:5601/app/discover#/?_a=(query:(language:kuery,query:'id:a1'))",
    )
    base.update(over)
    return Alert(**base)


async def am_alerts(session: aiohttp.ClientSession, url: str, key: str) -> List[Dict[str, Any]]:
    async with session.get(f"{url}/api/v2/alerts", params={"filter": f'key="{key}"'}) as resp:
        assert resp.status == 200
        return await resp.json()


async def eventually(probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def test_alert_lifecycle_in_alertmanager(alertmanager: str, sink: Sink) -> None:
    key = "community:muslims|topic:protest"
    async with aiohttp.ClientSession() as session:
        fwd = forwarder.Forwarder(session=session, alertmanager_url=alertmanager, retry=FAST,
                                firing_ttl=timedelta(minutes=10))
        assert await fwd.deliver(make_alert(key, "high"))
        [got] = await am_alerts(session, alertmanager, key)
        assert got["labels"] == {"alertname": "SurgewatchSpike", "key": key, "severity": "high",
                                 "community": "muslims", "topic": "protest"}
        assert got["status"]["state"] == "active"
        assert got["annotations"]["observed"] == "21" and got["annotations"]["kibana_url"].startswith("http://")
        assert "Rally in Makhachkala" in got["annotations"]["top_articles"]
        assert got["generatorURL"].startswith("http://localhost:5601/app/discover")
        ends = datetime.fromisoformat(got["endsAt"].replace("Z", "+00:00"))
        assert timedelta(minutes=9) < ends - datetime.now(timezone.utc) <= timedelta(minutes=10, seconds=5)

        # the shipped routes notify both spike receivers for a high alert
        async def notified() -> set:
            return {p for p, _ in sink.received} >= {"/spikes-urgent-webhook", "/spikes-webhook"}
        await eventually(notified)
        path, body = next((p, b) for p, b in sink.received if p == "/spikes-urgent-webhook")
        assert body["status"] == "firing" and body["alerts"][0]["labels"]["key"] == key

        # escalation to critical: one active alert for the key, at the new severity
        assert await fwd.deliver(make_alert(key, "critical", "escalated"))

        async def only_critical() -> bool:
            alerts = await am_alerts(session, alertmanager, key)
            return [a["labels"]["severity"] for a in alerts] == ["critical"]
        await eventually(only_critical)

        # the forwarder re-posts active alerts so they outlive firing_ttl
        assert await fwd.refresh(now=datetime.now(timezone.utc) + timedelta(minutes=5)) == 1
        [crit] = await am_alerts(session, alertmanager, key)
        assert datetime.fromisoformat(crit["endsAt"].replace("Z", "+00:00")) > ends + timedelta(minutes=4)

        # resolution: nothing active for the key any more, and the receiver hears "resolved"
        assert await fwd.deliver(make_alert(key, "medium", "resolved"))
        assert await am_alerts(session, alertmanager, key) == []
        assert fwd.active == {}


async def test_subscription_filters_before_alertmanager(alertmanager: str) -> None:
    async with aiohttp.ClientSession() as session:
        fwd = forwarder.Forwarder(session=session, alertmanager_url=alertmanager, retry=FAST,
                                subscription=mapping.Subscription(("region:",), "high"))
        assert not await fwd.deliver(make_alert("region:tatarstan", "medium"))
        assert not await fwd.deliver(make_alert("topic:protest", "critical"))
        assert await fwd.deliver(make_alert("region:chechnya", "critical"))
        assert await am_alerts(session, alertmanager, "region:tatarstan") == []
        assert await am_alerts(session, alertmanager, "topic:protest") == []
        [got] = await am_alerts(session, alertmanager, "region:chechnya")
        assert got["labels"]["region"] == "chechnya"
        assert (fwd.forwarded, fwd.skipped) == (1, 2)


async def test_alertmanager_rejects_a_malformed_alert_without_retrying(alertmanager: str) -> None:
    async with aiohttp.ClientSession() as session:
        bad = [{"labels": {"bad label": "x"}, "startsAt": "2023-11-02T10:00:00Z"}]
        with pytest.raises(ValueError, match="HTTP 400"):
            await am_alerter.post_alertmanager(session, alertmanager, bad, retry=FAST)


async def test_webhook_delivery_retries_transient_errors(sink: Sink) -> None:
    sink.fail_next = [503, 502]
    async with aiohttp.ClientSession() as session:
        fwd = forwarder.Forwarder(session=session, webhook_url=f"{sink.url}/hook", retry=FAST)
        assert await fwd.deliver(make_alert("region:dagestan", "low"))
    assert sink.fail_next == []  # both transient failures were answered before the delivery succeeded
    [(path, body)] = sink.received
    assert path == "/hook" and body["key"] == "region:dagestan" and body["severity"] == "low"
    assert body["top_articles"][0]["title"] == "Rally in Makhachkala" and "__faust" not in str(body)


async def test_webhook_delivery_gives_up_after_bounded_retries() -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(http.DeliveryError) as err:
            await webhook.post_webhook(session, dead, {"x": 1}, retry=FAST)
    assert time.monotonic() - started < 10
    # the CLI turns it into exit 2; the message names the receiver's host and port, not its path (tokens live there)
    assert isinstance(err.value.__cause__, aiohttp.ClientConnectionError) and "nobody-listens" not in str(err.value)


# ------------------------------------------------------------------------------------------------ with Kafka

async def _run_until(ns: Any, sink: Sink, group: str, count: int, quiet: float = 1.5,
                     from_beginning: bool = True) -> None:
    """Run the forwarder until the sink holds `count` bodies (then `quiet` more seconds), and stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run_forwarder(
        ns, dict(webhook_url=f"{sink.url}/hook", retry=FAST), group, from_beginning, stop))
    deadline = time.monotonic() + 60
    while len(sink.received) < count:
        assert not task.done(), task.exception() if task.done() else None
        assert time.monotonic() < deadline, f"got {len(sink.received)} of {count} alerts"
        await asyncio.sleep(0.2)
    await asyncio.sleep(quiet)
    stop.set()
    await asyncio.wait_for(task, 30)


def _produce(ns: Any, values: List[bytes]) -> None:
    from kafka import KafkaProducer

    from streams import topics

    producer = KafkaProducer(bootstrap_servers=ns.kafka_servers)
    try:
        for v in values:
            producer.send(topics.name(ns, topics.ALERTS), value=v)
        producer.flush()
    finally:
        producer.close()


def _dead_letters(ns: Any) -> List[Any]:
    from kafka import KafkaConsumer

    from streams import topics
    from streams.records import DeadLetter

    consumer = KafkaConsumer(topics.name(ns, topics.DEADLETTER), bootstrap_servers=ns.kafka_servers, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        return [DeadLetter.loads(m.value) for m in consumer]
    finally:
        consumer.close()


async def test_forwarder_consumes_the_alerts_topic_and_commits_after_delivery(ns: Any, sink: Sink) -> None:
    """Kafka (local stack or SURGEWATCH_KAFKA_BOOTSTRAP) → run_forwarder → webhook; offsets commit only after
    delivery, so a failed delivery is retried by the next run of the same group."""
    from streams.setup import ensure_topics

    ensure_topics(ns)
    group = f"{ns.app_id}-fwd"
    _produce(ns, [make_alert(f"region:r{i}").dumps() for i in range(3)] + [b"not an alert"])
    await _run_until(ns, sink, group, 3)
    assert [b["key"] for _, b in sink.received] == ["region:r0", "region:r1", "region:r2"]
    # the undecodable record is not skipped silently: it is a dead letter of the forward stage, with its position
    dls = _dead_letters(ns)
    assert [(d.stage, d.reason, d.offset, d.payload) for d in dls] == [("forward", "bad_record", 3, "not an alert")]

    # same group again: the committed alerts are not re-sent, a new one is
    sink.received.clear()
    _produce(ns, [make_alert("region:r3").dumps()])
    await _run_until(ns, sink, group, 1)
    assert [b["key"] for _, b in sink.received] == ["region:r3"]

    # the receiver keeps failing: the run gives up without committing ...
    sink.received.clear()
    _produce(ns, [make_alert("region:r4").dumps()])
    await _give_up(ns, sink, group)
    # ... so the next run delivers the same alert
    await _run_until(ns, sink, group, 1)
    assert [b["key"] for _, b in sink.received] == ["region:r4"]


def _committed(ns: Any, group: str) -> Dict[int, int]:
    """The group's committed offsets on the alerts topic, by partition."""
    from kafka import KafkaAdminClient

    from streams import topics

    admin = KafkaAdminClient(bootstrap_servers=ns.kafka_servers)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topics.name(ns, topics.ALERTS) and meta.offset >= 0}


async def _give_up(ns: Any, sink: Sink, group: str, from_beginning: bool = True) -> None:
    """One run against a receiver that keeps failing: it must exit with DeliveryError (retries exhausted)."""
    sink.fail_next = [503] * 50
    with pytest.raises(http.DeliveryError):
        await asyncio.wait_for(forwarder.run_forwarder(ns, dict(webhook_url=f"{sink.url}/hook", retry=FAST), group,
                                                     from_beginning, asyncio.Event()), 60)
    sink.fail_next = []


async def test_a_new_group_that_never_delivered_resumes_at_the_first_alert(ns: Any, sink: Sink) -> None:
    """The compose service's path: the alert exists before the forwarder's group does, the first run gives up
    (receiver down) before any delivery, and the restarted run still delivers it."""
    from streams.setup import ensure_topics

    ensure_topics(ns)
    group = f"{ns.app_id}-fwd-new"
    _produce(ns, [make_alert("region:early").dumps()])
    await _give_up(ns, sink, group)
    assert sink.received == []
    await _run_until(ns, sink, group, 1)
    assert [b["key"] for _, b in sink.received] == ["region:early"]


async def test_from_latest_pins_its_start_so_a_restart_skips_nothing_new(ns: Any, sink: Sink) -> None:
    """--from-latest skips the history once; what is produced while the forwarder is down is delivered later."""
    from streams.setup import ensure_topics

    ensure_topics(ns)
    group = f"{ns.app_id}-fwd-latest"
    _produce(ns, [make_alert("region:history").dumps()])
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run_forwarder(ns, dict(webhook_url=f"{sink.url}/hook", retry=FAST), group,
                                                     False, stop))
    deadline = time.monotonic() + 60
    while not _committed(ns, group):  # joined the group and committed its start, delivered nothing
        assert not task.done() and time.monotonic() < deadline, "the new group committed no start offset"
        await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert sink.received == [] and _committed(ns, group) == {0: 1}
    _produce(ns, [make_alert("region:while-down").dumps()])
    await _run_until(ns, sink, group, 1, from_beginning=False)
    assert [b["key"] for _, b in sink.received] == ["region:while-down"]
