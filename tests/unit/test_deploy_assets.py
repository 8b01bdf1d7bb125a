"""Deployment assets: consumes docker-compose.yml, deploy/ (Prometheus, Alertmanager, Grafana, Kibana, Dockerfile),
.env.example; produces pass/fail on their validity and on their agreement with the code (metrics, settings, mappings)."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest
import yaml

from streams.config import Settings
from streams.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
SECURITY_OVERLAY = DEPLOY / "compose.security.yml"
PROM_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
SAVED_OBJECTS = DEPLOY / "kibana" / "saved_objects.ndjson"
SURGEWATCH_SERVICES = ("setup", "worker", "alert-forwarder", "ingest", "feeds")
INFRA_SERVICES = ("kafka", "elasticsearch", "kibana", "prometheus", "alertmanager", "grafana")

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)")

# Prometheus built-ins that dashboards/rules may use besides surgewatch metrics
BUILTIN_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}


def run(cmd: List[str], cwd: Path = ROOT, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


# ------------------------------------------------------------------------------------------------ metrics

def exposed_metric_names() -> Set[str]:
    """Every series name a worker exposes, from the real Metrics container (not a hand-kept list)."""
    names: Set[str] = set()
    for fam in Metrics().registry.collect():
        if fam.type == "counter":
            names |= {fam.name + "_total", fam.name + "_created"}
        elif fam.type == "histogram":
            names |= {fam.name + s for s in ("_bucket", "_sum", "_count", "_created")}
        else:
            names.add(fam.name)
    return names


def rule_groups() -> List[Dict[str, Any]]:
    groups: List[Dict[str, Any]] = []
    for f in RULE_FILES:
        groups += yaml.safe_load(f.read_text())["groups"]
    return groups


def recorded_names() -> Set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def dashboard_exprs() -> Iterator[Tuple[str, str, str]]:
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield path.name, panel["title"], target["expr"]


def rule_exprs() -> Iterator[Tuple[str, str]]:
    for g in rule_groups():
        for r in g["rules"]:
            yield r.get("record") or r["alert"], r["expr"]


_RECORDED = re.compile(r"\b[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*[a-zA-Z0-9_]\b")
_STRINGS = re.compile(r'"[^"]*"')
_SERIES = re.compile(r"\b(surgewatch_[a-zA-Z0-9_]+|up|ALERTS)\b")


def referenced_series(expr: str) -> Tuple[Set[str], Set[str]]:
    """(recording-rule names, raw series names) an expression selects; label values are ignored."""
    no_strings = _STRINGS.sub('""', expr)
    no_ranges = re.sub(r"\[[^\]]*\]", "", no_strings)  # [5m], [10m:1m]
    recorded = set(_RECORDED.findall(no_ranges))
    raw = set(_SERIES.findall(_RECORDED.sub(" ", no_ranges)))
    return recorded, raw


def test_exposed_metric_names_cover_the_documented_contract() -> None:
    names = exposed_metric_names()
    for n in ("surgewatch_items_in_total", "surgewatch_items_out_total", "surgewatch_dead_letters_total",
              "surgewatch_processing_seconds_bucket", "surgewatch_event_lag_seconds_bucket",
              "surgewatch_es_bulk_seconds_bucket", "surgewatch_es_bulk_failures_total",
              "surgewatch_indexed_documents_total", "surgewatch_tags_total", "surgewatch_alerts_total",
              "surgewatch_spike_keys", "surgewatch_consumer_lag_messages", "surgewatch_last_item_timestamp_seconds",
              "surgewatch_tag_items_top"):
        assert n in names


def test_every_metric_in_rules_and_dashboards_exists() -> None:
    exposed = exposed_metric_names() | BUILTIN_SERIES
    recorded = recorded_names()
    problems = []
    sources = [(f"rule {n}", e) for n, e in rule_exprs()] + [(f"{f} / {t}", e) for f, t, e in dashboard_exprs()]
    assert len(sources) > 20
    for where, expr in sources:
        rec, raw = referenced_series(expr)
        problems += [f"{where}: unknown recording rule {r}" for r in rec - recorded]
        problems += [f"{where}: unknown metric {m}" for m in raw - exposed]
        assert rec or raw, f"{where}: selects no series: {expr}"
    assert not problems, "\n".join(problems)


def test_reference_check_catches_a_typo() -> None:
    rec, raw = referenced_series('sum by (stage) (rate(surgewatch_items_inn_total{stage="enrich"}[5m]))')
    assert raw == {"surgewatch_items_inn_total"} and raw - exposed_metric_names()
    rec, raw = referenced_series('topk(10, dimension_tag:surgewatch_tag_items_top:sum{dimension="region"})')
    assert rec == {"dimension_tag:surgewatch_tag_items_top:sum"} and not raw


def test_top_tags_gauge_stays_bounded() -> None:
    m = Metrics()
    m.set_top_tags("region", {f"region:r{i}": float(i) for i in range(50)}, n=5)
    m.set_top_tags("region", {"region:new": 100.0, "region:r49": 49.0}, n=5)
    series = [s for fam in m.registry.collect() if fam.name == "surgewatch_tag_items_top" for s in fam.samples]
    assert sorted(s.labels["tag"] for s in series) == ["region:new", "region:r49"]
    assert m.registry.get_sample_value("surgewatch_tag_items_top", {"dimension": "region", "tag": "region:new"}) == 100


# ------------------------------------------------------------------------------------------------ grafana

def test_grafana_dashboards_are_valid_and_use_the_provisioned_datasource() -> None:
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"]
    uids = {d["uid"] for d in ds}
    assert {d["url"] for d in ds} == {"http://prometheus:9090"}
    prov = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/surgewatch.yml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    assert len(DASHBOARDS) >= 2
    seen_uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] not in seen_uids
        seen_uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in uids
            assert panel["targets"], panel["title"]
            g = panel["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24
    titles = " ".join(p["title"].lower() for path in DASHBOARDS for p in json.loads(path.read_text())["panels"])
    for needle in ("throughput", "latency", "lag", "dead letters", "top regions", "top communities", "top topics",
                   "alerts"):
        assert needle in titles


def test_grafana_volume_panels_use_bounded_labels_only() -> None:
    # per-tag volume must come from the top-N gauge; nothing may group by an unbounded label
    per_tag = 0
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                assert not re.search(r"by \([^)]*\b(id|url|title|story_id|key|alert_id)\b", expr), (path, expr)
                if "{{tag}}" in target.get("legendFormat", ""):
                    per_tag += 1
                    assert "surgewatch_tag_items_top" in expr and expr.startswith("topk(10,"), expr
    assert per_tag >= 3


@needs_promtool
def test_dashboard_expressions_parse(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard-exprs", "rules": [
        {"record": f"dashboard:expr_{i}:check", "expr": e} for i, (_, _, e) in enumerate(dashboard_exprs())]}]}
    f = tmp_path / "exprs.yml"
    f.write_text(yaml.safe_dump(rules))
    res = run([PROMTOOL, "check", "rules", str(f)])
    assert res.returncode == 0, res.stdout + res.stderr


# ------------------------------------------------------------------------------------------------ prometheus

@needs_promtool
def test_promtool_check_config() -> None:
    for cfg in ("prometheus.yml", "prometheus-local.yml"):
        res = run([PROMTOOL, "check", "config", cfg], cwd=PROM_DIR)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "rules found" in res.stdout  # the rule_files glob resolved relative to the config


@needs_promtool
def test_promtool_check_rules() -> None:
    res = run([PROMTOOL, "check", "rules", *map(str, RULE_FILES)])
    assert res.returncode == 0, res.stdout + res.stderr


@needs_promtool
def test_promtool_unit_tests() -> None:
    tests = sorted((PROM_DIR / "tests").glob("*.yml"))
    assert tests
    res = run([PROMTOOL, "test", "rules", *map(str, tests)])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_every_alert_rule_is_unit_tested_and_has_routing_labels() -> None:
    tested: Set[str] = set()
    tested_exprs: Set[str] = set()
    for f in (PROM_DIR / "tests").glob("*.yml"):
        for t in yaml.safe_load(f.read_text())["tests"]:
            tested |= {a["alertname"] for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
            tested_exprs |= {e["expr"] for e in t.get("promql_expr_test", [])}
    alerts = [r for g in rule_groups() for r in g["rules"] if "alert" in r]
    for r in alerts:
        assert r["alert"] in tested, f"alert {r['alert']} has no firing promtool test"
        assert r["labels"]["severity"] in ("warning", "critical")
        assert r["annotations"]["summary"] and r["annotations"]["description"]
    assert {"SurgewatchNoItemsIngested", "SurgewatchDeadLetterRateHigh", "SurgewatchConsumerLagGrowing",
            "SurgewatchElasticsearchBulkFailures", "SurgewatchWorkerDown", "SurgewatchAlertStorm"} <= tested
    assert recorded_names() <= tested_exprs, recorded_names() - tested_exprs


def test_prometheus_discovers_compose_workers_by_dns() -> None:
    prom = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    compose = yaml.safe_load(COMPOSE.read_text())
    [job] = [j for j in prom["scrape_configs"] if j["job_name"] == "surgewatch-worker"]
    [sd] = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and "worker" in compose["services"]
    worker_env = compose["services"]["worker"]["environment"]
    assert str(sd["port"]) == str(worker_env["SURGEWATCH_METRICS_PORT"])
    assert worker_env["SURGEWATCH_METRICS_HOST"] == "0.0.0.0"
    local = yaml.safe_load((PROM_DIR / "prometheus-local.yml").read_text())
    [ljob] = local["scrape_configs"]
    assert ljob["job_name"] == "surgewatch-worker"
    assert ljob["static_configs"][0]["targets"] == [f"127.0.0.1:{Settings(_env_file=None).metrics_port}"]


# ------------------------------------------------------------------------------------------------ alertmanager

@needs_amtool
def test_amtool_check_config() -> None:
    res = run([AMTOOL, "check-config", str(DEPLOY / "alertmanager/alertmanager.yml")])
    assert res.returncode == 0, res.stdout + res.stderr


@needs_amtool
@pytest.mark.parametrize("labels,receivers", [
    (["alertname=SurgewatchSpike", "severity=high", "key=region:dagestan"], "spikes-urgent-webhook,spikes-webhook"),
    (["alertname=SurgewatchSpike", "severity=low", "key=topic:protest"], "spikes-webhook"),
    (["alertname=SurgewatchWorkerDown", "severity=critical"], "oncall-webhook"),
    (["alertname=SurgewatchDeadLetterRateHigh", "severity=warning"], "pipeline-webhook"),
    (["alertname=Other"], "pipeline-webhook"),
])
def test_alertmanager_routes(labels: List[str], receivers: str) -> None:
    res = run([AMTOOL, "config", "routes", "test", "--config.file", str(DEPLOY / "alertmanager/alertmanager.yml"),
               *labels])
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == receivers


# ------------------------------------------------------------------------------------------------ kibana

def _flatten(props: Dict[str, Any], prefix: str = "") -> Dict[str, str]:
    out: Dict[str, str] = {}
    for name, spec in props.items():
        path = prefix + name
        out[path] = spec.get("type", "object")
        if "properties" in spec:
            out.update(_flatten(spec["properties"], path + "."))
        for sub, sspec in spec.get("fields", {}).items():
            out[f"{path}.{sub}"] = sspec["type"]
    return out


def mapping_fields_for(title: str) -> Dict[str, str]:
    """Fields of the index template whose indices (and alias) a data view title (index pattern) covers."""
    from processors.index.setup import MAPPING_VERSION, alias, load_template

    settings = Settings(_env_file=None)
    for kind in ("news", "alerts"):
        name = alias(settings, kind)
        first_index = f"{name}-v{MAPPING_VERSION}-000001"  # what `surgewatch setup` creates behind the alias
        if fnmatch.fnmatch(first_index, title) and fnmatch.fnmatch(name, title):
            return _flatten(load_template(kind)["template"]["mappings"]["properties"])
    raise AssertionError(f"no index template covers data view {title}")


def saved_objects() -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    lines = [ln for ln in SAVED_OBJECTS.read_text().splitlines() if ln.strip()]
    docs = [json.loads(ln) for ln in lines]
    return docs[:-1], docs[-1]


AGGREGATABLE = {"keyword", "date", "long", "integer", "float", "double", "boolean", "ip"}


def kibana_field_refs(obj: Dict[str, Any]) -> List[Tuple[str, str, Set[str]]]:
    """(data view reference name, field, allowed types) for every field a saved object uses."""
    a = obj["attributes"]
    refs: List[Tuple[str, str, Set[str]]] = []
    anytype: Set[str] = set()
    if obj["type"] == "search":
        ref = "kibanaSavedObjectMeta.searchSourceJSON.index"
        refs += [(ref, c, anytype) for c in a["columns"]]
        refs += [(ref, s[0], AGGREGATABLE) for s in a["sort"]]
        query = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        refs += [(ref, f, anytype) for f in re.findall(r"([a-zA-Z_][\w.]*)\s*:", query)]
    elif obj["type"] == "lens":
        for layer_id, layer in a["state"]["datasourceStates"]["formBased"]["layers"].items():
            for col in layer["columns"].values():
                if col["sourceField"] != "___records___":
                    want = {"date"} if col["operationType"] == "date_histogram" else AGGREGATABLE
                    refs.append((f"indexpattern-datasource-layer-{layer_id}", col["sourceField"], want))
    elif obj["type"] == "map":
        for layer in json.loads(a["layerListJSON"]):
            src = layer["sourceDescriptor"]
            if "geoField" in src:
                refs.append((src["indexPatternRefName"], src["geoField"], {"geo_point"}))
    return refs


def test_kibana_saved_objects_are_valid_export_ndjson() -> None:
    objs, summary = saved_objects()
    assert summary["exportedCount"] == len(objs) and summary["missingRefCount"] == 0
    ids = {(o["type"], o["id"]) for o in objs}
    assert len(ids) == len(objs)
    for o in objs:
        assert {"type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"} <= set(o)
        for r in o["references"]:
            assert (r["type"], r["id"]) in ids, f"{o['id']}: dangling reference {r}"
        for key in ("searchSourceJSON",):
            meta = o["attributes"].get("kibanaSavedObjectMeta")
            if meta:
                json.loads(meta[key])
        for key in ("panelsJSON", "optionsJSON", "layerListJSON", "mapStateJSON", "uiStateJSON"):
            if key in o["attributes"]:
                json.loads(o["attributes"][key])
    types = [o["type"] for o in objs]
    assert types.count("index-pattern") == 2 and "dashboard" in types and "map" in types
    assert types.count("search") >= 4  # one per dimension + alerts


def test_kibana_data_views_match_the_index_templates() -> None:
    objs, _ = saved_objects()
    dvs = {o["attributes"]["title"]: o["attributes"]["timeFieldName"] for o in objs if o["type"] == "index-pattern"}
    assert dvs == {"surgewatch-news*": "published_at", "surgewatch-alerts*": "window_start"}
    for title, time_field in dvs.items():
        assert mapping_fields_for(title)[time_field] == "date"


def test_every_field_in_kibana_saved_objects_exists_in_the_mappings() -> None:
    objs, _ = saved_objects()
    by_id = {o["id"]: o for o in objs}
    checked = 0
    problems = []
    for o in objs:
        refmap = {r["name"]: by_id[r["id"]] for r in o["references"] if r["type"] == "index-pattern"}
        for ref_name, fld, allowed in kibana_field_refs(o):
            title = refmap[ref_name]["attributes"]["title"]
            fields = mapping_fields_for(title)
            checked += 1
            if fld not in fields:
                problems.append(f"{o['type']} {o['id']}: field {fld} not in the mapping of {title}")
            elif allowed and fields[fld] not in allowed:
                problems.append(f"{o['type']} {o['id']}: field {fld} is {fields[fld]}, needs one of {allowed}")
    assert checked >= 20
    assert not problems, "\n".join(problems)


def test_kibana_dashboard_has_map_tag_facets_and_alerts_timeline() -> None:
    objs, _ = saved_objects()
    [dash] = [o for o in objs if o["type"] == "dashboard"]
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    used = [refs[f"{p['panelIndex']}:{p['panelRefName']}"]["id"] for p in panels]
    by_id = {o["id"]: o for o in objs}
    fields = {f for i in used for _, f, _ in kibana_field_refs(by_id[i])}
    assert {"location", "region_ids", "community_ids", "topic_ids", "window_start", "severity"} <= fields
    searched_dims = {f for o in objs if o["type"] == "search" for _, f, _ in kibana_field_refs(o)}
    assert {"region_ids", "community_ids", "topic_ids"} <= searched_dims


# ------------------------------------------------------------------------------------------------ compose

def compose_schema() -> Dict[str, Any]:
    return json.loads((DEPLOY / "compose-spec" / "compose-spec.json").read_text())


def compose_doc(path: Path = COMPOSE) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", [COMPOSE, SECURITY_OVERLAY], ids=lambda p: p.name)
def test_compose_files_validate_against_the_compose_spec_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft201909Validator(compose_schema())
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose_doc(path))]
    assert not errors, "\n".join(errors)


def test_compose_schema_validation_rejects_a_bad_file() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = compose_doc()
    doc["services"]["worker"]["deploy_replicas"] = 3
    doc["services"]["kafka"]["depends_on"] = {"elasticsearch": {"condition": "service_ready"}}
    errors = list(jsonschema.Draft201909Validator(compose_schema()).iter_errors(doc))
    assert len(errors) >= 2


def test_compose_structure() -> None:
    doc = compose_doc()
    services = doc["services"]
    assert set(INFRA_SERVICES) | set(SURGEWATCH_SERVICES) <= set(services)
    for name, svc in services.items():
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image}"
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services
            assert cond["condition"] in ("service_healthy", "service_completed_successfully"), (name, dep)
            if cond["condition"] == "service_healthy":
                assert "test" in services[dep].get("healthcheck", {}), f"{dep} has no healthcheck"
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if not src.startswith((".", "/", "$")):
                assert src in doc["volumes"], f"{name}: undeclared named volume {src}"
    for name in INFRA_SERVICES:
        assert "test" in services[name]["healthcheck"], name
    # one image for every surgewatch service, built from deploy/Dockerfile
    images = {services[n]["image"] for n in SURGEWATCH_SERVICES}
    assert len(images) == 1
    for n in SURGEWATCH_SERVICES:
        assert services[n]["build"]["dockerfile"] == "deploy/Dockerfile"
    # scalable workers: no fixed name, no host ports; metrics reachable on the compose network
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert services["setup"]["depends_on"]["kibana"]["condition"] == "service_healthy"
    # Kafka in KRaft mode, Elasticsearch and Kibana on the same 8.x version
    kafka_env = services["kafka"]["environment"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller" and "ZOOKEEPER" not in json.dumps(kafka_env)
    es_ver = services["elasticsearch"]["image"].rsplit(":", 1)[1]
    assert es_ver.startswith("8.") and services["kibana"]["image"].rsplit(":", 1)[1] == es_ver
    # published ports bound to loopback only
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def _compose_cli() -> Optional[List[str]]:
    """A Docker Compose CLI that runs here: the docker CLI plugin (v2), else `docker-compose` (Debian's v1.29
    package or a v2 binary); None when there is none."""
    candidates: List[List[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cmd in candidates:
        try:
            res = run([*cmd, "version"])
        except (OSError, subprocess.SubprocessError):
            continue
        if res.returncode == 0 and "version" in res.stdout.lower():
            return cmd
    return None


COMPOSE_CLI = _compose_cli()


def compose_config(*args: str, env: Dict[str, str]) -> Dict[str, Any]:
    assert COMPOSE_CLI is not None
    res = run([*COMPOSE_CLI, *args, "config"], env=env)
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


@pytest.mark.skipif(COMPOSE_CLI is None,
                    reason="no Docker Compose CLI (apt-get install docker-compose, or Docker with the compose plugin)")
def test_docker_compose_config(tmp_path: Path) -> None:
    assert COMPOSE_CLI is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SURGEWATCH_", "ELASTIC_", "KIBANA_"))}
    cfg = compose_config("-f", str(COMPOSE), "--profile", "replay", "--profile", "feeds", env=env)
    assert cfg["services"]["worker"]["environment"]["SURGEWATCH_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert cfg["services"]["ingest"]["command"][:2] == ["ingest", "/app/sample-news.jsonl"]
    # .env.example copied to .env interpolates cleanly
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    res = run([*COMPOSE_CLI, "config", "-q"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    # the CLI rejects what the spec forbids (so a pass above means something)
    (tmp_path / "bad.yml").write_text(COMPOSE.read_text().replace("    stop_grace_period: 30s\n",
                                                                  "    stop_grace_period: 30s\n    bogus: 1\n"))
    res = run([*COMPOSE_CLI, "-f", str(tmp_path / "bad.yml"), "config", "-q"], env=env)
    assert res.returncode != 0 and "bogus" in (res.stderr + res.stdout)
    # the security overlay refuses to start without passwords, and merges when they are given
    res = run([*COMPOSE_CLI, "-f", str(COMPOSE), "-f", str(SECURITY_OVERLAY), "config", "-q"], env=env)
    assert res.returncode != 0 and "ELASTIC_PASSWORD" in res.stderr
    env2 = dict(env, ELASTIC_PASSWORD="pw-elastic", KIBANA_SYSTEM_PASSWORD="pw-kibana",
                KIBANA_ENCRYPTION_KEY="k" * 32, SURGEWATCH_ES_PASSWORD="pw-elastic")
    cfg = compose_config("-f", str(COMPOSE), "-f", str(SECURITY_OVERLAY), env=env2)
    assert cfg["services"]["elasticsearch"]["environment"]["xpack.security.enabled"] == "true"
    assert cfg["services"]["worker"]["environment"]["SURGEWATCH_ES_PASSWORD"] == "pw-elastic"
    assert cfg["services"]["kibana"]["depends_on"]["es-init"]["condition"] == "service_completed_successfully"


# ------------------------------------------------------------------------------------------------ env, image

def test_env_example_lists_every_setting_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*(SURGEWATCH_[A-Z0-9_]+)=", text, flags=re.M))
    fields = {f"SURGEWATCH_{n.upper()}" for n in Settings.model_fields}
    assert fields <= listed, fields - listed
    for name in fields:  # each setting carries a comment line right above it
        line_idx = next(i for i, ln in enumerate(text.splitlines()) if re.match(rf"#?\s*{name}=", ln))
        above = text.splitlines()[line_idx - 1]
        assert above.startswith("#"), name
    # copied to .env it changes nothing
    assert Settings(_env_file=str(ROOT / ".env.example")) == Settings(_env_file=None)


def test_every_compose_variable_is_documented_in_env_example() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.M))
    used = set()
    for path in (COMPOSE, SECURITY_OVERLAY):
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", path.read_text()))
    assert used and used <= documented, used - documented


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim", text, flags=re.M)
    assert "pip install ." in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/metrics" in text
    assert 'ENTRYPOINT ["surgewatch"]' in text
    # the build proves the spaCy model loads the way the tagger loads it (the PyPI package's module name differs)
    m = re.search(r"python -c \"(from processors[^\"]+)\"", text)
    assert m, "the image build must load the spaCy model"
    res = run([sys.executable, "-c", m.group(1)])
    assert res.returncode == 0, res.stderr[-2000:]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".surgewatch", ".env"} <= set(ignored)
    # everything the Dockerfile copies survives .dockerignore
    for src in re.findall(r"^COPY (?:--\S+ )*(\S+)", text, flags=re.M):
        assert src.split("/")[0] not in ignored, src


def test_setup_bootstrap_script_imports_the_shipped_saved_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sw_bootstrap", DEPLOY / "setup" / "bootstrap.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.DEFAULT_SAVED_OBJECTS == SAVED_OBJECTS
    # security off (no credentials): the es-security step is a no-op and needs no server
    monkeypatch.delenv("SURGEWATCH_ES_USERNAME", raising=False)
    mod.es_security("http://127.0.0.1:9", "", timeout=0)
    # the compose setup job runs exactly this script after `surgewatch setup`
    setup_cmd = compose_doc()["services"]["setup"]["command"][0]
    assert setup_cmd.startswith("surgewatch setup && ") and "bootstrap.py kibana-import" in setup_cmd
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "deploy/setup /app/deploy/setup" in dockerfile and "deploy/kibana /app/deploy/kibana" in dockerfile


def test_compose_forwarder_starts_a_new_group_at_the_oldest_alert() -> None:
    # a forwarder group that starts at "latest" loses every alert produced before its first commit
    cmd = compose_doc()["services"]["alert-forwarder"]["command"]
    assert cmd[:2] == ["alerts", "forward"] and "--from-beginning" in cmd and "--from-latest" not in cmd
