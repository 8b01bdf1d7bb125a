"""Elasticsearch sink: consumes Settings and documents, produces clients, index templates + aliases (versioned mapping
JSON under mappings/) and idempotent bulk writes, for every stage that writes to Elasticsearch."""
from sinks.elasticsearch.bulk import BulkResult, BulkWriter
from sinks.elasticsearch.client import async_client, es_client
from sinks.elasticsearch.indices import MAPPING_VERSION, alias, delete_indices, ensure_indices, load_template

__all__ = ["BulkResult", "BulkWriter", "MAPPING_VERSION", "alias", "async_client", "delete_indices",
           "ensure_indices", "es_client", "load_template"]
