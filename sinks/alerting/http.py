"""HTTP delivery shared by the alerters: consumes a URL and a JSON body, produces one POST with retries (exponential
backoff with jitter); a 4xx other than 408/429 is a permanent rejection (ValueError), the rest DeliveryError."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from tenacity import (AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_exponential,
                      wait_random)


def shown(url: str) -> str:
    """A receiver URL as it may appear in logs and errors: scheme, host and port only (webhook paths, queries and
    user info often carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class DeliveryError(RuntimeError):
    """A receiver answered with an error status or could not be reached."""


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and total time."""

    attempts: int = 8
    max_seconds: float = 120.0
    initial: float = 0.5
    maximum: float = 15.0

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_seconds),
            wait=wait_exponential(multiplier=self.initial, max=self.maximum) + wait_random(0, self.initial),
            retry=retry_if_exception_type((DeliveryError, aiohttp.ClientError, asyncio.TimeoutError)),
            reraise=True,
        )


async def post_json(session: aiohttp.ClientSession, url: str, body: Any, timeout: float) -> None:
    async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        if resp.status >= 300:
            text = (await resp.text())[:300]
            if 400 <= resp.status < 500 and resp.status not in (408, 429):
                # the receiver rejected this payload: retrying cannot help
                raise ValueError(f"{shown(url)} rejected the payload: HTTP {resp.status}: {text}")
            raise DeliveryError(f"{shown(url)} answered HTTP {resp.status}: {text}")


async def post_with_retry(session: aiohttp.ClientSession, url: str, body: Any, retry: RetryPolicy | None,
                          timeout: float) -> None:
    """POST with retries; when they are exhausted the last failure is raised as a DeliveryError, whether the receiver
    answered an error status, refused the connection or timed out."""
    try:
        async for attempt in (retry or RetryPolicy()).retrying():
            with attempt:
                await post_json(session, url, body, timeout)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise DeliveryError(f"{shown(url)} unreachable: {exc.__class__.__name__}: {exc}") from exc
