"""Webhook alerter: consumes one alert's JSON body, produces a POST to a generic webhook (with retries)."""
from __future__ import annotations

from typing import Any, Dict, Optional

import aiohttp

from sinks.alerting.http import RetryPolicy, post_with_retry


async def post_webhook(session: aiohttp.ClientSession, url: str, payload: Dict[str, Any],
                       retry: Optional[RetryPolicy] = None, timeout: float = 10.0) -> None:
    """POST one alert as JSON to a generic webhook, retrying transient failures with backoff."""
    await post_with_retry(session, url, payload, retry, timeout)
