"""Index setup: consumes the versioned mapping JSON files (mappings/), produces index templates, indices and aliases
in Elasticsearch."""
from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from streams.config import Settings

from sinks.elasticsearch.client import es_client

log = logging.getLogger(__name__)

MAPPING_VERSION = 1
KINDS = ("news", "alerts", "incidents")


def load_template(kind: str) -> dict[str, Any]:
    """The bundled index template for `news`, `alerts` or `incidents`."""
    text = resources.files("sinks.elasticsearch").joinpath(f"mappings/{kind}-v{MAPPING_VERSION}.json").read_text("utf-8")
    return json.loads(text)


def alias(settings: Settings, kind: str) -> str:
    """The alias every reader and writer uses (e.g. surgewatch-news)."""
    return f"{settings.index_prefix}-{kind}"


def ensure_indices(settings: Settings, es: Elasticsearch | None = None) -> dict[str, str]:
    """Put templates, create the first versioned index behind each alias if missing; return alias → index."""
    es = es or es_client(settings)
    out = {}
    for kind in KINDS:
        body = load_template(kind)
        name = alias(settings, kind)
        pattern = f"{name}-v{MAPPING_VERSION}*"
        es.indices.put_index_template(name=f"{name}-v{MAPPING_VERSION}", index_patterns=[pattern],
                                      template=body["template"], priority=body.get("priority", 200),
                                      version=body.get("version"))
        try:
            current = list(es.indices.get_alias(name=name).keys())
        except NotFoundError:
            current = []
        if current:
            out[name] = current[0]
            add_new_fields(es, current[0], body)
            continue
        index = f"{name}-v{MAPPING_VERSION}-000001"
        if not es.indices.exists(index=index):
            es.indices.create(index=index, aliases={name: {"is_write_index": True}})
        else:
            es.indices.put_alias(index=index, name=name)
        out[name] = index
    return out


def add_new_fields(es: Elasticsearch, index: str, body: dict[str, Any]) -> None:
    """Give an index created by an earlier release the optional fields added to its template since (an additive
    mapping change; the template only applies to indices created after it)."""
    try:
        es.indices.put_mapping(index=index, properties=body["template"]["mappings"]["properties"])
    except Exception as exc:  # noqa: BLE001 - a server without mapping updates keeps the old mapping
        log.warning("could not add new fields to %s: %s", index, exc)


def delete_indices(settings: Settings, es: Elasticsearch | None = None) -> None:
    """Drop the indices and templates of this prefix (demo reset)."""
    es = es or es_client(settings)
    for kind in KINDS:
        name = alias(settings, kind)
        try:
            for index in list(es.indices.get(index=f"{name}-v*").keys()):
                es.indices.delete(index=index)
        except NotFoundError:
            pass
