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
else
  missing promtool "apt-get install prometheus"
fi

if command -v amtool >/dev/null; then
  amtool check-config deploy/alertmanager/alertmanager.yml
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
  "${COMPOSE[@]}" -f docker-compose.yml --profile replay --profile feeds config -q
  ELASTIC_PASSWORD=x KIBANA_SYSTEM_PASSWORD=y KIBANA_ENCRYPTION_KEY=0123456789abcdef0123456789abcdef SURGEWATCH_ES_PASSWORD=x \
    "${COMPOSE[@]}" -f docker-compose.yml -f deploy/compose.security.yml config -q
  echo "docker compose config: OK"
else
  missing "docker compose" "apt-get install docker-compose"
fi
echo "deploy checks: OK"
