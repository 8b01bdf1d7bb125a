"""Local stack manager: consumes Settings, produces the servers the product talks to (the engine chosen by
SURGEWATCH_STACK_ENGINE: `noida` or `jvm`), or checks the external servers when SURGEWATCH_KAFKA_BOOTSTRAP /
SURGEWATCH_ES_URL are set."""
from __future__ import annotations

from streams import kafka_clients
from streams.config import Settings
from surgewatch.stack.base import StackError, StackStatus, kafka_ready, port_open

__all__ = ["LocalStack", "StackError", "StackStatus", "engine_for", "port_open"]


def engine_for(settings: Settings):  # noqa: ANN201 - NoidaEngine | JvmEngine
    if settings.stack_engine == "jvm":
        from surgewatch.stack.jvm import JvmEngine
        return JvmEngine(settings)
    from surgewatch.stack.noida import NoidaEngine
    return NoidaEngine(settings)


class LocalStack:
    """The configured engine under settings.stack_dir; only checks reachability when external servers are set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = engine_for(settings)

    def _external(self) -> StackStatus:
        s = self.settings
        version = _es_version(s)
        return StackStatus(managed=False, engine="external", kafka=s.kafka_servers,
                           elasticsearch=s.elasticsearch_url_shown,
                           kafka_ok=kafka_ready(s.kafka_servers, options=kafka_clients.kafka_python(s)),
                           es_ok=version is not None, versions={"elasticsearch": version} if version else {})

    def status(self) -> StackStatus:
        return self.engine.status() if self.settings.uses_local_stack else self._external()

    def up(self) -> StackStatus:
        if not self.settings.uses_local_stack:
            st = self._external()
            if not st.healthy:
                raise StackError(f"external servers not reachable: kafka {st.kafka} ok={st.kafka_ok}, "
                                 f"elasticsearch {st.elasticsearch} ok={st.es_ok}; check SURGEWATCH_KAFKA_BOOTSTRAP / "
                                 "SURGEWATCH_ES_URL")
            return st
        return self.engine.up()

    def down(self) -> None:
        if self.settings.uses_local_stack:
            self.engine.down()


def _es_version(settings: Settings) -> str | None:
    """The version of an external Elasticsearch asked with the product's own credentials (API key, user, CA bundle);
    None when it cannot be reached or refuses them."""
    from sinks.elasticsearch import es_client
    try:
        es = es_client(settings)
        if es.cluster.health()["status"] not in ("yellow", "green"):
            return None
        nodes = es.nodes.info(node_id="_local")["nodes"].values()
        return next((str(n["version"]) for n in nodes if n.get("version")), "")
    except Exception:  # noqa: BLE001 - any failure means not reachable with these settings
        return None
