"""Real Prometheus against real metrics: consumes the shipped rules and a /metrics endpoint served by
Metrics().serve() in this process; produces assertions on scraped series, recording rules and rule health."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import requests
import yaml

from streams.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
PROMETHEUS = shutil.which("prometheus")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed (apt-get install prometheus)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 60.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except requests.RequestException as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def metrics_endpoint() -> Iterator[tuple[Metrics, int]]:
    m = Metrics()
    port = free_port()
    m.serve(port)  # the worker's own exposure code, loopback only
    yield m, port


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, metrics_endpoint: tuple[Metrics, int]) -> Iterator[str]:
    """A real Prometheus on a free loopback port, scraping the in-process endpoint every second, with the
    shipped rules (group intervals shortened to 1 s so the test does not wait 30 s per evaluation)."""
    tmp = tmp_path_factory.mktemp("prometheus")
    _, metrics_port = metrics_endpoint
    rule_files: List[str] = []
    for f in RULES:
        doc = yaml.safe_load(f.read_text())
        for g in doc["groups"]:
            g["interval"] = "1s"
        out = tmp / f.name
        out.write_text(yaml.safe_dump(doc))
        rule_files.append(str(out))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rule_files,
        "scrape_configs": [{"job_name": "surgewatch-worker",
                            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until("prometheus ready", lambda: proc.poll() is None and requests.get(f"{url}/-/ready", timeout=2).ok,
                   timeout=60)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if proc.returncode not in (0, -15):
            print((tmp / "prometheus.log").read_text()[-3000:])


def query(url: str, expr: str) -> List[Dict[str, Any]]:
    resp = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    resp.raise_for_status()
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def value_of(url: str, expr: str, labels: Optional[Dict[str, str]] = None) -> Optional[float]:
    for sample in query(url, expr):
        if all(sample["metric"].get(k) == v for k, v in (labels or {}).items()):
            return float(sample["value"][1])
    return None


def test_prometheus_scrapes_worker_metrics_and_records_rules(prometheus: str,
                                                             metrics_endpoint: tuple[Metrics, int]) -> None:
    m, _ = metrics_endpoint
    m.set_top_tags("region", {"region:dagestan": 7, "region:chechnya": 5, "region:tatarstan": 1}, n=2)
    m.tags.labels(dimension="region").inc(3)
    m.last_item_timestamp.labels(stage="enrich").set(time.time())

    assert wait_until("target up", lambda: value_of(prometheus, 'up{job="surgewatch-worker"}') == 1.0)

    # a gauge-based recording rule: top-N volume per (dimension, tag), bounded to N series
    def top_tags() -> Optional[Dict[str, float]]:
        res = query(prometheus, 'dimension_tag:surgewatch_tag_items_top:sum{dimension="region"}')
        return {s["metric"]["tag"]: float(s["value"][1]) for s in res} or None

    assert wait_until("recorded top tags", top_tags) == {"region:dagestan": 7.0, "region:chechnya": 5.0}

    # a rate-based recording rule: keep items flowing through the enrich stage until the rate shows up
    def rate_seen() -> Optional[float]:
        m.items_in.labels(stage="enrich").inc(10)
        m.items_out.labels(stage="enrich").inc(9)
        m.dead_letters.labels(stage="enrich", reason="missing_field").inc(1)
        v = value_of(prometheus, "stage:surgewatch_items_in:rate5m", {"stage": "enrich"})
        return v if v and v > 0 else None

    assert wait_until("recorded items_in rate", rate_seen, timeout=60) > 0
    assert value_of(prometheus, "surgewatch:news_items:rate5m") is not None
    assert wait_until("dead letter rate", lambda: value_of(
        prometheus, "stage_reason:surgewatch_dead_letters:rate5m", {"stage": "enrich", "reason": "missing_field"}))

    # every scraped surgewatch series is one the Metrics container declares (no drift between code and rules)
    names = {s["metric"]["__name__"] for s in query(prometheus, '{__name__=~"surgewatch_.*"}')}
    assert {"surgewatch_items_in_total", "surgewatch_tag_items_top", "surgewatch_tags_total"} <= names


def test_shipped_rules_load_and_evaluate_without_errors(prometheus: str) -> None:
    def groups() -> Optional[List[Dict[str, Any]]]:
        resp = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = [r for g in resp for r in g["rules"]]
        return resp if rules and all(r.get("lastEvaluation", "").startswith("2") and
                                     not r["lastEvaluation"].startswith("0001") for r in rules) else None

    loaded = wait_until("every rule evaluated", groups, timeout=60)
    expected = {g["name"] for f in RULES for g in yaml.safe_load(f.read_text())["groups"]}
    assert {g["name"] for g in loaded} == expected
    for g in loaded:
        for r in g["rules"]:
            assert r["health"] == "ok", (r["name"], r.get("lastError"))
    alerts = {r["name"] for g in loaded for r in g["rules"] if r["type"] == "alerting"}
    assert {"SurgewatchWorkerDown", "SurgewatchNoItemsIngested", "SurgewatchAlertStorm"} <= alerts
    # with a healthy target the worker-down alert must not fire
    active = requests.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    assert not [a for a in active if a["labels"]["alertname"] in ("SurgewatchWorkerDown", "SurgewatchNoWorkers")]


def test_every_dashboard_query_runs_and_the_volume_panels_have_data(prometheus: str,
                                                                    metrics_endpoint: tuple[Metrics, int]) -> None:
    import json

    m, _ = metrics_endpoint
    m.set_top_tags("topic", {"topic:protest": 4, "topic:elections": 2})
    m.set_top_tags("community", {"community:muslims": 6})
    exprs = []
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs += [(panel["title"], t["expr"]) for t in panel["targets"]]
    assert len(exprs) > 20
    for title, expr in exprs:
        query(prometheus, expr)  # raises unless Prometheus answers status=success

    def top(dimension: str) -> set:
        res = query(prometheus, f'topk(10, dimension_tag:surgewatch_tag_items_top:sum{{dimension="{dimension}"}})')
        return {s["metric"]["tag"] for s in res}

    assert wait_until("topic panel data", lambda: top("topic") == {"topic:protest", "topic:elections"})
    assert top("community") == {"community:muslims"}
    assert wait_until("workers-up panel", lambda: value_of(prometheus, 'count(up{job="surgewatch-worker"} == 1) '
                                                                       'or vector(0)') == 1.0)
