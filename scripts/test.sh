#!/usr/bin/env bash
# make test: system tools (promtool, prometheus, alertmanager; java + maven for the jvm engine), the jvm engine's
# Maven artifacts (once, cached), then the whole pytest suite. The integration tier runs on real Apache Kafka and
# Elasticsearch (SURGEWATCH_STACK_ENGINE=jvm, started and stopped by tests/integration/conftest.py); the noida
# engine that `make run` uses keeps its smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
export SURGEWATCH_STACK_ENGINE="${SURGEWATCH_STACK_ENGINE:-jvm}"
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
if [ "$SURGEWATCH_STACK_ENGINE" = jvm ]; then
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# the Kubernetes manifests are validated against the API schemas (not a runtime dependency: kept out of the lock)
.venv/bin/python -c "import kubernetes_validate" 2>/dev/null || .venv/bin/pip install --quiet "kubernetes-validate>=1.31"
if [ "$SURGEWATCH_STACK_ENGINE" = jvm ]; then
  start=$(date +%s)
  .venv/bin/surgewatch stack fetch --engine jvm
  echo "jvm engine artifacts ready in $(( $(date +%s) - start )) s"
fi
exec .venv/bin/python -m pytest -ra "$@"
