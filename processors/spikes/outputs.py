"""Alert outputs: consumes Alerts stamped with their incident and Incident revisions, produces them on the alerts and
incidents topics and in the alerts and incidents indices (a document Elasticsearch rejects is dead-lettered)."""
from __future__ import annotations

from typing import Any, List

from sinks.elasticsearch import BulkWriter, alias, async_client
from streams import topics
from streams.codec import encode
from streams.deadletter import send_dead_letter
from streams.records import Alert, Incident
from streams.stage import StageContext

from processors.spikes.documents import alert_doc_id, alert_document, incident_doc_id, incident_document


class AlertOutputs:
    """Where the detector's (or the incident grouper's) alerts and incidents go; `stage` names it in dead letters."""

    def __init__(self, ctx: StageContext, stage: str) -> None:
        self.ctx, self.metrics, self.stage = ctx, ctx.metrics, stage
        self.alerts_alias = alias(ctx.settings, "alerts")
        self.incidents_alias = alias(ctx.settings, "incidents")
        self.incidents_topic = ctx.incidents if ctx.incidents is not None else ctx.app.topic(
            topics.name(ctx.settings, topics.INCIDENTS), key_serializer="raw", value_serializer="raw", partitions=1)
        self._writer: BulkWriter | None = None

    def writer(self) -> BulkWriter:
        if self._writer is None:
            self._writer = BulkWriter(async_client(self.ctx.settings), self.metrics, max_retries=None,
                                      label=self.alerts_alias)
        return self._writer

    async def emit(self, alerts: List[Alert], event: Any) -> None:
        """Alerts to the alerts topic and the alerts index."""
        for alert in alerts:
            await self.ctx.alerts.send(key=alert.key.encode("utf-8"), value=encode(alert))
            self.metrics.alerts.labels(state=alert.state, severity=alert.severity).inc()
        by_id = {alert_doc_id(a): a for a in alerts}
        result = await self.writer().write(self.alerts_alias, [(i, alert_document(a)) for i, a in by_id.items()])
        for doc_id, err in result.failed.items():
            await send_dead_letter(self.ctx.deadletter, self.metrics, self.stage, "es_rejected", err,
                                   encode(by_id[doc_id]), event)

    async def emit_incidents(self, incidents: List[Incident], event: Any) -> None:
        """Incident revisions to the incidents topic (keyed by incident) and the incidents index (latest revision)."""
        for inc in incidents:
            await self.incidents_topic.send(key=inc.incident_id.encode("utf-8"), value=encode(inc))
        latest = {incident_doc_id(i): i for i in incidents}
        result = await self.writer().write(self.incidents_alias,
                                           [(i, incident_document(r)) for i, r in latest.items()])
        for doc_id, err in result.failed.items():
            await send_dead_letter(self.ctx.deadletter, self.metrics, self.stage, "es_rejected", err,
                                   encode(latest[doc_id]), event)
