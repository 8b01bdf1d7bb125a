"""Incidents end to end over the real wire protocols: the bundled stream through a worker gives alerts that all carry
an incident id, Incident revisions on the incidents topic equal to the backtest's, one document per incident in
the incidents index, and one notification per incident for a subscriber (`alerts tail`)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from sinks.elasticsearch import alias, es_client
from streams.config import Settings
from streams.subscribe import incident_keys, tail_alerts, tail_incidents, tail_notifications
from surgewatch.runner import bundled_stream, prepare, start_worker, stop_process, wait_for_pipeline
from tests.integration.test_pipeline import produce, sample_lines, split_valid

pytestmark = pytest.mark.integration


def _identity(rev: Dict[str, Any]) -> tuple:
    return (rev["incident_id"], rev["revision"], rev["change"], rev["severity"], rev["headline_key"],
            tuple(sorted(k["key"] for k in rev["keys"])))


def test_incidents_end_to_end(ns: Settings, tmp_path: Path) -> None:
    prepare(ns, reset=False)
    lines = sample_lines()
    valid_ids, invalid = split_valid(lines)
    worker = start_worker(ns, tmp_path / "worker.log")
    try:
        t0 = time.monotonic()
        produce(ns, lines)
        out = wait_for_pipeline(ns, len(valid_ids) + invalid, 900, t0, worker, quiet_seconds=8)
        assert "error" not in out, (tmp_path / "worker.log").read_text()[-3000:]
        alerts = list(tail_alerts(ns, from_beginning=True, follow=False, idle_ms=3000))
        live = [json.loads(i.dumps()) for i in tail_incidents(ns, from_beginning=True, follow=False, idle_ms=3000)]
        notices = list(tail_notifications(ns, from_beginning=True, follow=False, idle_ms=3000))
    finally:
        stop_process(worker)
    assert alerts and all(a.incident_id for a in alerts)
    assert {a.incident_id for a in alerts} == {r["incident_id"] for r in live}

    # the live revisions are the backtest's, in order (the backtest also ticks past the end of the stream, so it
    # may resolve what is still open live)
    from surgewatch.offline import backtest_archive
    backtest_archive(bundled_stream(), tmp_path / "alerts.jsonl", incidents_path=tmp_path / "incidents.jsonl")
    ref = [json.loads(x) for x in (tmp_path / "incidents.jsonl").read_text().splitlines()]
    assert [_identity(r) for r in live] == [_identity(r) for r in ref[:len(live)]]
    opened = [r["incident_id"] for r in ref if r["change"] == "opened"]
    assert 1 <= len(opened) <= 3 and all(r["change"] in ("resolved", "updated") for r in ref[len(live):])

    # one notification when each incident opens (escalations and resolutions follow the revisions)
    by_incident: Dict[str, List[str]] = {}
    for notice, inc in notices:
        by_incident.setdefault(inc.incident_id, []).append(notice)
    assert set(by_incident) == {r["incident_id"] for r in live}
    assert all(n[0] == "opened" and n.count("opened") == 1 for n in by_incident.values()), by_incident
    founding = [inc for notice, inc in notices if notice == "opened" and inc.first_seen.startswith("2023-11-08")]
    assert founding and any("community:muslims" in incident_keys(i) or "region:ru-da" in incident_keys(i)
                            for i in founding)

    # the incidents index holds each incident's latest revision
    es = es_client(ns)
    es.indices.refresh(index=alias(ns, "incidents"))
    docs = {h["_id"]: h["_source"] for h in es.search(index=alias(ns, "incidents"), size=100)["hits"]["hits"]}
    last = {r["incident_id"]: r for r in live}
    assert set(docs) == set(last)
    assert all(docs[i]["revision"] == r["revision"] and docs[i]["headline_key"] == r["headline_key"]
               for i, r in last.items())
    es.indices.refresh(index=alias(ns, "alerts"))
    hit = es.search(index=alias(ns, "alerts"), size=1, query={"exists": {"field": "incident_id"}})
    assert hit["hits"]["total"]["value"] >= 1
