"""Elasticsearch clients: consume Settings (URL, credentials, TLS verification), produce a sync and an async client."""
from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from streams.config import Settings

REQUEST_TIMEOUT_SECONDS = 30


def _options(settings: Settings) -> dict[str, Any]:
    auth = None
    if settings.es_username:
        auth = (settings.es_username, settings.es_password.get_secret_value())
    return {"basic_auth": auth, "verify_certs": settings.es_verify_certs, "request_timeout": REQUEST_TIMEOUT_SECONDS}


def es_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_url, **_options(settings))


def async_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(settings.elasticsearch_url, **_options(settings))
