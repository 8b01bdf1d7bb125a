"""Kubernetes path: consumes deploy/kubernetes (kustomize manifests), produces pass/fail on their validity against the
Kubernetes API schemas (kubernetes-validate), kustomize rendering, and their agreement with the code (settings,
CLI commands, metrics port, PodDisruptionBudget selector, Prometheus rules)."""
from __future__ import annotations

import re
import shutil
from typing import Any, Dict, List

import pytest
import yaml

from streams.config import Settings
from tests.unit.test_deploy_assets import DEPLOY, run


# ------------------------------------------------------------------------------------------------ kubernetes

K8S = DEPLOY / "kubernetes"
KUBECTL = shutil.which("kubectl")


def k8s_objects() -> List[Dict[str, Any]]:
    """The resources kustomization.yaml lists, as written (kustomize adds the namespace, labels and image)."""
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: List[Dict[str, Any]] = []
    for res in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / res).read_text()) if d]
    return docs


def k8s_one(kind: str, name: str) -> Dict[str, Any]:
    [obj] = [d for d in k8s_objects() if d["kind"] == kind and d["metadata"]["name"] == name]
    return obj


def test_kubernetes_manifests_validate_against_the_api_schemas() -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    docs = k8s_objects()
    assert {d["kind"] for d in docs} >= {"Deployment", "PodDisruptionBudget", "Job", "ConfigMap", "Secret", "Service"}
    for doc in docs:
        kv.validate(doc, "1.32.0", strict=True)
    bad = k8s_one("Job", "surgewatch-setup")
    bad["spec"]["template"]["spec"]["containers"][0]["argz"] = ["setup"]  # the validator does reject typos
    with pytest.raises(Exception, match="argz"):
        kv.validate(bad, "1.32.0", strict=True)


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed (apt-get install kubectl)")
def test_kustomize_renders_the_manifests() -> None:
    assert KUBECTL is not None
    res = run([KUBECTL, "kustomize", str(K8S)])
    assert res.returncode == 0, res.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    assert len(docs) == len(k8s_objects())
    namespaced = [d for d in docs if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"surgewatch"}
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "Job")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"registry.example.org/surgewatch:0.1.0"}


def _pod_spec(kind: str, name: str) -> Dict[str, Any]:
    return k8s_one(kind, name)["spec"]["template"]["spec"]


def test_kubernetes_workers_pdb_scraping_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = k8s_one("Deployment", "surgewatch-worker")
    pdb = k8s_one("PodDisruptionBudget", "surgewatch-worker")
    assert pdb["spec"]["selector"] == worker["spec"]["selector"]
    pod_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels[k] == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())
    assert worker["spec"]["replicas"] > pdb["spec"]["maxUnavailable"]
    config = k8s_one("ConfigMap", "surgewatch-config")["data"]
    secret = k8s_one("Secret", "surgewatch-secrets")["stringData"]
    ann = worker["spec"]["template"]["metadata"]["annotations"]
    [port] = worker["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics"
    assert ann["prometheus.io/port"] == str(port["containerPort"]) == config["SURGEWATCH_METRICS_PORT"]
    assert config["SURGEWATCH_METRICS_HOST"] == "0.0.0.0"
    # every pod reads the ConfigMap and the Secret, and together they are valid Settings
    for kind, name in (("Deployment", "surgewatch-worker"), ("Deployment", "surgewatch-alert-forwarder"),
                       ("Job", "surgewatch-setup")):
        [c] = _pod_spec(kind, name)["containers"]
        refs = {e.get("configMapRef", e.get("secretRef", {})).get("name") for e in c["envFrom"]}
        assert refs == {"surgewatch-config", "surgewatch-secrets"}, name
        assert _pod_spec(kind, name)["securityContext"]["runAsUser"] == 10001  # the image's user
    fields = {f"SURGEWATCH_{n.upper()}" for n in Settings.model_fields}
    extra = set(config) - fields
    assert extra == {"ALERTMANAGER_URL", "SURGEWATCH_FORWARD_MIN_SEVERITY"}, extra
    for k, v in {**config, **secret}.items():
        monkeypatch.setenv(k, v)
    Settings(_env_file=None)


def test_kubernetes_command_lines_are_real_cli_commands() -> None:
    from typer.testing import CliRunner

    from surgewatch.cli import app

    config = k8s_one("ConfigMap", "surgewatch-config")["data"]
    seen = set()
    for kind, name in (("Deployment", "surgewatch-worker"), ("Deployment", "surgewatch-alert-forwarder"),
                       ("Job", "surgewatch-setup")):
        [c] = _pod_spec(kind, name)["containers"]
        args = [re.sub(r"\$\((\w+)\)", lambda m: config[m.group(1)], a) for a in c["args"]]
        seen.add(args[0])
        res = CliRunner().invoke(app, [*args, "--help"])
        assert res.exit_code == 0, (name, args, res.output)
    assert seen == {"worker", "alerts", "setup"}
    [fwd] = _pod_spec("Deployment", "surgewatch-alert-forwarder")["containers"]
    assert "--from-beginning" in fwd["args"]
    assert k8s_one("Deployment", "surgewatch-alert-forwarder")["spec"]["strategy"]["type"] == "Recreate"
    rules = yaml.safe_load(k8s_one("ConfigMap", "surgewatch-prometheus-rules")["data"]["surgewatch-expected.yml"])
    [rule] = rules["groups"][0]["rules"]
    assert rule["record"] == "surgewatch:worker_replicas:expected"
    assert 'deployment="surgewatch-worker"' in rule["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_kubernetes_expected_replicas_rule_passes_promtool(tmp_path: Any) -> None:
    f = tmp_path / "expected.yml"
    f.write_text(k8s_one("ConfigMap", "surgewatch-prometheus-rules")["data"]["surgewatch-expected.yml"])
    res = run([str(shutil.which("promtool")), "check", "rules", str(f)])
    assert res.returncode == 0 and "1 rules found" in res.stdout, res.stdout + res.stderr
