"""Kibana links: consumes article ids and a time window, produces a Discover URL showing exactly those articles."""
from __future__ import annotations

import logging
from typing import Sequence
from urllib.parse import quote

import prison

logger = logging.getLogger(__name__)


def _kql_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def discover_url(kibana_url: str, data_view: str, ids: Sequence[str], window_start: str, window_end: str,
                 id_field: str = "id", time_field_hint: str = "published_at") -> str:
    """Discover URL: a KQL query `id:("a" or "b" …)` over [window_start, window_end] in the given data view.

    `data_view` is the Kibana data view id (the shipped saved objects use the index pattern name as id,
    e.g. "surgewatch-news*"). Times are ISO 8601 strings; rison-encoded app/global state as Kibana expects."""
    query = f"{id_field}:(" + " or ".join(_kql_quote(i) for i in ids) + ")" if ids else ""
    g = {"time": {"from": window_start, "to": window_end}, "filters": [], "refreshInterval": {"pause": True, "value": 0}}
    a = {"dataSource": {"dataViewId": data_view, "type": "dataView"}, "index": data_view,
         "query": {"language": "kuery", "query": query},
         "sort": [[time_field_hint, "desc"]]}
    base = kibana_url.rstrip("/")
    g_s = quote(prison.dumps(g), safe="!'(),:*-._~")
    a_s = quote(prison.dumps(a), safe="!'(),:*-._~")
    return f"{base}/app/discover#/?_g={g_s}&_a={a_s}"
