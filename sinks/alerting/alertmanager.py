"""Alertmanager alerter: consumes Alertmanager v2 postable alerts, produces POSTs to /api/v2/alerts (with retries)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import aiohttp

from sinks.alerting.http import RetryPolicy, post_with_retry


async def post_alertmanager(session: aiohttp.ClientSession, base_url: str, alerts: Sequence[Dict[str, Any]],
                            retry: Optional[RetryPolicy] = None, timeout: float = 10.0) -> None:
    """POST alerts to Alertmanager's /api/v2/alerts, retrying transient failures with backoff."""
    if not alerts:
        return
    await post_with_retry(session, base_url.rstrip("/") + "/api/v2/alerts", list(alerts), retry, timeout)
