"""Deployment bootstrap: consumes the compose environment, produces the kibana_system password (es-security)
and the Kibana saved objects imported through Kibana's API (kibana-import). Run by the compose one-shot jobs."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Tuple

import requests

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DEFAULT_SAVED_OBJECTS = HERE.parent / "kibana" / "saved_objects.ndjson"


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


def es_security(es_url: str, kibana_password: str, timeout: float) -> None:
    """With Elasticsearch security on: set the built-in kibana_system user's password (idempotent)."""
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


def kibana_import(kibana_url: str, path: Path, timeout: float) -> None:
    """Import (overwrite) the saved objects NDJSON through POST /api/saved_objects/_import."""
    auth = _auth()

    def available() -> bool:
        resp = requests.get(f"{kibana_url}/api/status", auth=auth, timeout=5)
        return resp.ok and resp.json().get("status", {}).get("overall", {}).get("level") == "available"

    wait_for("kibana", available, timeout)
    with path.open("rb") as fh:
        resp = requests.post(f"{kibana_url}/api/saved_objects/_import", params={"overwrite": "true"},
                             headers={"kbn-xsrf": "true"}, auth=auth, timeout=60,
                             files={"file": (path.name, fh, "application/ndjson")})
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if not resp.ok or not body.get("success", False):
        sys.exit(f"Kibana import failed: HTTP {resp.status_code} {str(body or resp.text)[:1000]}")
    logger.info("imported %s saved objects into Kibana", body.get("successCount"))


def main(argv: Optional[list[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sec = sub.add_parser("es-security", help="set the kibana_system password when security is on")
    sec.add_argument("--es-url", default=os.environ.get("SURGEWATCH_ES_URL", "http://elasticsearch:9200"))
    sec.add_argument("--kibana-password", default=os.environ.get("KIBANA_SYSTEM_PASSWORD", ""))
    sec.add_argument("--timeout", type=float, default=300)
    imp = sub.add_parser("kibana-import", help="import deploy/kibana/saved_objects.ndjson")
    imp.add_argument("--kibana-url", default=os.environ.get("KIBANA_INTERNAL_URL", "http://kibana:5601"))
    imp.add_argument("--file", type=Path, default=DEFAULT_SAVED_OBJECTS)
    imp.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    if args.cmd == "es-security":
        es_security(args.es_url.rstrip("/"), args.kibana_password, args.timeout)
    else:
        kibana_import(args.kibana_url.rstrip("/"), args.file, args.timeout)


if __name__ == "__main__":
    main()
