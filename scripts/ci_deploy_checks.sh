#!/usr/bin/env bash
# Deployment checks without Docker: promtool (config, rules, rule unit tests), amtool (Alertmanager config),
# Docker Compose `config` (the docker CLI plugin, or Debian's docker-compose package). Exits non-zero on the
# first failure; a missing tool is an error under CI=true and a warning otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

missing() {
  if [ "${CI:-}" = "true" ]; then echo "error: $1 is not installed ($2)" >&2; exit 1; fi
  echo "warning: $1 is not installed ($2); skipped" >&2
}

if command -v promtool >/dev/null; then
  (cd deploy/prometheus && promtool check config prometheus.yml prometheus-local.yml)
  promtool check rules deploy/prometheus/rules/*.yml
  promtool test rules deploy/prometheus/tests/*.yml
  # the rule Prometheus' entrypoint generates from SURGEWATCH_WORKER_REPLICAS
  gen="$(mktemp -d)"
  SURGEWATCH_WORKER_REPLICAS=3 SURGEWATCH_GENERATED_RULES="$gen/replicas.yml" PROMETHEUS_BIN=true \
    sh deploy/prometheus/bin/entrypoint.sh
  promtool check rules "$gen/replicas.yml"
  rm -rf "$gen"
else
  missing promtool "apt-get install prometheus"
fi

if command -v amtool >/dev/null; then
  amtool check-config deploy/alertmanager/alertmanager.yml
  # with every receiver kind configured, as the alertmanager-config job writes it
  am="$(mktemp -d)"
  ALERT_WEBHOOK_URL='https://hooks.example.org/{receiver}' ALERT_SLACK_WEBHOOK_URL=https://hooks.slack.com/services/x \
  ALERT_EMAIL_TO=a@example.org ALERT_SMTP_SMARTHOST=smtp.example.org:587 ALERT_SMTP_FROM=sw@example.org \
    .venv/bin/python deploy/setup/bootstrap.py alertmanager-config --out "$am/alertmanager.yml"
  amtool check-config "$am/alertmanager.yml"
  rm -rf "$am"
else
  missing amtool "apt-get install prometheus-alertmanager"
fi

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif docker-compose version >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  COMPOSE=()
fi
if [ "${#COMPOSE[@]}" -gt 0 ]; then
  GRAFANA_ADMIN_PASSWORD=x "${COMPOSE[@]}" -f docker-compose.yml --profile replay --profile feeds config -q
  GRAFANA_ADMIN_PASSWORD=x ELASTIC_PASSWORD=x KIBANA_SYSTEM_PASSWORD=y KIBANA_ENCRYPTION_KEY=0123456789abcdef0123456789abcdef SURGEWATCH_ES_PASSWORD=x \
    "${COMPOSE[@]}" -f docker-compose.yml -f deploy/compose.security.yml config -q
  echo "docker compose config: OK"
else
  missing "docker compose" "apt-get install docker-compose"
fi
if command -v kubectl >/dev/null; then
  k8s="$(mktemp)"
  kubectl kustomize deploy/kubernetes > "$k8s"
  if .venv/bin/python -c "import kubernetes_validate" 2>/dev/null; then
    .venv/bin/kubernetes-validate --strict --quiet -k 1.32.0 "$k8s"
  else
    missing kubernetes-validate ".venv/bin/pip install kubernetes-validate"
  fi
  rm -f "$k8s"
  echo "kubernetes manifests: OK"
else
  missing kubectl "apt-get install kubectl (kustomize is built in)"
fi
echo "deploy checks: OK"
