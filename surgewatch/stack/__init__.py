"""Local stack manager: consumes Settings, produces the servers the product talks to (the engine chosen by
SURGEWATCH_STACK_ENGINE: `noida` or `jvm`), or checks the external servers when SURGEWATCH_KAFKA_BOOTSTRAP /
SURGEWATCH_ES_URL are set."""
from __future__ import annotations

from streams.config import Settings
from surgewatch.stack.base import StackError, StackStatus, es_healthy, es_version, kafka_ready, port_open

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
        es_ok = es_healthy(s.elasticsearch_url)
        versions = {"elasticsearch": v} if es_ok and (v := es_version(s.elasticsearch_url)) else {}
        return StackStatus(managed=False, engine="external", kafka=s.kafka_servers, elasticsearch=s.elasticsearch_url,
                           kafka_ok=kafka_ready(s.kafka_servers), es_ok=es_ok, versions=versions)

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
