#!/bin/sh
# Prometheus entrypoint: consumes SURGEWATCH_WORKER_REPLICAS (how many workers should be up), produces the
# recording rule surgewatch:worker_replicas:expected in $SURGEWATCH_GENERATED_RULES, then runs Prometheus with
# the given arguments. SurgewatchWorkersMissing compares the up workers with it: a stopped replica vanishes
# from DNS service discovery, so `up == 0` alone never sees it.
set -eu
replicas="${SURGEWATCH_WORKER_REPLICAS:-1}"
case "$replicas" in
  ''|*[!0-9]*) echo "error: SURGEWATCH_WORKER_REPLICAS must be a whole number, got '$replicas'" >&2; exit 64 ;;
esac
out="${SURGEWATCH_GENERATED_RULES:-/prometheus/generated/replicas.yml}"
mkdir -p "$(dirname "$out")"
cat > "$out" <<RULES
# generated at start by deploy/prometheus/bin/entrypoint.sh from SURGEWATCH_WORKER_REPLICAS=$replicas
groups:
  - name: surgewatch-expected
    rules:
      - record: surgewatch:worker_replicas:expected
        expr: vector($replicas)
RULES
exec "${PROMETHEUS_BIN:-/bin/prometheus}" "$@"
