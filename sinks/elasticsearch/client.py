"""Elasticsearch clients: consume Settings (URL, API key or user/password, CA bundle, TLS verification), produce a sync
and an async client."""
from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from streams.config import Settings

REQUEST_TIMEOUT_SECONDS = 30


def _options(settings: Settings) -> dict[str, Any]:
    """Connection options: an API key wins over user/password; credentials written into the URL still work (the
    client reads them) but are never logged by the product (see streams.redact)."""
    opts: dict[str, Any] = {"verify_certs": settings.es_verify_certs, "request_timeout": REQUEST_TIMEOUT_SECONDS}
    if settings.es_api_key.get_secret_value():
        opts["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username:
        opts["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs:
        opts["ca_certs"] = settings.es_ca_certs
    return opts


def es_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_url, **_options(settings))


def async_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(settings.elasticsearch_url, **_options(settings))
