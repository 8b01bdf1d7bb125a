"""Deployment bootstrap: consumes the compose environment, produces the kibana_system password (es-security), the
Kibana saved objects for SURGEWATCH_INDEX_PREFIX imported through Kibana's API (kibana-import) and the
Alertmanager config with the receivers .env names (alertmanager-config). Run by the compose one-shot jobs."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import requests
import yaml

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DEFAULT_SAVED_OBJECTS = HERE.parent / "kibana" / "saved_objects.ndjson"
DEFAULT_ALERTMANAGER = HERE.parent / "alertmanager" / "alertmanager.yml"
KIBANA_MIN_KEY_LENGTH = 32   # Kibana refuses shorter xpack.*.encryptionKey values at start
# the shipped data views (ids and index patterns written for the default prefix "surgewatch")
DATA_VIEWS = {"surgewatch-news-dv": "news", "surgewatch-alerts-dv": "alerts", "surgewatch-incidents-dv": "incidents"}


def _auth() -> Optional[Tuple[str, str]]:
    user = os.environ.get("SURGEWATCH_ES_USERNAME", "")
    password = os.environ.get("SURGEWATCH_ES_PASSWORD", "")
    return (user, password) if user else None


def wait_for(what: str, probe: Callable[[], bool], timeout: float) -> None:
    """Poll probe() every 3 s until it returns True; exit non-zero after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                logger.info("%s is ready", what)
                return
        except requests.RequestException as exc:
            logger.info("waiting for %s: %s", what, exc.__class__.__name__)
        if time.monotonic() > deadline:
            sys.exit(f"{what} not ready after {timeout:.0f}s")
        time.sleep(3)


def check_encryption_key(key: Optional[str]) -> None:
    """Exit with a clear message when Kibana's encryption key is set but too short (Kibana would restart in a loop)."""
    if key is not None and len(key) < KIBANA_MIN_KEY_LENGTH:
        sys.exit(f"KIBANA_ENCRYPTION_KEY has {len(key)} characters; Kibana needs at least {KIBANA_MIN_KEY_LENGTH} "
                 "(e.g. `openssl rand -hex 32`)")


def es_security(es_url: str, kibana_password: str, timeout: float, encryption_key: Optional[str] = None) -> None:
    """With Elasticsearch security on: check Kibana's encryption key, then set the built-in kibana_system user's
    password (idempotent)."""
    check_encryption_key(encryption_key)
    auth = _auth()
    if not auth or not kibana_password:
        logger.info("security off (no SURGEWATCH_ES_USERNAME / KIBANA_SYSTEM_PASSWORD): nothing to do")
        return
    wait_for("elasticsearch", lambda: requests.get(f"{es_url}/_cluster/health", auth=auth, timeout=5).ok, timeout)
    resp = requests.post(f"{es_url}/_security/user/kibana_system/_password", auth=auth, timeout=30,
                         json={"password": kibana_password})
    if not resp.ok:
        sys.exit(f"setting the kibana_system password failed: HTTP {resp.status_code} {resp.text[:300]}")
    logger.info("kibana_system password set")


def _rewrite(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_rewrite(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, old, new) for k, v in value.items()}
    return value


def render_saved_objects(text: str, index_prefix: str) -> str:
    """The shipped saved objects for another index prefix: each data view's index pattern becomes
    "<prefix>-news*" / "<prefix>-alerts*", and so does its id (the id alert links open in Discover), in every
    object that references it."""
    out: List[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        for old_id, kind in DATA_VIEWS.items():
            pattern = f"{index_prefix}-{kind}*"
            if obj.get("type") == "index-pattern" and obj.get("id") == old_id:
                obj["attributes"]["title"] = pattern
            obj = _rewrite(obj, old_id, pattern)
        out.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(out) + "\n"


def kibana_available(body: Mapping[str, Any]) -> bool:
    """True when Kibana's GET /api/status reports the overall level "available" (not a single plugin)."""
    return body.get("status", {}).get("overall", {}).get("level") == "available"


def kibana_import(kibana_url: str, path: Path, timeout: float, index_prefix: str = "surgewatch") -> None:
    """Import (overwrite) the saved objects, rendered for index_prefix, through POST /api/saved_objects/_import."""
    auth = _auth()

    def available() -> bool:
        resp = requests.get(f"{kibana_url}/api/status", auth=auth, timeout=5)
        return resp.ok and kibana_available(resp.json())

    wait_for("kibana", available, timeout)
    body_text = render_saved_objects(path.read_text(encoding="utf-8"), index_prefix)
    resp = requests.post(f"{kibana_url}/api/saved_objects/_import", params={"overwrite": "true"},
                         headers={"kbn-xsrf": "true"}, auth=auth, timeout=60,
                         files={"file": (path.name, body_text.encode("utf-8"), "application/ndjson")})
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if not resp.ok or not body.get("success", False):
        sys.exit(f"Kibana import failed: HTTP {resp.status_code} {str(body or resp.text)[:1000]}")
    logger.info("imported %s saved objects into Kibana", body.get("successCount"))


def alertmanager_config(base: Path, out: Path) -> None:
    """Write the Alertmanager config with the receivers the ALERT_* variables configure."""
    from receivers import ReceiverConfigError, configured_channels, render

    try:
        cfg = render(yaml.safe_load(base.read_text(encoding="utf-8")), os.environ)
    except ReceiverConfigError as exc:
        sys.exit(f"alertmanager config: {exc}")
    channels = configured_channels(cfg)
    if not channels:
        logger.warning("no ALERT_WEBHOOK_URL / ALERT_SLACK_WEBHOOK_URL / ALERT_EMAIL_TO set: alerts show in "
                       "Alertmanager's UI only")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# generated by deploy/setup/bootstrap.py alertmanager-config from " + base.name + "\n"
                   + yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    logger.info("alertmanager config written to %s (%s)", out, ", ".join(channels) or "no receivers")


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sec = sub.add_parser("es-security", help="set the kibana_system password when security is on")
    sec.add_argument("--es-url", default=env("SURGEWATCH_ES_URL") or "http://elasticsearch:9200")
    sec.add_argument("--kibana-password", default=env("KIBANA_SYSTEM_PASSWORD", ""))
    sec.add_argument("--timeout", type=float, default=300)
    imp = sub.add_parser("kibana-import", help="import deploy/kibana/saved_objects.ndjson")
    imp.add_argument("--kibana-url", default=env("KIBANA_INTERNAL_URL", "http://kibana:5601"))
    imp.add_argument("--file", type=Path, default=DEFAULT_SAVED_OBJECTS)
    imp.add_argument("--index-prefix", default=env("SURGEWATCH_INDEX_PREFIX") or "surgewatch")
    imp.add_argument("--timeout", type=float, default=300)
    am = sub.add_parser("alertmanager-config", help="write alertmanager.yml with the ALERT_* receivers")
    am.add_argument("--base", type=Path, default=DEFAULT_ALERTMANAGER)
    am.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Optional[list[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    if args.cmd == "es-security":
        es_security(args.es_url.rstrip("/"), args.kibana_password, args.timeout,
                    os.environ.get("KIBANA_ENCRYPTION_KEY"))
    elif args.cmd == "kibana-import":
        kibana_import(args.kibana_url.rstrip("/"), args.file, args.timeout, args.index_prefix)
    else:
        alertmanager_config(args.base, args.out)


if __name__ == "__main__":
    main()
